"""Scheduled work runs once across hosts: every host may carry the same timer, and the second one to start
while the first is still at it does nothing (a PostgreSQL advisory lock; SQLite is one host)."""

from __future__ import annotations

import pytest

from shared.platform.once import lock_key, run_once


def test_the_lock_key_is_stable_and_fits_a_bigint():
    assert lock_key("retention run") == lock_key("retention run") != lock_key("keys rotate")
    assert 0 <= lock_key("retention run") < 2**63


def test_a_scheduled_command_started_while_another_host_runs_it_does_nothing(app, db):
    if db.engine.dialect.name != "postgresql":
        with run_once("retention run") as mine:
            assert mine  # one host: nothing to wait for
        pytest.skip("the lock across hosts is PostgreSQL's advisory lock")
    with run_once("retention run") as first:
        assert first
        with run_once("retention run") as second:  # its own connection: as another host would
            assert not second
        result = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
        assert result.exit_code == 0 and "another process is running it now" in result.output
        assert "Retention period" not in result.output
    result = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert result.exit_code == 0 and "Retention period" in result.output  # released when the first ended

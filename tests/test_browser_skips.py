"""A run that leaves the browser tests out says so at its end, with the command that installs the browser;
with REQUIRE_BROWSER=1 (.ci/run) a skipped browser test fails the run (tests/plugin.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOURNEYS = '''
import pytest

@pytest.mark.browser
def test_a_journey():
    pytest.skip("no chromium on PATH")

@pytest.mark.browser
def test_another_journey():
    pytest.skip("no chromium on PATH")

def test_not_a_browser_test():
    pass
'''


def _run(tmp_path, **env) -> subprocess.CompletedProcess:
    (tmp_path / "test_journeys.py").write_text(JOURNEYS)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.plugin", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), str(tmp_path / "test_journeys.py")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, capture_output=True, text=True, timeout=120,
        check=False,
    )


def test_skipped_browser_tests_are_named_after_the_closing_line_with_the_install_command(tmp_path):
    done = _run(tmp_path, REQUIRE_BROWSER="")
    assert done.returncode == 0, done.stdout
    lines = done.stdout.strip().splitlines()
    closing = next(i for i, line in enumerate(lines) if "1 passed, 2 skipped" in line)
    after = "\n".join(lines[closing + 1:])
    assert "test_journeys.py: test_a_journey, test_another_journey" in after
    assert lines[-1].startswith("2 browser tests did not run: no chromium on PATH.")
    assert "`apt-get install -y chromium`" in lines[-1] and "make test" in lines[-1]


def test_with_require_browser_a_skipped_browser_test_fails_the_run(tmp_path):
    done = _run(tmp_path, REQUIRE_BROWSER="1")
    assert done.returncode == 1, done.stdout
    assert "2 failed, 1 passed" in done.stdout
    assert "REQUIRE_BROWSER=1, and this browser test was skipped: no chromium on PATH" in done.stdout
    assert "`apt-get install -y chromium`" in done.stdout.strip().splitlines()[-1]

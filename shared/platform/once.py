"""Scheduled work that must run once across hosts, not once per host: each host may carry the same timer
(retention, key rotation, deleting expired copies), and whichever starts first does the work while the
others see it taken and stop. On PostgreSQL the guard is a session advisory lock on a connection of its own,
released when the work ends or the process dies; SQLite is one host, so there is nothing to guard."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from shared.platform.extensions import db


def lock_key(name: str) -> int:
    """A stable 63-bit key for `name` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(f"advice:{name}".encode()).digest()[:8], "big") >> 1


@contextmanager
def run_once(name: str) -> Iterator[bool]:
    """`with run_once("retention") as mine:` — `mine` is False when another process holds it (do nothing)."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    with db.engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()

"""Which SQLite transactions take the write lock at BEGIN.

Web requests and background jobs almost always write (an audit event at least) after reading. Under WAL, a
deferred transaction whose snapshot went stale while it read cannot upgrade to a writer: SQLite answers
"database is locked" at once instead of waiting. So those take the lock at BEGIN (`BEGIN IMMEDIATE`) and
queue behind each other; commands and tests keep plain BEGIN, so a reader never holds the lock.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from flask import has_request_context

_local = threading.local()


@contextmanager
def writer_thread():
    """Mark the current thread (a background job) as one whose transactions write."""
    previous = getattr(_local, "writer", False)
    _local.writer = True
    try:
        yield
    finally:
        _local.writer = previous


def begin_immediately() -> bool:
    return has_request_context() or getattr(_local, "writer", False)

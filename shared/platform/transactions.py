"""When a SQLite transaction takes the write lock.

SQLite has one writer at a time. Under WAL, a deferred transaction whose snapshot went stale while it read
cannot upgrade to a writer: SQLite answers "database is locked" at once instead of waiting. So:

- a form submission (POST and the other unsafe methods) and a background job take the lock at BEGIN
  (`BEGIN IMMEDIATE`): what they read and what they write are one consistent transaction, and two of them
  queue instead of one failing half-way;
- a page view (GET, HEAD) reads in autocommit, without the lock, beside any number of other readers: each
  statement is its own short read transaction, so no snapshot can go stale and nothing is left to end. Its
  writes are bookkeeping (the audit event of the view, the session's last-seen time) that never depend
  on what the page read, so just before its first write it sends `BEGIN IMMEDIATE`: the lock is held from
  that write to the commit, not for the whole request, and signed-in pages do not queue behind each
  other while they render;
- commands and tests keep a plain BEGIN.

PostgreSQL needs no write lock (row locks, MVCC), but each BEGIN and ROLLBACK is a round trip to the
server, and a page view's reads gain nothing from a transaction: under READ COMMITTED every statement
takes its own snapshot anyway. So there too a page view reads in autocommit (one round trip a statement,
nothing to end), and at its first write the connection leaves autocommit: the writes, and whatever follows
them until the commit, are one transaction as everywhere else. Everything else begins as usual.

On both, then, a page view's reads see what was committed when each statement ran, as PostgreSQL's READ
COMMITTED always does; every page's writes are still one transaction.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from flask import has_request_context, request

_local = threading.local()
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# SAVEPOINT counts as a write: the lock must be taken before a nested transaction exists, as the swap
# below (COMMIT, BEGIN IMMEDIATE) would end it.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT")
_READING = "page_view_reading"  # connection.info key: this page view has only read, in autocommit


@contextmanager
def writer_thread():
    """Mark the current thread (a background job) as one whose transactions write."""
    previous = getattr(_local, "writer", False)
    _local.writer = True
    try:
        yield
    finally:
        _local.writer = previous


def _page_view() -> bool:
    return has_request_context() and request.method in _READ_ONLY_METHODS


def begin_immediately() -> bool:
    if getattr(_local, "writer", False):
        return True
    return has_request_context() and not _page_view()


def on_begin(conn) -> None:
    """Engine 'begin' hook: none for a page view's reads (above); otherwise SQLite's BEGIN, immediate for writers."""
    if conn.dialect.name == "postgresql":
        _postgresql_begin(conn)
        return
    if conn.dialect.name != "sqlite":
        return
    immediate = begin_immediately()
    reading = not immediate and _page_view()
    conn.info[_READING] = reading
    if not reading:  # (pysqlite's commit and rollback do nothing outside a transaction)
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgresql_begin(conn) -> None:
    # The connection is idle here (its last transaction has ended), so autocommit may change.
    reading = _page_view()
    dbapi_connection = conn.connection.dbapi_connection
    if conn.info.get(_READING):  # autocommit is still on from an earlier page view
        if not reading:
            dbapi_connection.autocommit = False
    elif reading:
        if dbapi_connection.autocommit:
            return  # the caller chose AUTOCOMMIT itself: leave it to them
        dbapi_connection.autocommit = True
    conn.info[_READING] = reading


def _is_write(statement: str) -> bool:
    head = statement[:12].lstrip().upper()
    if head.startswith("SELECT"):
        return False
    if head.startswith(_WRITES):
        return True
    return head.startswith("WITH") and any(w in statement.upper() for w in _WRITES[:4])


def before_execute(conn, cursor, statement, _parameters, context, _executemany) -> None:
    """Engine 'before_cursor_execute' hook: a page view's first write takes the lock, or on PostgreSQL
    opens the transaction (see above), as does a read through a server-side cursor (a streamed export),
    which PostgreSQL only keeps inside a transaction."""
    if not conn.info.get(_READING):
        return
    if conn.dialect.name == "sqlite":
        if _is_write(statement):
            cursor.execute("BEGIN IMMEDIATE")
            conn.info[_READING] = False
    elif _is_write(statement) or (context is not None and context.execution_options.get("stream_results")):
        conn.connection.dbapi_connection.autocommit = False  # psycopg sends BEGIN before this statement
        conn.info[_READING] = False


def commit_bookkeeping(session) -> None:
    """Commit a transaction that only appended bookkeeping (the audit event of a view, a session's last-seen
    time) without expiring what the request has loaded: none of it changed, so reloading it row by row after
    the commit (the signed-in account first of all) would only cost queries."""
    session.expire_on_commit = False
    session.info["bookkeeping"] = True  # not the request's work: a submission key waits for that (web.submissions)
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
        session.info["bookkeeping"] = False

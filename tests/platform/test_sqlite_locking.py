"""SQLite's one write lock: page views read beside each other and hold the lock only from their first
write (the audit event of the view) to its commit; form submissions hold it for the whole request.
PostgreSQL has row locks and MVCC, so these tests are SQLite's alone."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from shared.models import AuditEvent
from shared.platform.extensions import db as _db
from tests.support.web import listening


@pytest.fixture
def sqlite_path(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's write lock: PostgreSQL locks rows")
    return url.split(":///", 1)[1]


@pytest.fixture
def other_writer(sqlite_path):
    """Another process's connection to the same database file."""
    conn = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0.2)
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


def _audit_count(app) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count(AuditEvent.id)))


def test_a_page_that_only_reads_is_served_while_another_process_holds_the_write_lock(
        student_browser, other_writer):
    other_writer.execute("BEGIN IMMEDIATE")
    response = student_browser.get("/home")
    assert response.status_code == 200 and "Sign out" in response.get_data(as_text=True)


def test_a_page_view_is_audited_even_when_another_process_wrote_while_the_page_was_reading(
        app, student_browser, other_writer):
    """The stale snapshot: a transaction that has read cannot take the write lock once another process has
    committed since; SQLite refuses at once ("database is locked"). The page view ends its read first, so
    the student still gets their cases, and the view is on record."""
    wrote = []

    def commit_elsewhere(_conn, _cursor, statement, *_args):
        if "FROM login_sessions" in statement and not wrote:  # the page has begun reading
            other_writer.execute("UPDATE audit_head SET seq = seq WHERE id = 1")
            wrote.append(True)

    before = _audit_count(app)
    with app.app_context():
        engine = _db.engine
    with listening(engine, "after_cursor_execute", commit_elsewhere):
        response = student_browser.get("/cases")
    assert wrote, "the page never read its session"
    assert response.status_code == 200
    assert _audit_count(app) == before + 1


def test_a_page_that_only_reads_holds_no_transaction(app, student_browser, sqlite_path):
    """Each read is its own short transaction: nothing is held open while the page renders, and nothing
    is left to roll back at its end."""
    seen = []

    def in_transaction(_conn, cursor, statement, *_args):
        seen.append((statement.split()[0], cursor.connection.in_transaction))

    student_browser.get("/home")
    with app.app_context():
        engine = _db.engine
    with listening(engine, "after_cursor_execute", in_transaction):
        response = student_browser.get("/home")
    assert response.status_code == 200 and "Sign out" in response.get_data(as_text=True)
    assert seen and all(not held for _statement, held in seen), seen


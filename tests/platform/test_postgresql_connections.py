"""PostgreSQL: page views read without a transaction (each statement has its own snapshot under READ
COMMITTED anyway), their writes are still one transaction, and a pooled connection the server has closed
is replaced before a page uses it. SQLite's side of the same rules is in test_sqlite_locking.py."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, func, select, text

from shared.models import AuditEvent
from shared.platform.extensions import db as _db


@pytest.fixture
def engine(app):
    with app.app_context():
        if _db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's connections and transactions")
        return _db.engine


@pytest.fixture
def round_trips(engine, monkeypatch):
    """The commands the driver sends besides statements (BEGIN, COMMIT, ROLLBACK), as the server sees them."""
    import psycopg

    sent = []
    original = psycopg.Connection._exec_command

    def spy(self, command, *args, **kwargs):
        sent.append(command.decode() if isinstance(command, bytes) else str(command))
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "_exec_command", spy)
    return sent


def _audit_count(app) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count(AuditEvent.id)))


def test_a_page_that_only_reads_opens_no_transaction(student_browser, round_trips):
    student_browser.get("/home")  # the pool's connection is made and settled
    round_trips.clear()
    response = student_browser.get("/home")
    assert response.status_code == 200 and "Sign out" in response.get_data(as_text=True)
    assert not [c for c in round_trips if c.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK")], round_trips


def test_a_page_views_audit_is_one_transaction_after_its_reads(app, engine, officer_browser, round_trips):
    """The case list reads in autocommit, then audits the view: BEGIN comes with the first write, and the
    audit event and the chain's head are committed together."""
    officer_browser.get("/staff/cases")
    before = _audit_count(app)
    round_trips.clear()
    assert officer_browser.get("/staff/cases").status_code == 200
    assert [c.split()[0] for c in round_trips] == ["BEGIN", "COMMIT"], round_trips
    assert _audit_count(app) == before + 1


def test_a_pooled_connection_closed_by_the_server_is_replaced_before_the_next_page(app, engine, student_browser):
    """The server ends every connection the app holds (as a restart or an idle timeout does): the next page
    is served on a fresh connection, not answered with the 503 page."""
    assert student_browser.get("/home").status_code == 200
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ))
    admin.dispose()
    assert ended >= 1, "no pooled connection was ended: the test proves nothing"
    time.sleep(0.2)  # the server's goodbye reaches the pooled sockets
    response = student_browser.get("/home")
    assert response.status_code == 200 and "Sign out" in response.get_data(as_text=True)


def test_the_database_urls_own_server_options_are_kept_beside_the_apps(engine, tmp_path):
    """An operator's `?options=-csearch_path=...` (or the browser tests' own schema) reaches every connection,
    with the app's JIT off added, not replaced by it: before, the app's options silently dropped the URL's."""
    from tests.support.web import TEST_KEYS
    from wsgi import create_app

    url = engine.url.set(query={"options": "-csearch_path=pg_catalog,public -c application_name=advice-check"})
    other = create_app({**TEST_KEYS, "TESTING": True, "INSTANCE_PATH": str(tmp_path),
                        "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False)})
    with other.app_context():
        with _db.engine.connect() as conn:
            settings = [conn.execute(text(f"SHOW {name}")).scalar() for name in ("search_path", "application_name", "jit")]
        _db.engine.dispose()
    assert settings == ["pg_catalog,public", "advice-check", "off"]

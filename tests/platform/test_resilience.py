"""Staying up: while the database is away the service answers with its friendly 503 page, never a bare 500,
and the app keeps nothing between requests, so any worker (or host) can serve any request."""

import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from shared.security import sessions
from tests import factories


class _DriverError(Exception):
    pass


def _lost_connection(kind):
    if kind is DBAPIError:
        return DBAPIError("SELECT 1", {}, _DriverError("server closed the connection"), connection_invalidated=True)
    return kind("SELECT 1", {}, _DriverError("connection refused"))


@pytest.mark.parametrize("kind", [OperationalError, InterfaceError, DBAPIError])
def test_a_database_outage_gives_the_friendly_503_page(student_browser, monkeypatch, kind):
    def down(_token):
        raise _lost_connection(kind)

    monkeypatch.setattr(sessions, "load", down)
    response = student_browser.get("/home")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "The service is unavailable" in html and "try again" in html
    assert response.headers["Retry-After"] == "5"
    assert "Traceback" not in html and "SELECT" not in html


def test_the_health_check_reports_the_database_down(client, monkeypatch):
    from shared.platform.extensions import db

    def down(*_a, **_kw):
        raise _lost_connection(OperationalError)

    with client.application.app_context():
        monkeypatch.setattr(db.session, "execute", down)
        response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "down"


def _fails_once(monkeypatch, target, name, error):
    """`target.name` raises `error` the first time it is called, then behaves as before."""
    original = getattr(target, name)
    calls = []

    def once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, once)
    return calls


def test_a_page_made_before_the_database_drops_its_connection_is_still_served(db, officer_browser, monkeypatch):
    """The case list reads after recording the view, so its transaction is still open when the request ends;
    if the database drops the connection just then, the closing rollback fails. The page is made: it is
    served, not replaced by a bare 500 (found by the load test restarting PostgreSQL), and the next request
    works."""
    from flask import request_finished

    dialect = db.engine.dialect

    rollback = dialect.do_rollback
    dropped = []

    def rollback_on_a_dropped_connection(connection):
        if dropped:
            return rollback(connection)
        dropped.append(connection)
        getattr(connection, "dbapi_connection", connection).close()  # as the restarting server does
        raise dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")

    def drop_connection(app, **_extra):  # the page is made; now the connection goes
        monkeypatch.setattr(dialect, "do_rollback", rollback_on_a_dropped_connection)

    with request_finished.connected_to(drop_connection):
        response = officer_browser.get("/staff/cases")
    assert dropped, "the request ended without a rollback: the failure was never reached"
    assert response.status_code == 200 and "Cases" in response.get_data(as_text=True)
    assert officer_browser.get("/staff/").status_code == 200


def test_a_case_form_cut_off_by_the_database_leaves_no_document_file(app, db, student_browser, monkeypatch):
    """The database goes away while a case with a document is being saved, and the rollback fails too (the
    connection is gone): the student gets the 503 page, and neither the case nor the encrypted file remains."""
    from shared.models import Case
    from shared.platform import blobs, mail
    from tests.factories_casework import PDF, intake_form

    def database_gone(*_args, **_kwargs):
        raise _lost_connection(OperationalError)

    monkeypatch.setattr(mail, "send", database_gone)  # the last step before the commit
    _fails_once(monkeypatch, db.session, "rollback", _lost_connection(OperationalError))
    response = student_browser.submit("/ask", {**intake_form(), "documents": (io.BytesIO(PDF), "letter.pdf")},
                                      content_type="multipart/form-data")
    assert response.status_code == 503 and "The service is unavailable" in response.get_data(as_text=True)
    monkeypatch.undo()
    assert blobs.store().names() == []  # the store is emptied between tests
    assert db.session.scalar(select(func.count(Case.id))) == 0


def test_a_signed_in_session_works_on_any_worker(app, ctx, student):
    """Two app instances stand in for two gunicorn workers: nothing but the cookie and the database
    carries the session, so a sign-in on one is honoured by the other, and a sign-out on one ends it on both."""
    from wsgi import create_app

    other_worker = create_app({**{k: app.config[k] for k in (
        "SECRET_KEY", "AUDIT_HMAC_KEY", "ENCRYPTION_KEYS", "SQLALCHEMY_DATABASE_URI", "INSTANCE_PATH",
        "MAIL_BACKEND", "RATELIMIT_ENABLED", "ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM")},
        "TESTING": True})
    other_worker.test_client_class = app.test_client_class
    from tests.support.web import Browser

    first = Browser(app.test_client())
    assert first.submit("/sign-in", {"email": student.email, "password": factories.PASSWORD}).status_code == 302
    cookie = first.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    second = other_worker.test_client()
    second.set_cookie(cookie.key, cookie.value)
    assert second.get("/home").status_code == 200
    page = second.get("/home").get_data(as_text=True)
    assert "Welcome" in page
    Browser(second).submit("/sign-out", {}, page="/home")
    assert first.get("/home").status_code == 302  # signed out everywhere


def test_redis_url_makes_rate_limits_shared_in_redis(tmp_path, monkeypatch):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379 (the production-shape check needs one)")
    from shared.platform.extensions import limiter
    from tests.support.web import TEST_KEYS
    from wsgi import create_app

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    app = create_app({**TEST_KEYS, "INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}"})
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    with app.app_context():
        assert type(limiter.storage).__name__ == "RedisStorage"
        assert limiter.storage.check()


def _remote_addr_seen(app, **kw) -> str:
    from flask import request, request_started

    seen = []

    def note(sender, **_extra):
        seen.append(request.remote_addr)

    with request_started.connected_to(note, app):
        app.test_client().get("/healthz", environ_base={"REMOTE_ADDR": "10.0.0.1"}, **kw)
    return seen[0]


def test_behind_a_reverse_proxy_the_visitor_address_is_used(tmp_path, monkeypatch):
    from tests.support.web import TEST_KEYS
    from wsgi import create_app

    def make(hops):
        monkeypatch.setenv("PROXY_HOPS", str(hops))
        return create_app({**TEST_KEYS, "INSTANCE_PATH": str(tmp_path),
                           "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})

    forwarded = {"headers": {"X-Forwarded-For": "203.0.113.7"}}
    assert _remote_addr_seen(make(1), **forwarded) == "203.0.113.7"
    assert _remote_addr_seen(make(0), **forwarded) == "10.0.0.1"  # no proxy configured: the header is ignored

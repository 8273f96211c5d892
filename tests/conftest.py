"""Shared fixtures: one migrated database per run (SQLite, or PostgreSQL when TEST_DATABASE_URL is set),
emptied between tests; clients that sign in as each kind of user; factories instead of copied setup."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import current_app, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import event, text

from shared.platform.crypto import generate_key
from tests import factories

pytest_plugins = ["tests.plugin"]

TEST_KEYS = {
    "SECRET_KEY": "test-secret-key-" + "x" * 40,
    "AUDIT_HMAC_KEY": "test-audit-key-" + "y" * 40,
    "ENCRYPTION_KEYS": f"t1:{generate_key()}",
}


def test_config(tmp_path_factory) -> dict:
    instance = tmp_path_factory.mktemp("instance")
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{instance / 'test.db'}"
    from shared.platform.config import database_url

    return {
        **TEST_KEYS,
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url(url),
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "ARGON2_PARALLELISM": 1,
        "MAIL_BACKEND": "memory",
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        "JOBS_MODE": "sync",  # background jobs run at once; tests/test_access_jobs.py tries the thread
    }


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production, even while a test holds one open
    (otherwise `g` and the database session would leak between requests and clients)."""

    def open(self, *args, **kwargs):
        if has_app_context():
            # End the test's own read transaction, so the test sees what the request writes.
            from shared.platform.extensions import db

            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from flask_migrate import upgrade

    from wsgi import create_app

    app = create_app(test_config(tmp_path_factory))
    app.test_client_class = FreshContextClient
    with app.app_context():
        from shared.platform.extensions import db

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        app.extensions["test_reference_rows"] = _snapshot_reference_data(db)
        app.extensions["test_file_stores"] = _file_stores(tmp_path_factory.getbasetemp())
    yield app


def _file_stores(test_root: Path) -> tuple[Path, ...]:
    """The folders where a filesystem blob store writes encrypted files for rows (documents; copies of
    records), which must be inside this run's temporary folder: the per-test cleanup empties them. (A database
    blob store's rows go with the other tables.)"""
    from shared.platform import blobs

    root = Path(current_app.instance_path)
    stores = tuple(root / folder for folder in blobs.FOLDERS)
    for folder in stores:
        assert folder.resolve().is_relative_to(test_root.resolve()), f"{folder} is not a test folder"
    return stores


def _remove_stored_files(stores: tuple[Path, ...]) -> None:
    """The files the test wrote: their rows are gone with the database, so they would be orphans, seen by the
    next test that checks for orphans. Only files directly in the stores (as the app writes them)."""
    for folder in stores:
        if folder.is_dir() and not folder.is_symlink():
            for path in folder.iterdir():
                if path.is_file() or path.is_symlink():
                    path.unlink()


# Rows the migrations seed (service lists, the first consent wording...): restored before every test.
def _snapshot_reference_data(db) -> dict:
    with db.engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(table.select())]
            for table in db.metadata.sorted_tables
            if table.name != "audit_head"
        }


def _empty_database(db) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables) if t.name not in {"alembic_version"}]
    reference = current_app.extensions["test_reference_rows"]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(text("INSERT INTO audit_head (id, seq, last_mac) VALUES (1, 0, :g)"), {"g": "0" * 64})
        for table in db.metadata.sorted_tables:
            if reference.get(table.name):
                conn.execute(table.insert(), reference[table.name])
                if db.engine.dialect.name == "postgresql" and "id" in table.c:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM \"{table.name}\"))"
                    ))


@pytest.fixture(autouse=True)
def _clean(request):
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    from shared.casework import reference_data
    from shared.platform.extensions import db
    from shared.platform.mail import sent_messages

    with app.app_context():
        _empty_database(db)
        sent_messages().clear()
    reference_data.clear(app)  # the rows were restored underneath the ORM
    yield
    with app.app_context():
        db.session.remove()
    _remove_stored_files(app.extensions["test_file_stores"])


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def db(ctx):
    from shared.platform.extensions import db

    return db


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


class Browser:
    """A test client that submits forms the way a browser does: with the page's CSRF token."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def submit(self, url, data=None, *, page=None, follow_redirects=False, **kw):
        html = self.client.get(page or url).get_data(as_text=True)
        payload = {"csrf_token": csrf_from(html), **(data or {})}
        return self.client.post(url, data=payload, follow_redirects=follow_redirects, **kw)

    def post(self, url, data=None, **kw):
        return self.client.post(url, data=data or {}, **kw)


@pytest.fixture
def browser(client):
    return Browser(client)


@contextmanager
def listening(engine, name: str, listener):
    """An engine event listener for the length of a block: statements counted or seen, a fault injected."""
    event.listen(engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine, name, listener)


def totp_code(account, secret: str = factories.TOTP_SECRET) -> str:
    """A code the server will accept now: the earliest time-step in the window after the last one used
    (each code works once, so a second sign-in within 30 seconds uses the next step)."""
    import time

    import pyotp

    from shared.models import Staff
    from shared.platform.extensions import db

    last = db.session.execute(
        Staff.__table__.select().where(Staff.__table__.c.id == account.id)
    ).one().totp_last_step  # needs an app context
    totp = pyotp.TOTP(secret)
    now = totp.timecode(time.time())
    # Never the step before now: the server may read the clock after it has moved on to the next step.
    step = max(now, (last or 0) + 1)
    assert step <= now + 1, "signed in as the same staff member too often within a minute"
    return totp.generate_otp(step)


def _signed_in(app, account, password, side):
    b = Browser(app.test_client())
    url = "/sign-in" if side == "portal" else "/staff/sign-in"
    resp = b.submit(url, {"email": account.email, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    if side == "backoffice":
        # Staff sign in in two steps: the password, then a code from the authenticator.
        assert resp.headers["Location"].endswith("/staff/sign-in/code"), resp.headers["Location"]
        with app.app_context():
            code = totp_code(account)
        resp = b.submit("/staff/sign-in/code", {"code": code})
        assert resp.status_code == 302, resp.get_data(as_text=True)
    b.account = account
    return b


@pytest.fixture
def student(ctx):
    return factories.make_student()


@pytest.fixture
def other_student(ctx):
    return factories.make_student(email="other.student@example.ac.uk")


@pytest.fixture
def officer(ctx):
    return factories.make_staff(role="officer")


@pytest.fixture
def manager(ctx):
    return factories.make_staff(
        role="manager", email="manager@example.ac.uk", job_title="Advice Service Manager"
    )


@pytest.fixture
def admin(ctx):
    return factories.make_staff(role="admin", email="admin@example.ac.uk", job_title="Administrator")


@pytest.fixture
def student_browser(app, student):
    return _signed_in(app, student, factories.PASSWORD, "portal")


@pytest.fixture
def other_student_browser(app, other_student):
    return _signed_in(app, other_student, factories.PASSWORD, "portal")


@pytest.fixture
def officer_browser(app, officer):
    return _signed_in(app, officer, factories.PASSWORD, "backoffice")


@pytest.fixture
def manager_browser(app, manager):
    return _signed_in(app, manager, factories.PASSWORD, "backoffice")


@pytest.fixture
def admin_browser(app, admin):
    return _signed_in(app, admin, factories.PASSWORD, "backoffice")


@pytest.fixture
def make_limited_app(app, tmp_path_factory):
    """A second app on the same database with rate limits on. The limiter object is shared by every app in
    the process, so it is reset and switched off again afterwards."""
    from wsgi import create_app

    def build(**overrides):
        config = test_config(tmp_path_factory)
        config.update(
            RATELIMIT_ENABLED=True,
            SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
            ENCRYPTION_KEYS=app.config["ENCRYPTION_KEYS"],
            **overrides,
        )
        return create_app(config)

    return build


@pytest.fixture(autouse=True)
def _limiter_isolation():
    """Any app built during a test (rate-limited, production-mode) may switch the shared limiter on:
    give the other tests theirs back, off and empty."""
    yield
    from shared.platform.extensions import limiter

    if limiter.enabled and getattr(limiter, "_storage", None) is not None:
        try:
            limiter.reset()
        except Exception:  # noqa: BLE001, S110 - a test's own Redis may be stopped by now; it kept nothing
            pass
        limiter.enabled = False

"""Shared fixtures: one migrated database per run (SQLite, or PostgreSQL when TEST_DATABASE_URL is set),
emptied between tests; clients that sign in as each kind of user; factories instead of copied setup."""

from __future__ import annotations

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from tests import factories
from tests.support.database import (
    empty_database,
    file_stores,
    migrate,
    remove_stored_files,
    snapshot_reference_data,
)
from tests.support.web import TEST_KEYS, Browser, csrf_from, listening, signed_in, testing_config, totp_code  # noqa: F401

pytest_plugins = ["tests.plugin"]

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

    app = create_app(testing_config(tmp_path_factory))
    app.test_client_class = FreshContextClient
    with app.app_context():
        from shared.platform.extensions import db

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        migrate(db, upgrade)
        app.extensions["test_reference_rows"] = snapshot_reference_data(db)
        app.extensions["test_file_stores"] = file_stores(tmp_path_factory.getbasetemp())
    yield app


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
        empty_database(db)
        sent_messages().clear()
    reference_data.clear(app)  # the rows were restored underneath the ORM
    yield
    with app.app_context():
        db.session.remove()
    remove_stored_files(app.extensions["test_file_stores"])


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


@pytest.fixture
def browser(client):
    return Browser(client)


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
    return signed_in(app, student, factories.PASSWORD, "portal")


@pytest.fixture
def other_student_browser(app, other_student):
    return signed_in(app, other_student, factories.PASSWORD, "portal")


@pytest.fixture
def officer_browser(app, officer):
    return signed_in(app, officer, factories.PASSWORD, "backoffice")


@pytest.fixture
def manager_browser(app, manager):
    return signed_in(app, manager, factories.PASSWORD, "backoffice")


@pytest.fixture
def admin_browser(app, admin):
    return signed_in(app, admin, factories.PASSWORD, "backoffice")


@pytest.fixture
def make_limited_app(app, tmp_path_factory):
    """A second app on the same database with rate limits on. The limiter object is shared by every app in
    the process, so it is reset and switched off again afterwards."""
    from wsgi import create_app

    def build(**overrides):
        config = testing_config(tmp_path_factory)
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

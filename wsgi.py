"""The composition root: the only module that imports both blueprints."""

from __future__ import annotations

import gc
import os
import select
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

from shared.platform import transactions

ROOT = Path(__file__).resolve().parent


def create_app(config: dict | None = None) -> Flask:
    from shared.cli import commands as cli
    from shared.platform import config as settings
    from shared.platform import mail
    from shared.platform.extensions import csrf, db, limiter, login_manager, migrate
    from shared.web import hooks as web

    app = web.ServiceApp(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str((config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or ROOT / "instance"),
    )
    settings.load(app, config)

    db.init_app(app)
    mail.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session row is the protection
    web.init_app(app)
    cli.init_app(app)
    from backoffice import bp as backoffice_bp
    from portal import bp as portal_bp
    from shared.demo import casework as casework_demo  # noqa: F401  (registers the casework demo step)

    app.register_blueprint(portal_bp)
    app.register_blueprint(backoffice_bp)
    app.config["GUARDED_BLUEPRINTS"] = frozenset({"portal", "backoffice"})
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: foreign keys on, WAL for concurrent readers, and wait rather than fail on a busy lock. Pages
    are read through a memory map and 16 MB of them kept per connection: with SQLite's default 2 MB, a
    large database is read back from the operating system on every page view (the case list at 100,000
    cases: p95 1.8x what it is at 1,000; with these, the same)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.close()


@event.listens_for(Pool, "checkout")
def _drop_closed_connections(dbapi_connection, _record, _proxy):
    """PostgreSQL: a pooled connection whose server has gone (a restart, a failover, an idle timeout) is
    replaced before use. The server says goodbye on the socket, so an idle connection with something to
    read is a closed one: a check without a round trip, where `pool_pre_ping` costs one on every request."""
    if type(dbapi_connection).__module__.startswith("psycopg") and (
        dbapi_connection.closed or _has_something_to_read(dbapi_connection.fileno())
    ):
        raise DisconnectionError("the server closed this connection")  # the pool connects afresh


def _has_something_to_read(fd: int) -> bool:
    poller = select.poll()  # poll, not select: any descriptor number
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


@event.listens_for(Engine, "begin")
def _begin(conn):
    transactions.on_begin(conn)


@event.listens_for(Engine, "before_cursor_execute")
def _before_execute(conn, cursor, statement, parameters, context, executemany):
    transactions.before_execute(conn, cursor, statement, parameters, context, executemany)


def settle_after_startup() -> None:
    """What a worker built at startup (modules, the app, compiled templates and SQL) lives as long as the
    worker: move it out of the garbage collector's reach, so that a full collection, which a large page's
    many objects set off, does not walk all of it (a case page of 200 entries: p95 105 ms, then 27 ms)."""
    gc.collect()
    gc.freeze()


def __getattr__(name: str):
    # `app` is built on first use (gunicorn wsgi:app, flask --app wsgi), not when tests import create_app.
    if name == "app":
        globals()["app"] = create_app()
        settle_after_startup()
        return globals()["app"]
    raise AttributeError(name)

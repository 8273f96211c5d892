"""The floors: minimal pages that project pages are compared with, as ratios, because these machines are
shared and absolute figures wander. Each renders the same 50 rows from the same database with the same
Jinja template, and uses no project code (no models, no audit, no guard).

- The floor (/__floor/): a plain Flask route on the database driver. The issue's goal is a ratio to it.
- The floor with a write (/__floor/with-a-write): the same after appending one row and committing it, as
  minimal code does: what a page that must record each view costs at the least on the bare driver.
- The floor on the stack (/__stack-floor/): the least a page can do on the design card's own stack and
  within the policy's rules: the signed-in account loaded for Flask-Login through Flask-SQLAlchemy's
  session, one row inserted and committed per view (the view's record), then the rows. Every statement
  goes through Core and the account is a plain object: the ORM models most Flask-Login apps load would
  only cost more, and this is a floor.
- The floor on the stack, reading only (/__stack-floor/reading): the same without the write, for pages
  that record nothing when viewed (the student's own home).

The others are references for reading the figures, not replacements for the floor. On SQLite
every floor connection uses the app's own durability settings (WAL, synchronous=NORMAL): a commit costs
the same in the floors as in the app, where the driver's default (FULL) would add a flush to disk to each
write the app does not make. Served beside the app, in one process, the engine-wide settings wsgi.py
makes (SQLite pragmas, when transactions begin) apply to the floor on the stack as to the app: the
comparison is of the code on top of them."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime

from flask import Flask, render_template
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    text,
)

TEMPLATE = """<!doctype html><html lang="en"><head><title>Floor</title></head><body><table>
<tr><th>Reference</th><th>Status</th><th>Area</th><th>Opened</th></tr>
{% for row in rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td><td>{{ row[3] }}</td></tr>
{% endfor %}</table></body></html>"""
QUERY = "SELECT reference, status, area_code, opened_at FROM cases ORDER BY id DESC LIMIT 50"
WRITE = "INSERT INTO floor_views (at) VALUES (CURRENT_TIMESTAMP)"
WRITE_PATH = "/with-a-write"
STACK_FLOOR_PATH = "/__stack-floor/"
READING_PATH = "/reading"
# Fixed and fictional, for benchmark databases only: the floor on the stack's one account and its key.
STACK_FLOOR_TOKEN = "stack-floor-benchmark-token-not-a-secret"  # noqa: S105
STACK_FLOOR_KEY = "stack-floor-benchmark-key-not-for-production-" + "f" * 16
SQLITE_SETTINGS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000")

STACK_FLOOR_TABLES = MetaData()
ACCOUNTS = Table("stack_floor_accounts", STACK_FLOOR_TABLES, Column("id", Integer, primary_key=True),
                 Column("token_id", String(64), unique=True), Column("name", String(100)))
VIEWS = Table("stack_floor_views", STACK_FLOOR_TABLES, Column("id", Integer, primary_key=True),
              Column("account_id", ForeignKey("stack_floor_accounts.id")), Column("at", DateTime(timezone=True)))


def _sqlite_path(database_url: str) -> str:
    return database_url.split(":///", 1)[1]


def _driver_connection(database_url: str):
    """A connection on the bare driver: SQLite with the app's settings, or PostgreSQL in autocommit."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(_sqlite_path(database_url), check_same_thread=False)
        for setting in SQLITE_SETTINGS:
            conn.execute(setting)
        return conn
    import psycopg

    return psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def create_floor_tables(database_url: str) -> None:
    """What the floors write to (benchmark databases only), made before the server starts so that its
    workers do not race to make them; with the floor on the stack's one account."""
    sqlite = database_url.startswith("sqlite")
    conn = _driver_connection(database_url)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS floor_views (id INTEGER PRIMARY KEY, at TIMESTAMP)" if sqlite
                     else "CREATE TABLE IF NOT EXISTS floor_views (id bigserial PRIMARY KEY, at timestamptz)")
        conn.commit()  # (PostgreSQL's autocommit connection has committed already)
    finally:
        conn.close()
    engine = create_engine(_sqlalchemy_url(database_url))
    try:
        STACK_FLOOR_TABLES.create_all(engine)
        with engine.begin() as conn:
            token_id = _token_id(STACK_FLOOR_TOKEN)
            if conn.scalar(select(ACCOUNTS.c.id).where(ACCOUNTS.c.token_id == token_id)) is None:
                conn.execute(insert(ACCOUNTS).values(token_id=token_id, name="Floor account"))
    finally:
        engine.dispose()


def drop_floor_tables(engine) -> None:
    """The floors' tables, gone (tests, which run the floors on the test database)."""
    with engine.begin() as conn:
        for table in ("floor_views", "stack_floor_views", "stack_floor_accounts"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def create_floor_app(database_url: str) -> Flask:
    app = Flask("floor")
    app.jinja_loader = DictLoader({"floor.html": TEMPLATE})  # loaded and compiled once, as in any app
    local = threading.local()

    def connection():
        if getattr(local, "conn", None) is None:
            local.conn = _driver_connection(database_url)
        return local.conn

    @app.get("/")
    def floor():
        try:
            rows = connection().execute(QUERY).fetchall()
        except Exception:
            local.conn = None  # reconnect on the next request
            raise
        return render_template("floor.html", rows=rows)

    @app.get(WRITE_PATH)
    def floor_with_a_write():
        conn = connection()
        try:
            conn.execute(WRITE)
            conn.commit()  # (PostgreSQL's autocommit connection has committed already)
            rows = conn.execute(QUERY).fetchall()
        except Exception:
            local.conn = None
            raise
        return render_template("floor.html", rows=rows)

    return app


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sqlalchemy_url(database_url: str) -> str:
    return database_url.replace("postgresql://", "postgresql+psycopg://")


class _SignedIn(UserMixin):
    """Flask-Login's user on the floor on the stack: a plain object."""

    def __init__(self, account_id: int, name: str):
        self.id, self.name = account_id, name


def create_stack_floor_app(database_url: str) -> Flask:
    """The floor on the stack (module docstring): a Flask app of its own, mounted beside the project."""
    stack = SQLAlchemy()
    app = Flask("stack_floor")
    app.config.update(SECRET_KEY=STACK_FLOOR_KEY, SQLALCHEMY_DATABASE_URI=_sqlalchemy_url(database_url))
    app.jinja_loader = DictLoader({"floor.html": TEMPLATE})
    stack.init_app(app)
    logins = LoginManager(app)
    load_account = select(ACCOUNTS.c.id, ACCOUNTS.c.name).where(ACCOUNTS.c.token_id == bindparam("token_id"))
    record_view = insert(VIEWS)
    rows_query = text(QUERY)

    @logins.user_loader
    def signed_in(token: str):
        row = stack.session.execute(load_account, {"token_id": _token_id(token)}).first()
        return _SignedIn(*row) if row else None

    @app.get("/")
    @login_required
    def floor_on_the_stack():
        stack.session.execute(record_view, {"account_id": current_user.id, "at": datetime.now(UTC)})
        stack.session.commit()
        rows = stack.session.execute(rows_query).all()
        return render_template("floor.html", rows=rows)

    @app.get(READING_PATH)
    @login_required
    def floor_on_the_stack_reading():
        return render_template("floor.html", rows=stack.session.execute(rows_query).all())

    if database_url.startswith("sqlite"):
        with app.app_context():

            @event.listens_for(stack.engine, "connect")
            def _settings(dbapi_connection, _record):
                for setting in SQLITE_SETTINGS:
                    dbapi_connection.execute(setting)

    return app


def stack_floor_cookie() -> str:
    """The Cookie header of the floor on the stack's signed-in account, as Flask-Login leaves it."""
    app = Flask("stack_floor_cookie")
    app.config["SECRET_KEY"] = STACK_FLOOR_KEY
    serializer = app.session_interface.get_signing_serializer(app)
    return f"session={serializer.dumps({'_user_id': STACK_FLOOR_TOKEN, '_fresh': True})}"

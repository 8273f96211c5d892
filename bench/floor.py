"""The floor (served at /__floor/): a minimal Flask route rendering 50 rows from the same database with Jinja and no project
code (no models, no audit, no guard, no ORM). Project pages are compared with it, as a ratio, because
these machines are shared and absolute figures wander.

Beside it, /__floor/with-a-write does the same after appending one row and committing it, as minimal
code does: what a page that must record each view (the case list's audit event) costs at the least. It
is a second reference for reading the figures, not a replacement for the floor."""

from __future__ import annotations

import sqlite3
import threading

from flask import Flask, render_template
from jinja2 import DictLoader

TEMPLATE = """<!doctype html><html lang="en"><head><title>Floor</title></head><body><table>
<tr><th>Reference</th><th>Status</th><th>Area</th><th>Opened</th></tr>
{% for row in rows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td><td>{{ row[3] }}</td></tr>
{% endfor %}</table></body></html>"""
QUERY = "SELECT reference, status, area_code, opened_at FROM cases ORDER BY id DESC LIMIT 50"
WRITE = "INSERT INTO floor_views (at) VALUES (CURRENT_TIMESTAMP)"
WRITE_PATH = "/with-a-write"


def create_write_table(database_url: str) -> None:
    """The table the floor with a write appends to (benchmark databases only), made before the server
    starts so that its workers do not race to make it."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split(":///", 1)[1]) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS floor_views (id INTEGER PRIMARY KEY, at TIMESTAMP)")
        return
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS floor_views (id bigserial PRIMARY KEY, at timestamptz)")


def create_floor_app(database_url: str) -> Flask:
    app = Flask("floor")
    app.jinja_loader = DictLoader({"floor.html": TEMPLATE})  # loaded and compiled once, as in any app
    local = threading.local()

    def connection():
        if getattr(local, "conn", None) is None:
            if database_url.startswith("sqlite"):
                local.conn = sqlite3.connect(database_url.split(":///", 1)[1], check_same_thread=False)
            else:
                import psycopg

                url = database_url.replace("postgresql+psycopg://", "postgresql://")
                local.conn = psycopg.connect(url, autocommit=True)
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

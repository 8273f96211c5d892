"""The floor (served at /__floor/): a minimal Flask route rendering 50 rows from the same database with Jinja and no project
code (no models, no audit, no guard, no ORM). Project pages are compared with it, as a ratio, because
these machines are shared and absolute figures wander."""

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

    return app

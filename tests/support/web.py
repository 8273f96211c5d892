"""What tests share to act as a browser or a signed-in user would: the test configuration, a client that
submits forms with the page's CSRF token, signing in (with the staff code step), TOTP codes, and an engine
listener for the length of a block. The fixtures in tests/conftest.py are built from these."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

from sqlalchemy import event

from shared.platform.crypto import generate_key
from tests import factories

TEST_KEYS = {
    "SECRET_KEY": "test-secret-key-" + "x" * 40,
    "AUDIT_HMAC_KEY": "test-audit-key-" + "y" * 40,
    "ENCRYPTION_KEYS": f"t1:{generate_key()}",
}


def testing_config(tmp_path_factory) -> dict:
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
        "JOBS_MODE": "sync",  # background jobs run at once; tests/subject_access/test_access_jobs.py tries the thread
    }


SUBMISSION_KEY_RE = re.compile(r'(name="submission_key" value=")[^"]+"')


def without_form_keys(html: str) -> str:
    """A page with its forms' one-time submission keys blanked (they differ on every rendering)."""
    return SUBMISSION_KEY_RE.sub(r'\1"', html)


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


def signed_in(app, account, password, side):
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

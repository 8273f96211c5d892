"""Helpers for the route matrix and the hostile-input tests: the six users, their clients, and what a
refusal looks like."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import parse_qs, urlsplit

from itsdangerous import URLSafeTimedSerializer

from tests import factories
from tests.route_matrix import ARGS, SIGN_IN, Rule

STUDENT_WHO = ("student_a", "student_b")


class Cast:
    """Student A (who owns the objects), student B, and one staff member of each role."""

    def __init__(self, app):
        self.app = app
        self.accounts = {
            "student_a": factories.make_student(email="student.a@example.ac.uk"),
            "student_b": factories.make_student(email="student.b@example.ac.uk"),
            "officer": factories.make_staff(role="officer", email="officer@example.ac.uk"),
            "manager": factories.make_staff(role="manager", email="manager@example.ac.uk"),
            "admin": factories.make_staff(role="admin", email="admin@example.ac.uk"),
        }

    @property
    def owner(self):
        return self.accounts["student_a"]

    def client(self, who: str):
        """A fresh test client, signed in as `who` through the real sign-in page (or anonymous)."""
        if who == "anonymous":
            return self.app.test_client()
        from tests.support.web import signed_in

        side = "portal" if who in STUDENT_WHO else "backoffice"
        return signed_in(self.app, self.accounts[who], factories.PASSWORD, side).client

    def url_args(self, endpoint: str) -> dict:
        spec = ARGS.get(endpoint, {})
        return dict(spec(self.owner)) if callable(spec) else dict(spec)


def csrf_token(app, client) -> str:
    """A valid CSRF token for this client's session (what the page's hidden field would hold)."""
    with client.session_transaction() as sess:
        raw = sess.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())  # noqa: S324 (as Flask-WTF)
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)


def is_sign_in_redirect(resp, kind: str | None = None) -> bool:
    """The guard's answer to a GET from someone not signed in as the right kind: to a sign-in page, with next=."""
    if resp.status_code not in (301, 302, 303, 307, 308):
        return False
    location = urlsplit(resp.headers.get("Location", ""))
    paths = [SIGN_IN[kind]] if kind else list(SIGN_IN.values())
    return location.path in paths and "next" in parse_qs(location.query)


def expected_refusal(rule: Rule, who: str, object_of_student_a: bool) -> str | None:
    """None when `who` may use the endpoint; else 'sign_in', '403' or '404'."""
    if rule.allows(who):
        if rule.kind == "student" and object_of_student_a and who == "student_b":
            return "404"
        return None
    if who == "anonymous" or (rule.kind == "student") != (who in STUDENT_WHO):
        return "sign_in"
    return "403"


def judge(resp, method: str, rule: Rule, refusal: str | None, may_404: bool) -> str | None:
    """What went wrong with this response, or None if it is what the table says."""
    status = resp.status_code
    if refusal == "sign_in":
        if method == "GET":
            if not is_sign_in_redirect(resp, rule.kind):
                return f"expected a redirect to {SIGN_IN[rule.kind]}?next=..., got {status} {resp.headers.get('Location', '')}"
        elif status != 401:
            return f"expected 401, got {status}"
        return None
    if refusal is not None:
        return None if str(status) == refusal else f"expected {refusal}, got {status}"
    if status >= 500 or status in (401, 403, 405) or (status == 404 and not may_404):
        return f"allowed by the table but answered {status}"
    if is_sign_in_redirect(resp):
        return f"allowed by the table but sent to sign in ({resp.headers['Location']})"
    return None

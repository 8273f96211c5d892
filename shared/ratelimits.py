"""Rate limits for the doors an attacker knocks on. The same limits apply to unknown emails, so being
limited says nothing about whether an account exists."""

from flask import current_app, request, session

from shared.accounts import email_key
from shared.extensions import limiter


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _email_key() -> str:
    return "email:" + email_key(request.form.get("email") or "")


def guarded_door(view):
    """Per client address and per submitted email, on POST only."""
    view = limiter.limit(_login_limit, methods=["POST"], key_func=_email_key)(view)
    return limiter.limit(_login_limit, methods=["POST"])(view)


def _mfa_limit() -> str:
    return current_app.config["RATELIMIT_MFA"]


def _pending_key() -> str:
    pending = session.get("mfa_pending") or {}
    return f"mfa:{pending.get('id', '-')}"


def code_door(view):
    """The second step of staff sign-in: per half-signed-in account and per client address, on POST."""
    view = limiter.limit(_mfa_limit, methods=["POST"], key_func=_pending_key)(view)
    return limiter.limit(_mfa_limit, methods=["POST"])(view)

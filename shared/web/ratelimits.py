"""Rate limits for the doors an attacker knocks on. The same limits apply to unknown emails, so being
limited says nothing about whether an account exists."""

from flask import current_app, request, session
from flask_login import current_user

from shared.platform.extensions import limiter
from shared.security.accounts import email_key


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _email_key() -> str:
    return "email:" + email_key(request.form.get("email") or "")


def guarded_door(view):
    """Per client address and per submitted email, on POST only."""
    view = limiter.limit(_login_limit, methods=["POST"], key_func=_email_key)(view)
    return limiter.limit(_login_limit, methods=["POST"])(view)


def _account_key() -> str:
    if not current_user.is_authenticated:
        return "account:-"  # the guard turns them away after this
    return f"account:{current_user.kind}:{current_user.id}"


def password_again_door(view):
    """Forms that ask a signed-in person for their password again (change it, change one's email, a new
    authenticator, new recovery codes): sign-in's limits, per account and per client address, counted
    across all those forms together, on POST; the same lock-out page as sign-in. A stolen session can
    guess the password no faster than the sign-in page allows."""
    view = limiter.shared_limit(_login_limit, scope="password-again", methods=["POST"], key_func=_account_key)(view)
    return limiter.shared_limit(_login_limit, scope="password-again-address", methods=["POST"])(view)


def _mfa_limit() -> str:
    return current_app.config["RATELIMIT_MFA"]


def _pending_key() -> str:
    pending = session.get("mfa_pending") or {}
    return f"mfa:{pending.get('id', '-')}"


def code_door(view):
    """The second step of staff sign-in: per half-signed-in account and per client address, on POST."""
    view = limiter.limit(_mfa_limit, methods=["POST"], key_func=_pending_key)(view)
    return limiter.limit(_mfa_limit, methods=["POST"])(view)

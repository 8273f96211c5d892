"""Nothing twice: every form a signed-in user can send carries a one-time submission key.

The key is made when the form is rendered (`form_keys()` in templates writes it beside the CSRF token),
signed and bound to the session's CSRF secret, so it cannot be made up or carried to another session.
The first post with a key does its work, and the key is written in the same transaction as that work (at
the request's first commit that is not bookkeeping, with the page the form was on as a provisional
outcome), then kept with where the post led. Any later post
with the same key (a double click, the browser's retry, a post sent again after a reply was lost to a
crash) does nothing and is answered with that first outcome: the same redirect, with a note that the form
had already been received.

Two posts of one key at the same moment: on SQLite the second waits for the write lock and then finds the
key; on PostgreSQL both may do the work, and the second's commit fails on the key's primary key, so its
work is rolled back. Either way the second then waits (up to SUBMISSION_WAIT_SECONDS) for the first's
outcome. A post that does not end in a redirect (a form shown again with its errors, a download) frees
its key, so the corrected form can be sent. A post without a key (a client that is not a browser showing
our form) gets no protection; a key that is not ours is refused with a 400 that keeps nothing.

Keys go with the session: ending a session deletes them, and each sign-in deletes keys older than the
longest session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from urllib.parse import urlsplit

from flask import current_app, flash, g, has_request_context, redirect, request, session
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import delete, event, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from shared.models import SubmissionKey
from shared.platform.extensions import db
from shared.security.authz import is_public, safe_next, view_function

log = logging.getLogger(__name__)

KEY_FIELD = "submission_key"
REPEATABLE_ATTR = "_advice_repeatable"
ALREADY_SENT = "We had already received this form, so it was not sent again."
STILL_WORKING = ("We are still dealing with this form, which you had already sent. Wait a moment, then look "
                 "at the page before sending anything again.")
_PENDING = "submission_key_pending"  # g: the key this request writes at its first commit of work
_WRITTEN = "submission_key_written"  # g: ... and once it is in the transaction
_page: dict = {}  # the app's CSRF token and error page (shared.web.hooks), given at init_app
PROVISIONAL = "?"  # an outcome written with the work, before the post's own redirect is known
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def repeatable(reason: str):
    """Mark a view whose posts may repeat (the draft's autosave, signing out): no key is checked or kept."""

    def decorate(view):
        setattr(view, REPEATABLE_ATTR, reason)
        return view

    return decorate


def _signature(token: str) -> str:
    raw = session.get("csrf_token") or ""
    message = f"submission\x1f{raw}\x1f{token}".encode()
    return hmac.new(current_app.secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def new_key() -> str:
    token = secrets.token_urlsafe(12)
    return f"{token}.{_signature(token)}"


def _is_ours(key: str) -> bool:
    token, _, signature = key.partition(".")
    return bool(token) and len(key) <= 64 and hmac.compare_digest(signature.encode(), _signature(token).encode())


def submission_key() -> Markup:
    """The hidden field alone, for a form that renders its own CSRF field (`{{ form.csrf_token }}`). None on
    the public pages (sign-in, registration, reset): their forms post to doors that may be used again."""
    if is_public(request.endpoint):
        return Markup("")
    _page["csrf_token"]()  # the session's CSRF secret, which the key is bound to, exists from here
    return Markup('<input type="hidden" name="{}" value="{}">').format(KEY_FIELD, new_key())


def form_keys() -> Markup:
    """What every form's first line writes: the CSRF token and a fresh submission key."""
    csrf = Markup('<input type="hidden" name="csrf_token" value="{}">').format(_page["csrf_token"]())
    return csrf + submission_key()


def check():
    """before_request, after the blueprint's guard: answer a repeated post with the first outcome."""
    if request.method in _SAFE or is_public(request.endpoint):
        return None
    if getattr(view_function(request.endpoint), REPEATABLE_ATTR, None):
        return None
    key = request.form.get(KEY_FIELD)
    if not key:
        return None
    if not _is_ours(key):
        return _page["error"](400, "This form had expired or did not come from this site. Go back, reload the page "
                                 "and send it again.")
    if db.session.get(SubmissionKey, key) is None:
        g.setdefault(_PENDING, key)
        return None
    return answer_repeat(key)


def answer_repeat(key: str):
    """The first outcome of this key, once the first post has one (waiting for it if it is still running)."""
    deadline = time.monotonic() + current_app.config.get("SUBMISSION_WAIT_SECONDS", 5)
    while True:
        outcome = db.session.scalar(db.select(SubmissionKey.outcome).where(SubmissionKey.key == key))
        db.session.rollback()  # let the first post's last step take the write lock
        late = time.monotonic() >= deadline
        if outcome and (not outcome.startswith(PROVISIONAL) or late):
            flash(ALREADY_SENT, "success")
            return redirect(outcome.removeprefix(PROVISIONAL), 303)
        if late:
            return _page["error"](409, STILL_WORKING)
        time.sleep(0.05)


def _write_key(session_: Session) -> None:
    """Session 'before_commit': the pending key joins the request's first transaction of work."""
    if not has_request_context() or session_.info.get("bookkeeping"):
        return
    key = g.pop(_PENDING, None)
    if key is None:
        return
    login_session = getattr(current_user, "login_session", None) if current_user else None
    session_.add(SubmissionKey(key=key, endpoint=(request.endpoint or "")[:100], outcome=PROVISIONAL + _fallback(),
                               login_session_id=getattr(login_session, "id", None)))
    g.setdefault(_WRITTEN, key)


def _fallback() -> str:
    """Where a repeat goes if the first post's own redirect is never known (its worker died after the commit):
    the page the form was on."""
    home = "/staff/" if (request.blueprint or "") == "backoffice" else "/"
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:  # only a page of this site
        return home
    return safe_next(referrer._replace(scheme="", netloc="", fragment="").geturl(), home)


def remember_outcome(response):
    """after_request: keep where the first post led, or free the key of a post that did not succeed."""
    key = g.pop(_WRITTEN, None)
    if key is None:
        return response
    try:
        if response.status_code in _REDIRECTS and response.location:
            db.session.execute(update(SubmissionKey).where(SubmissionKey.key == key)
                               .values(outcome=response.location[:500]))
        else:
            db.session.execute(delete(SubmissionKey).where(SubmissionKey.key == key))
        db.session.commit()
    except SQLAlchemyError:  # the database went away after the work: a repeat waits, then is told to look
        db.session.rollback()
        log.exception("Could not keep the outcome of a submission")
    return response


def repeat_lost_the_race(exc: IntegrityError):
    """A post that failed on a uniqueness rule while its twin (the same key) committed first: its own key, or
    the twin's record (a profile, say) taken first. Rolled back, it is answered with the twin's outcome."""
    key = g.get(_WRITTEN) or g.get(_PENDING)
    if key is None:
        return None
    db.session.rollback()
    if "submission_keys" not in str(getattr(exc, "orig", exc)) and db.session.get(SubmissionKey, key) is None:
        db.session.rollback()
        return None
    g.pop(_WRITTEN, None)
    g.pop(_PENDING, None)
    return answer_repeat(key)


def init_app(app, *, csrf_token, error_page) -> None:
    _page.update(csrf_token=csrf_token, error=error_page)
    app.jinja_env.globals["form_keys"] = form_keys
    app.jinja_env.globals["submission_key"] = submission_key
    app.after_request(remember_outcome)

    @app.errorhandler(IntegrityError)
    def _integrity(exc):
        answer = repeat_lost_the_race(exc)
        if answer is None:
            raise exc
        return answer

    if not getattr(Session, "_advice_submission_keys", False):
        event.listen(Session, "before_commit", _write_key)
        Session._advice_submission_keys = True

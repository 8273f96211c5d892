"""Server-side login sessions: the cookie names a session row, so signing out ends it everywhere.

Idle and absolute limits differ for staff and students (configurable). Password change, deactivation and
an administrator's action end sessions here, and the very next request with the old cookie is anonymous.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, select, update

from shared.audit import log as audit
from shared.models import Account, LoginSession, Staff, Student, SubmissionKey, utcnow
from shared.platform.extensions import db
from shared.platform.transactions import commit_bookkeeping

_TOUCH_EVERY = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _limits(kind: str) -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    if kind == "staff":
        return timedelta(minutes=cfg["STAFF_IDLE_MINUTES"]), timedelta(hours=cfg["STAFF_ABSOLUTE_HOURS"])
    return timedelta(minutes=cfg["STUDENT_IDLE_MINUTES"]), timedelta(hours=cfg["STUDENT_ABSOLUTE_HOURS"])


def start(account: Account, user_agent: str | None = None) -> LoginSession:
    """Open a new session for `account` (the caller commits). Returns it with its raw token set."""
    token = secrets.token_urlsafe(32)
    login_session = LoginSession(
        token_id=_hash(token),
        student_id=account.id if account.kind == "student" else None,
        staff_id=account.id if account.kind == "staff" else None,
        user_agent=(user_agent or "")[:200] or None,
    )
    db.session.add(login_session)
    # Submission keys outlive no session: those older than the longest one are of no use to anyone.
    db.session.execute(delete(SubmissionKey).where(
        SubmissionKey.created_at < utcnow() - max(_limits("staff")[1], _limits("student")[1])))
    login_session.raw_token = token
    account.login_session = login_session
    return login_session


# Runs on every signed-in request: one statement for the session and its account, built once (so its
# SQL cache key is computed once, not per request).
_LOAD = (
    select(LoginSession, Student, Staff)
    .outerjoin(Student, Student.id == LoginSession.student_id)
    .outerjoin(Staff, Staff.id == LoginSession.staff_id)
    .where(LoginSession.token_id == bindparam("token_id"))
)


def load(token: str | None) -> Account | None:
    """The account behind a cookie's token, or None if the session ended, timed out or never was."""
    if not token or len(token) > 100:
        return None
    row = db.session.execute(_LOAD, {"token_id": _hash(token)}).first()
    if row is None or row[0].ended_at is not None:
        return None
    login_session, student, staff = row
    account = student or staff
    if account is None or not account.is_active:
        return None
    now = utcnow()
    idle, absolute = _limits(account.kind)
    if now - login_session.last_seen_at > idle or now - login_session.created_at > absolute:
        reason = "idle" if now - login_session.created_at <= absolute else "absolute"
        end(login_session, f"timeout_{reason}")
        db.session.commit()
        return None
    if now - login_session.last_seen_at > _TOUCH_EVERY:
        login_session.last_seen_at = now
        commit_bookkeeping(db.session())
    login_session.raw_token = token
    account.login_session = login_session
    return account


def end(login_session: LoginSession, reason: str) -> None:
    if login_session.ended_at is None:
        login_session.ended_at = utcnow()
        login_session.ended_reason = reason
        if login_session.id is not None:  # its forms' submission keys go with it (shared.web.submissions)
            db.session.execute(delete(SubmissionKey).where(SubmissionKey.login_session_id == login_session.id))


def end_all(account: Account, reason: str, *, keep: LoginSession | None = None) -> int:
    """End every open session of an account (optionally keeping the current one)."""
    column = LoginSession.staff_id if account.kind == "staff" else LoginSession.student_id
    stmt = (
        update(LoginSession)
        .where(column == account.id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep.id)
    ended = select(LoginSession.id).where(column == account.id, LoginSession.ended_at.is_(None))
    if keep is not None:
        ended = ended.where(LoginSession.id != keep.id)
    db.session.execute(delete(SubmissionKey).where(SubmissionKey.login_session_id.in_(ended)))
    count = db.session.execute(stmt).rowcount
    audit.record(account, "sessions.ended_all", account, reason=reason, count=count)
    return count


def open_sessions(account: Account) -> list[LoginSession]:
    column = LoginSession.staff_id if account.kind == "staff" else LoginSession.student_id
    return db.session.scalars(
        select(LoginSession)
        .where(column == account.id, LoginSession.ended_at.is_(None))
        .order_by(LoginSession.last_seen_at.desc())
    ).all()

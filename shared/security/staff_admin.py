"""Staff accounts: what the administrator does to them and what a staff member does to their own.

Accounts are deactivated, never deleted: the audit trail must keep its actors. Deactivating ends every
session at once. Changing one's email or two-factor set-up asks for the password again.
"""

from __future__ import annotations

import secrets

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from shared.audit import log as audit
from shared.models import LoginSession, Staff, StaffRole, utcnow
from shared.platform import mail
from shared.platform.errors import NotFound, PermissionDenied, ServiceError, ValidationFailed
from shared.platform.extensions import db
from shared.platform.passwords import hash_password, verify_password
from shared.security import accounts, sessions
from shared.security.mfa import WrongPassword

ROLES = tuple(r.value for r in StaffRole)


def all_staff() -> list[Staff]:
    return db.session.scalars(select(Staff).order_by(Staff.active.desc(), Staff.name)).all()


def get(staff_id: int) -> Staff:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound()
    return staff


def _check_role_and_title(role: str, job_title: str) -> None:
    if role not in ROLES:
        raise ValidationFailed("Choose a role: officer, manager or admin.")
    if not job_title.strip():
        raise ValidationFailed("Enter a job title.")


def create(admin: Staff, *, email: str, name: str, job_title: str, role: str) -> Staff:
    """A new colleague gets an email with a link to choose their password; two-factor enrolment and the
    policy come at their first sign-in."""
    _check_role_and_title(role, job_title)
    staff = accounts.new_staff(
        email=email, name=name, job_title=job_title, role=role,
        password=secrets.token_urlsafe(32), created_by=admin,
    )
    mail.send(staff.email, "staff_welcome", link_token=accounts.make_token("reset", staff), kind="staff")
    db.session.commit()
    return staff


def update(admin: Staff, staff: Staff, *, role: str, job_title: str, name: str) -> None:
    _check_role_and_title(role, job_title)
    if not name.strip():
        raise ValidationFailed("Enter a name.")
    if staff.id == admin.id and role != staff.role:
        raise PermissionDenied("You cannot change your own role: ask another administrator.")
    changes = {}
    if role != staff.role:
        changes["role"] = role
    staff.role, staff.job_title, staff.name = role, job_title.strip(), name.strip()
    audit.record(admin, "staff.updated", staff, **changes)
    db.session.commit()


def deactivate(admin: Staff, staff: Staff) -> int:
    """The account stays (its name is on the record) but can do nothing, from this moment."""
    if staff.id == admin.id:
        raise PermissionDenied("You cannot deactivate your own account.")
    staff.active = False
    staff.deactivated_at = utcnow()
    ended = sessions.end_all(staff, "deactivated")
    audit.record(admin, "staff.deactivated", staff, sessions_ended=ended)
    db.session.commit()
    return ended


def reactivate(admin: Staff, staff: Staff) -> None:
    staff.active = True
    staff.deactivated_at = None
    audit.record(admin, "staff.reactivated", staff)
    db.session.commit()


def force_password_reset(admin: Staff, staff: Staff) -> None:
    """The old password stops working at once and every session ends; a link to choose a new one is sent.
    The second factor is still asked for at the next sign-in."""
    staff.password_hash = hash_password(secrets.token_urlsafe(32))
    sessions.end_all(staff, "password_reset_forced")
    audit.record(admin, "staff.password_reset_forced", staff)
    mail.send(staff.email, "password_reset", link_token=accounts.make_token("reset", staff), kind="staff")
    db.session.commit()


def end_sessions_of(admin: Staff, staff: Staff) -> int:
    count = sessions.end_all(staff, "ended_by_admin", keep=admin.login_session if admin.id == staff.id else None)
    audit.record(admin, "staff.sessions_ended", staff, count=count)
    db.session.commit()
    return count


# --- a staff member's own account ------------------------------------------------------------------


def end_own_session(staff: Staff, session_id: int) -> bool:
    """End one of my other sessions (another browser, a forgotten computer). False if it had already ended
    (or was never mine: the same answer)."""
    row = db.session.get(LoginSession, session_id)
    if row is None or row.staff_id != staff.id or row.ended_at is not None:
        return False
    sessions.end(row, "ended_by_owner")
    audit.record(staff, "session.ended", staff, session=row.id)
    db.session.commit()
    return True


def end_other_sessions(staff: Staff) -> int:
    count = sessions.end_all(staff, "ended_by_owner", keep=staff.login_session)
    db.session.commit()
    return count


class EmailChangeLinkUnusable(ServiceError):
    message = ("This link to change your email address has expired or has already been used. "
               "Ask for a new one from your account page.")


def _email_change_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="advice.staff-email-change")


def request_email_change(staff: Staff, password: str, new_email: str) -> str:
    """Step one of a change of email: the new address must be shown to be the staff member's own. What they
    see next is the same whether or not another account uses the address (the service never confirms who
    has an account): a link goes to the new address, or, where an account already uses it, a note there that
    nothing has changed. Either way one email is queued, to that address only. Returns the address."""
    if not verify_password(staff.password_hash, password):
        audit.record(staff, "reauth.failed", staff)
        db.session.commit()
        raise WrongPassword()
    email = accounts.normalise_email(new_email)
    if email == staff.email:
        raise ValidationFailed("That is already your email address.")
    in_use = db.session.scalar(select(Staff.id).where(Staff.email == email)) is not None
    token = _email_change_serializer().dumps({"id": staff.id, "from": staff.email, "to": email})
    audit.record(staff, "staff.email_change_requested", staff)
    if in_use:
        mail.send(email, "staff_email_in_use")
    else:
        mail.send(email, "staff_email_confirm", link_token=token)
    db.session.commit()
    return email


def email_change_target(staff: Staff, token: str) -> str:
    """The address a link from step one would move `staff` to; the link works once (it names the address it
    moves from), for the reset links' lifetime, and only for the staff member who asked."""
    try:
        data = _email_change_serializer().loads(token, max_age=current_app.config["TOKEN_MAX_AGE_SECONDS"])
    except (BadSignature, SignatureExpired) as exc:
        raise EmailChangeLinkUnusable() from exc
    if not isinstance(data, dict) or data.get("id") != staff.id or data.get("from") != staff.email:
        raise EmailChangeLinkUnusable()
    email = data.get("to")
    if not isinstance(email, str) or db.session.scalar(select(Staff.id).where(Staff.email == email)) is not None:
        raise EmailChangeLinkUnusable()
    return email


def confirm_email_change(staff: Staff, token: str) -> str:
    """Step two, from the link in the new inbox, signed in: the address changes and the old one is told."""
    email = email_change_target(staff, token)
    old = staff.email
    staff.email = email
    audit.record(staff, "staff.email_changed", staff)
    mail.send(old, "staff_email_changed")
    db.session.commit()
    return email



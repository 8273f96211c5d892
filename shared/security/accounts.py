"""Registration, sign-in, password reset and staff creation.

The policy forbids confirming that a student has used the service. So registration, sign-in and password
reset give the same answer, with the same work done, whether or not an email is known: every branch
hashes a password and renders an email, and the page shown next is the same.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from shared.audit import log as audit
from shared.models import Account, Staff, StaffRole, Student, utcnow
from shared.platform import mail
from shared.platform.errors import InvalidToken, ServiceError, ValidationFailed
from shared.platform.extensions import db
from shared.platform.passwords import check_password_rules, hash_password, needs_rehash, verify_password
from shared.security import mfa, sessions


class InvalidCredentials(ServiceError):
    message = "That email and password did not match an account. Check them and try again."


# A student's sign-in says this for an unknown address, a wrong password and an unconfirmed address alike:
# which of them it was would tell a stranger whether the student has an account.
NOT_SIGNED_IN = (
    "That email and password did not match an account we can sign you in to, or the address is not "
    "confirmed yet. Check them and try again. If you have just created an account, open the link we "
    "emailed you first."
)


class InvalidEmail(ValidationFailed):
    pass


EMAIL_MAX_LENGTH = 254
INVALID_EMAIL = "Enter a valid email address, like name@cam.ac.uk."


def _fold(text: str) -> str:
    """Compatibility forms (full-width letters, look-alike dots) made plain, then case folded."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def normalise_email(raw: str) -> str:
    """The one form of an email address, made before any lookup, uniqueness check or rate-limit key: NFKC
    and case folding throughout (so U+FF0E, U+FF61 and full-width letters are the plain ones), and the
    domain through IDNA in its ASCII form (U+3002 is a dot, `café` is `xn--caf-dma`). Two spellings of one
    address always give the same string; an address that cannot be one raises InvalidEmail."""
    try:
        result = validate_email(_fold(raw.strip()), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(INVALID_EMAIL) from exc
    email = f"{_fold(result.local_part)}@{result.ascii_domain}"
    if len(email) > EMAIL_MAX_LENGTH:
        raise InvalidEmail(INVALID_EMAIL)
    return email


def email_key(raw: str) -> str:
    """What a per-email rate limit counts: the normal form, or for what is not an address at all, the
    same folding (so look-alike spellings of the same text still share one count)."""
    try:
        return normalise_email(raw)
    except InvalidEmail:
        return _fold(raw.strip())[:EMAIL_MAX_LENGTH]


def check_student_domain(email: str) -> None:
    domains = current_app.config["STUDENT_EMAIL_DOMAINS"]
    domain = email.rsplit("@", 1)[1]
    if not any(domain == d or domain.endswith("." + d) for d in domains):
        allowed = ", ".join("@" + d for d in domains)
        raise InvalidEmail(f"Use your university email address (ending {allowed}).")


def _student_by_email(email: str) -> Student | None:
    return db.session.scalar(select(Student).where(Student.email == email))


def student_with_email(raw: str | None) -> Student | None:
    """The student an address typed by someone else names (a member of staff looking someone up), or None."""
    try:
        return _student_by_email(normalise_email(raw or ""))
    except InvalidEmail:
        return None


def _staff_by_email(email: str) -> Staff | None:
    return db.session.scalar(select(Staff).where(Staff.email == email))


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"advice.{purpose}")


def _fingerprint(account: Account) -> str:
    # Changes when the password or confirmation changes, so each link works once.
    confirmed = getattr(account, "email_confirmed_at", None)
    return hashlib.sha256(f"{account.password_hash}|{confirmed}".encode()).hexdigest()[:20]


def make_token(purpose: str, account: Account) -> str:
    return _serializer(purpose).dumps({"k": account.kind, "id": account.id, "f": _fingerprint(account)})


def _account_from_token(purpose: str, token: str) -> Account:
    try:
        data = _serializer(purpose).loads(token, max_age=current_app.config["TOKEN_MAX_AGE_SECONDS"])
    except (BadSignature, SignatureExpired) as exc:
        raise InvalidToken() from exc
    model = Student if data.get("k") == "student" else Staff
    account = db.session.get(model, data.get("id"))
    if account is None or data.get("f") != _fingerprint(account):
        raise InvalidToken()
    return account


# --- students -----------------------------------------------------------------------------------


def register_student(raw_email: str, password: str) -> None:
    """Same outcome for a new and a known email: an email is sent either way, and nothing else is said."""
    email = normalise_email(raw_email)
    check_student_domain(email)
    check_password_rules(password, email=email)
    password_hash = hash_password(password)
    existing = _student_by_email(email)
    if existing is None:
        student = Student(email=email, password_hash=password_hash)
        db.session.add(student)
        db.session.flush()
        audit.record(None, "student.registered", student, student_id=student.id)
        mail.send(email, "confirm_email", link_token=make_token("confirm", student))
    else:
        audit.record(None, "student.register_repeated", existing, student_id=existing.id)
        mail.send(email, "already_registered")
    db.session.commit()


def confirm_email(token: str) -> Student:
    student = _account_from_token("confirm", token)
    if not isinstance(student, Student):
        raise InvalidToken()
    student.email_confirmed_at = utcnow()
    audit.record(student, "student.email_confirmed", student, student_id=student.id)
    db.session.commit()
    return student


def _authenticate(account: Account | None, password: str) -> Account:
    if not verify_password(account.password_hash if account else None, password) or not account.is_active:
        raise InvalidCredentials()
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def sign_in_student(raw_email: str, password: str, user_agent: str | None = None) -> Student:
    """An unconfirmed account with the right password is answered exactly like a wrong password, with the
    same work done: a new confirmation link is queued to the address (only its owner reads it), and on
    every other refusal the same email is composed and queued to nobody."""
    try:
        email = normalise_email(raw_email)
    except InvalidEmail:
        email = ""  # matches no account, through the same lookup
    student = _student_by_email(email)
    try:
        student = _authenticate(student, password)
    except InvalidCredentials:
        student = None
    if student is None or student.email_confirmed_at is None:
        mail.send(student.email if student else None, "confirm_email",
                  link_token=make_token("confirm", student or _PLACEHOLDER["student"]))
        db.session.commit()
        raise InvalidCredentials(NOT_SIGNED_IN)
    sessions.start(student, user_agent)
    audit.record(student, "student.signed_in", student, student_id=student.id)
    db.session.commit()
    return student


# --- both kinds ------------------------------------------------------------------------------------


def request_password_reset(kind: str, raw_email: str) -> None:
    """Sends a link if an active account uses the address. Says nothing either way, and does the same work
    either way, step for step: one lookup of the same few columns, one audit event, one link made, one
    email composed and queued (to nobody when there is no account), one commit."""
    target = _reset_target(kind, raw_email)
    audit.record(None, "password.reset_requested" if target.to else "password.reset_requested_unknown",
                 (target.table, target.id) if target.to else None,
                 student_id=target.id if target.to and kind == "student" else None)
    mail.send(target.to, "password_reset", link_token=make_token("reset", target), kind=kind)
    db.session.commit()


@dataclass(frozen=True)
class _ResetTarget:
    """What a reset needs of an account, read as plain columns whether or not there is one (loading a
    model only when one exists took measurably longer than finding none)."""

    kind: str
    table: str
    id: int
    password_hash: str
    email_confirmed_at: object
    to: str | None  # None: no active account uses the address; the same work is done for nobody


def _reset_target(kind: str, raw_email: str) -> _ResetTarget:
    try:
        email = normalise_email(raw_email)
    except InvalidEmail:
        email = ""  # matches no account, through the same lookup
    model = Student if kind == "student" else Staff
    extra = Student.email_confirmed_at if model is Student else Staff.active
    row = db.session.execute(
        select(model.id, model.email, model.password_hash, extra).where(model.email == email)
    ).first()
    placeholder = _PLACEHOLDER[kind]
    if row is None or (model is Staff and not row[3]):
        return _ResetTarget(kind, model.__tablename__, placeholder.id, placeholder.password_hash, None, None)
    confirmed = row[3] if model is Student else None
    return _ResetTarget(kind, model.__tablename__, row.id, row.password_hash, confirmed, row.email)


_PLACEHOLDER = {
    "student": Student(id=0, email="-", password_hash="-"),  # noqa: S106 (a placeholder, never saved)
    "staff": Staff(id=0, email="-", password_hash="-"),  # noqa: S106
}


def account_for_reset(kind: str, token: str) -> Account:
    account = _account_from_token("reset", token)
    if account.kind != kind:
        raise InvalidToken()
    return account


def reset_password(kind: str, token: str, new_password: str) -> Account:
    account = account_for_reset(kind, token)
    check_password_rules(new_password, email=account.email)
    account.password_hash = hash_password(new_password)
    if isinstance(account, Student) and account.email_confirmed_at is None:
        account.email_confirmed_at = utcnow()  # the link proved the address
    sessions.end_all(account, "password_reset")
    audit.record(account, "password.reset", account, student_id=_student_id(account))
    db.session.commit()
    return account


def change_password(account: Account, current_password: str, new_password: str) -> None:
    """Ends every other session; the current one carries on."""
    if not verify_password(account.password_hash, current_password):
        raise InvalidCredentials("Your current password is not correct.")
    check_password_rules(new_password, email=account.email)
    account.password_hash = hash_password(new_password)
    sessions.end_all(account, "password_changed", keep=account.login_session)
    audit.record(account, "password.changed", account, student_id=_student_id(account))
    db.session.commit()


def sign_out(account: Account) -> None:
    if account.login_session is not None:
        sessions.end(account.login_session, "signed_out")
    audit.record(account, f"{account.kind}.signed_out", account, student_id=_student_id(account))
    db.session.commit()


def _student_id(account: Account) -> int | None:
    return account.id if account.kind == "student" else None


# --- staff -------------------------------------------------------------------------------------------


def check_staff_password(raw_email: str, password: str, user_agent: str | None = None) -> Staff:
    """The first of the two steps: the password. No session starts here; the caller remembers who is
    half-way in and asks for the code (`complete_staff_sign_in`)."""
    try:
        email = normalise_email(raw_email)
    except InvalidEmail:
        verify_password(None, password)
        raise InvalidCredentials() from None
    staff = _authenticate(_staff_by_email(email), password)
    audit.record(staff, "staff.password_accepted", staff)
    db.session.commit()
    return staff


def staff_fingerprint(staff: Staff) -> str:
    """Changes when the password changes: a half-finished sign-in does not survive a password reset."""
    return _fingerprint(staff)


def staff_half_signed_in(staff_id: int, fingerprint: str) -> Staff:
    staff = db.session.get(Staff, staff_id)
    if staff is None or not staff.is_active or fingerprint != _fingerprint(staff):
        raise InvalidToken("Please sign in again.")
    return staff


def complete_staff_sign_in(staff: Staff, code: str, user_agent: str | None = None) -> Staff:
    """The second step: a fresh TOTP code or an unused recovery code. Only now does a session start."""
    method = mfa.check_second_factor(staff, code)
    sessions.start(staff, user_agent)
    audit.record(staff, "staff.signed_in", staff, method=method)
    db.session.commit()
    return staff


def start_enrolled_session(staff: Staff, user_agent: str | None = None) -> Staff:
    """After confirming enrolment (which checked a code), the session starts."""
    if not staff.mfa_enrolled:
        raise InvalidToken("Please sign in again.")
    sessions.start(staff, user_agent)
    audit.record(staff, "staff.signed_in", staff, method="enrolment")
    db.session.commit()
    return staff


def create_staff(
    *, email: str, name: str, job_title: str, role: str, password: str, created_by: Account | str = "system"
) -> Staff:
    staff = new_staff(email=email, name=name, job_title=job_title, role=role, password=password,
                      created_by=created_by)
    db.session.commit()
    return staff


def new_staff(
    *, email: str, name: str, job_title: str, role: str, password: str, created_by: Account | str = "system"
) -> Staff:
    """A staff account added to the session and audited, not yet committed (the caller commits it, with the
    email that tells the colleague)."""
    email = normalise_email(email)
    if role not in {r.value for r in StaffRole}:
        raise ValidationFailed(f"Role must be one of: {', '.join(r.value for r in StaffRole)}.")
    if not name.strip() or not job_title.strip():
        raise ValidationFailed("A staff account needs a name and a job title.")
    if _staff_by_email(email) is not None:
        raise ValidationFailed("A staff account already uses that email address.")
    check_password_rules(password, email=email)
    staff = Staff(
        email=email, name=name.strip(), job_title=job_title.strip(), role=role, password_hash=hash_password(password)
    )
    db.session.add(staff)
    db.session.flush()
    audit.record(created_by, "staff.created", staff, role=role)
    return staff

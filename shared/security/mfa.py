"""Two-factor authentication for staff: TOTP (RFC 6238) with single-use recovery codes.

Every staff account must have it. Enrolment happens at the first sign-in: the secret is generated on the
server, shown as a QR code (rendered here, no third party sees it) and as text, and only counts once a
code from the app confirms it. A code works once: the time-step it matched is stored, and only a later
step is accepted next time. The clock window is one step either side (about 30 seconds). Recovery codes
are 80-bit random values, stored as SHA-256 hashes, each usable once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, func, select

from shared.audit import log as audit
from shared.models import RecoveryCode, Staff, utcnow
from shared.platform.errors import ServiceError
from shared.platform.extensions import db
from shared.platform.passwords import verify_password
from shared.security import sessions

ISSUER = "Advice Service"
RECOVERY_CODE_COUNT = 10
VALID_WINDOW = 1  # steps either side of now


class InvalidCode(ServiceError):
    message = (
        "That code did not work. Enter the newest 6-digit code from your authenticator app "
        "(each code works once), or one of your recovery codes."
    )


class WrongPassword(ServiceError):
    message = "Your password is not correct."


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(staff: Staff, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """A PNG data: URI (the CSP allows img-src data:), made on the server."""
    return segno.make(uri, error="m").png_data_uri(scale=5, border=4)


def grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _clean(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isalnum()).upper()


def matching_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time-step `code` belongs to within the window, if it is later than the last one used."""
    code = _clean(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(time.time() if now is None else now)
    found = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
            found = step
    return found


def next_code(secret: str, last_step: int | None, now: float | None = None) -> tuple[str, int]:
    """The code `matching_step` would accept now, and the seconds it stays acceptable. Each step is taken
    once, so just after a sign-in that is the next step's code (inside the window), never an earlier one."""
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = totp.timecode(now)
    step = max(current, (last_step or 0) + 1)
    if step > current + VALID_WINDOW:
        raise ServiceError("This account's newest code has just been used: try again in 30 seconds.")
    return totp.generate_otp(step), int((step + VALID_WINDOW + 1) * totp.interval - now)


def _hash_code(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def _new_recovery_codes(staff: Staff) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 16 characters, 80 bits
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(staff_id=staff.id, code_hash=_hash_code(raw)))
    return codes


def recovery_codes_left(staff: Staff) -> int:
    return db.session.scalar(
        select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.staff_id == staff.id, RecoveryCode.used_at.is_(None)
        )
    )


# --- enrolment ----------------------------------------------------------------------------------------


def enrolment_secret(staff: Staff) -> str:
    """The secret to enrol with at first sign-in: made once, kept (encrypted) until confirmed."""
    if staff.mfa_enrolled:
        raise ServiceError("Two-factor authentication is already set up for this account.")
    if staff.totp_secret is None:
        staff.totp_secret = new_secret()
        audit.record(staff, "mfa.enrolment_started", staff)
        db.session.commit()
    return staff.totp_secret


def confirm_enrolment(staff: Staff, code: str) -> list[str]:
    """The first code proves the app holds the secret. Returns the ten recovery codes (shown once)."""
    secret = enrolment_secret(staff)
    step = matching_step(secret, code, staff.totp_last_step)
    if step is None:
        _record_failure(staff, "enrolment")
        raise InvalidCode()
    staff.totp_last_step = step
    staff.mfa_enrolled_at = utcnow()
    codes = _new_recovery_codes(staff)
    audit.record(staff, "mfa.enrolled", staff)
    db.session.commit()
    return codes


# --- the second step of signing in ------------------------------------------------------------------


def _record_failure(staff: Staff, stage: str) -> None:
    audit.record(staff, "mfa.failed", staff, stage=stage)
    db.session.commit()


def check_second_factor(staff: Staff, code: str) -> str:
    """Accept a fresh TOTP code or an unused recovery code (the caller commits). Returns which was used."""
    if not staff.mfa_enrolled:
        raise InvalidCode()
    cleaned = _clean(code)
    if len(cleaned) == 6:
        step = matching_step(staff.totp_secret, cleaned, staff.totp_last_step)
        if step is not None:
            staff.totp_last_step = step
            return "totp"
    elif len(cleaned) == 16:
        row = db.session.scalar(
            select(RecoveryCode).where(
                RecoveryCode.staff_id == staff.id,
                RecoveryCode.code_hash == _hash_code(cleaned),
                RecoveryCode.used_at.is_(None),
            )
        )
        if row is not None:
            row.used_at = utcnow()
            return "recovery_code"
    _record_failure(staff, "sign_in")
    raise InvalidCode()


# --- changes made by the staff member or by an administrator ------------------------------------------


def _check_password(staff: Staff, password: str) -> None:
    if not verify_password(staff.password_hash, password):
        audit.record(staff, "reauth.failed", staff)
        db.session.commit()
        raise WrongPassword()


def replace_authenticator(staff: Staff, password: str, new: str, code: str) -> list[str]:
    """Move to a new authenticator app: needs the password again and a code from the new app.
    New recovery codes are issued and every other session ends."""
    _check_password(staff, password)
    step = matching_step(new, code, None)
    if step is None:
        raise InvalidCode("That code did not match the new secret. Scan the new QR code and try again.")
    staff.totp_secret = new
    staff.totp_last_step = step
    staff.mfa_enrolled_at = utcnow()
    codes = _new_recovery_codes(staff)
    sessions.end_all(staff, "mfa_changed", keep=staff.login_session)
    audit.record(staff, "mfa.replaced", staff)
    db.session.commit()
    return codes


def regenerate_recovery_codes(staff: Staff, password: str) -> list[str]:
    _check_password(staff, password)
    codes = _new_recovery_codes(staff)
    audit.record(staff, "mfa.recovery_codes_renewed", staff)
    db.session.commit()
    return codes


def reset_for(admin: Staff, staff: Staff) -> None:
    """An administrator clears a colleague's two-factor set-up (a lost phone): they enrol again at their
    next sign-in. Their sessions end now."""
    staff.totp_secret = None
    staff.totp_last_step = None
    staff.mfa_enrolled_at = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff.id))
    sessions.end_all(staff, "mfa_reset")
    audit.record(admin, "mfa.reset", staff)
    db.session.commit()


def enrol_for_demo(staff: Staff, secret: str) -> None:
    """Seed data and tests only: an account already enrolled with a known secret (the caller commits)."""
    staff.totp_secret = secret
    staff.mfa_enrolled_at = utcnow()

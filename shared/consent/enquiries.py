"""Third-party enquiries: confirm that a student uses the service only with their consent, otherwise neither
confirm nor deny. Every answer is recorded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shared.audit import log as audit
from shared.consent.gate import Decision, Recipient, decide, new_disclosure
from shared.models import (
    Scope,
    Staff,
    Student,
    ThirdPartyEnquiry,
    utcnow,
)
from shared.platform.answers import checked_text, raise_if
from shared.platform.errors import NotFound
from shared.platform.extensions import db
from shared.security.accounts import student_with_email
from shared.security.authz import can_view_all_cases

NCND = ("The Advice Service is confidential. We can neither confirm nor deny whether any particular person has "
        "contacted us or is using the service. If the person you are asking about would like us to talk to you, "
        "they can give us their consent, and we can then get in touch.")
CONFIRM = ("With their consent, you may confirm that this student is using the Advice Service. Say nothing more "
           "than that unless their consent covers it.")


@dataclass(frozen=True)
class EnquiryAnswer:
    enquiry: object  # ThirdPartyEnquiry
    confirm: bool
    wording: str


def _match_student(about_email: str | None) -> Student | None:
    return student_with_email(about_email) if about_email else None


def answer_enquiry(officer: Staff, *, enquirer_name: str, enquirer_role: str | None, enquirer_organisation: str,
                   about_name: str, about_email: str | None, asked: str) -> EnquiryAnswer:
    """Log an enquiry from outside the service and say what the officer may answer. The answer to someone who
    is not a student of the service is word for word the answer about a student who has not consented."""
    _require_staff(officer)
    errors: dict[str, str] = {}
    enquirer_name = checked_text(errors, "enquirer_name", enquirer_name, "who asked", 200, True)
    enquirer_role = checked_text(errors, "enquirer_role", enquirer_role, "their role", 200, False)
    enquirer_organisation = checked_text(errors, "enquirer_organisation", enquirer_organisation, "their organisation", 200, True)
    about_name = checked_text(errors, "about_name", about_name, "the name they asked about", 200, True)
    about_email = checked_text(errors, "about_email", about_email, "the email they gave", 254, False)
    asked = (asked or "").strip()
    if not asked:
        errors["asked"] = "Enter what they asked."
    elif len(asked) > 5000:
        errors["asked"] = "Keep this under 5000 characters."
    raise_if(errors)
    now = utcnow()
    student = _match_student(about_email)
    recipient = Recipient(enquirer_name, enquirer_organisation)
    decision = decide(student, Scope.ATTENDANCE.value, recipient, at=now) if student else Decision(False, reason="no_consent")
    row = ThirdPartyEnquiry(enquirer_name=enquirer_name, enquirer_role=enquirer_role or None,
                            enquirer_organisation=enquirer_organisation, about_name=about_name,
                            about_email=about_email or None, student_id=student.id if student else None,
                            consent_id=decision.consent.id if decision.allowed else None,
                            answer="confirm" if decision.allowed else "ncnd", answered_by_id=officer.id, answered_at=now)
    row.asked = asked
    db.session.add(row)
    db.session.flush()
    if decision.allowed:
        new_disclosure(student_id=student.id, case_id=None, scope=Scope.ATTENDANCE.value, recipient=recipient,
                        method="other", what=f"Confirmed, in answer to third-party enquiry {row.id}, that the student "
                        "uses the service.", by=officer, at=now, consent=decision.consent)
    audit.record(officer, "enquiry.answered", row, student_id=student.id if student else None, answer=row.answer)
    db.session.commit()
    return EnquiryAnswer(row, decision.allowed, CONFIRM if decision.allowed else NCND)


def _require_staff(staff) -> None:
    """The service checks its actor itself, not only the blueprint's guard: only staff reach enquiries."""
    if not can_view_all_cases(staff):
        raise NotFound()


def enquiries(staff: Staff, limit: int = 50) -> list:
    _require_staff(staff)
    audit.record_view(staff, "enquiries.listed")
    return list(db.session.scalars(select(ThirdPartyEnquiry).order_by(ThirdPartyEnquiry.answered_at.desc()).limit(limit)))


def enquiry(staff: Staff, enquiry_id: int) -> EnquiryAnswer:
    _require_staff(staff)
    row = db.session.get(ThirdPartyEnquiry, enquiry_id)
    if row is None:
        raise NotFound()
    audit.record_view(staff, "enquiry.viewed", row, student_id=row.student_id)
    return EnquiryAnswer(row, row.answer == "confirm", CONFIRM if row.answer == "confirm" else NCND)


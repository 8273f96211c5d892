"""Consent requests: an officer asks a student for a specific consent; the student reads the same informed
wording and approves (which creates the consent) or declines. The email says only that there is a request."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from shared.audit import log as audit
from shared.casework.cases import case_for_staff
from shared.consent import gate as consent
from shared.consent import giving as consent_giving
from shared.models import ConsentRequest, Scope, Staff, Student, utcnow
from shared.platform import mail
from shared.platform.answers import checked_text, raise_if
from shared.platform.errors import InvalidAnswers, NotFound, ValidationFailed
from shared.platform.extensions import db

REQUESTABLE = [s for s in consent.SCOPE_ORDER if s != Scope.DOCUMENTS.value]  # documents are chosen by the student


def ask(officer: Staff, reference: str, details: consent_giving.ConsentDetails, reason: str) -> ConsentRequest:
    case = case_for_staff(officer, reference)
    student = case.student
    details.expires_on = consent_giving.default_expiry()
    details.document_ids = []
    errors: dict[str, str] = {}
    try:
        details = consent_giving.clean_details(student, details)
    except InvalidAnswers as exc:
        errors.update(exc.errors)
    if any(s not in REQUESTABLE for s in details.scopes or []):
        errors["scopes"] = "Ask for documents by talking to the student: they choose which ones."
    reason = checked_text(errors, "reason", reason, "the reason", 2000, required=True, multiline=True,
                          missing="Say why you are asking: the student will read it.")
    raise_if(errors)
    req = ConsentRequest(student_id=student.id, case_id=details.case_id, requested_by_id=officer.id,
                         recipient_name=details.recipient_name, recipient_role=details.recipient_role or None,
                         recipient_organisation=details.recipient_organisation,
                         recipient_contact=details.recipient_contact or None, scopes=details.scopes, created_at=utcnow())
    req.purpose = details.purpose
    req.reason = reason
    db.session.add(req)
    db.session.flush()
    audit.record(officer, "consent_request.sent", req, student_id=student.id, case_id=case.id)
    mail.send(student.email, "consent_request")
    db.session.commit()
    return req


def pending_for(student: Student) -> list[ConsentRequest]:
    return list(db.session.scalars(select(ConsentRequest).where(ConsentRequest.student_id == student.id,
                                                                ConsentRequest.status == "pending")
                                   .order_by(ConsentRequest.created_at.desc())))


def for_student(student: Student, request_id: int) -> ConsentRequest:
    req = db.session.scalar(select(ConsentRequest).where(ConsentRequest.id == request_id,
                                                         ConsentRequest.student_id == student.id))
    if req is None:
        raise NotFound("We could not find that request for consent.")
    return req


def details_of(req: ConsentRequest, expires_on: date | None = None) -> consent_giving.ConsentDetails:
    return consent_giving.ConsentDetails(
        recipient_name=req.recipient_name, recipient_role=req.recipient_role or "",
        recipient_organisation=req.recipient_organisation, recipient_contact=req.recipient_contact or "",
        purpose=req.purpose, scopes=list(req.scopes), document_ids=[], case_id=req.case_id,
        expires_on=expires_on or consent_giving.default_expiry())


def request_for_student(student: Student, request_id: int) -> ConsentRequest:
    req = for_student(student, request_id)
    audit.record_view(student, "consent_request.viewed", req, student_id=student.id, case_id=req.case_id)
    return req


def _open(student: Student, request_id: int) -> ConsentRequest:
    req = for_student(student, request_id)
    if req.status != "pending":
        raise ValidationFailed("You have already answered this request.")
    return req


def approve(student: Student, request_id: int, *, expires_on: date | None, confirmed: bool, typed_name: str | None,
            shown_sha256: str | None):
    """Approving is giving consent, on exactly the request's details and the words the student reviewed."""
    req = _open(student, request_id)
    given = consent_giving.grant(student, details_of(req, expires_on), confirmed=confirmed, typed_name=typed_name,
                          shown_sha256=shown_sha256, commit=False)
    req.status, req.decided_at, req.consent_id = "approved", utcnow(), given.id
    audit.record(student, "consent_request.approved", req, student_id=student.id, consent_id=given.id)
    db.session.commit()
    return given


def decline(student: Student, request_id: int) -> ConsentRequest:
    req = _open(student, request_id)
    req.status, req.decided_at = "declined", utcnow()
    audit.record(student, "consent_request.declined", req, student_id=student.id)
    db.session.commit()
    return req

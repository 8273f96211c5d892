"""Giving and withdrawing consent: the details and their checks, the exact words shown, the record of a
consent given in the portal or taken by an officer, withdrawal, and whether a consent is in force."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select

from shared.audit import log as audit
from shared.consent.gate import (
    SCOPE_LABELS,
    SCOPE_ORDER,
    Recipient,
    consents_of,
    is_in_force,
)
from shared.models import (
    Case,
    CollectionMethod,
    Consent,
    ConsentWording,
    Document,
    Scope,
    Staff,
    Student,
    utcnow,
)
from shared.platform import clock
from shared.platform.answers import checked_text, raise_if
from shared.platform.clock import SERVICE_TZ, add_months
from shared.platform.clock import today as service_today
from shared.platform.errors import NotFound, ValidationFailed
from shared.platform.extensions import db


def max_months() -> int:
    return int(current_app.config.get("CONSENT_MAX_MONTHS", 12))


def default_expiry(today: date | None = None) -> date:
    months = min(int(current_app.config.get("CONSENT_DEFAULT_MONTHS", 12)), max_months())
    return add_months(today or service_today(), months)


def latest_expiry(given_on: date | None = None) -> date:
    """The last day a consent given on `given_on` (today if not said) may last to: the maximum is counted
    from the day it was given, never from the day it was recorded."""
    return add_months(given_on or service_today(), max_months())


# How a consent was obtained. The portal is the student's own; the others an officer records, with evidence.
COLLECTION_METHODS = {
    CollectionMethod.PORTAL.value: "In the portal",
    CollectionMethod.IN_PERSON.value: "In person",
    CollectionMethod.SIGNED_FORM.value: "Signed form",
    CollectionMethod.PHONE.value: "By phone",
    CollectionMethod.EMAIL.value: "By email",
}
OFFICER_METHODS = tuple(m for m in COLLECTION_METHODS if m != CollectionMethod.PORTAL.value)


def how_given(c: Consent) -> str:
    """How a consent was obtained and, if an officer recorded it, who: the same words on every page and receipt."""
    how = COLLECTION_METHODS.get(c.collection_method, c.collection_method.replace("_", " "))
    if c.collection_method == CollectionMethod.PORTAL.value:
        return f"{how}, by the student"
    return f"{how}, recorded by {c.recorded_by.name if c.recorded_by else 'an advice officer'}"


def first_contact(student: Student) -> date:
    """The day the student first contacted the service: the earlier of their registration and their first case."""
    first_case = db.session.scalar(select(func.min(Case.opened_at)).where(Case.student_id == student.id))
    moments = [m for m in (student.created_at, first_case) if m is not None]
    if not moments:
        return service_today()
    return min(m if m.tzinfo else m.replace(tzinfo=UTC) for m in moments).astimezone(SERVICE_TZ).date()


def given_on_problem(student: Student, given_on: date, today: date | None = None) -> str | None:
    """Why an officer may not record consent as given on this day, or None: not in the future, and not
    before the student first contacted the service."""
    today = today or service_today()
    if given_on > today:
        return "The date consent was given cannot be in the future."
    first = first_contact(student)
    if given_on < first:
        return f"The date consent was given cannot be before the student first contacted the service ({format_day(first)})."
    return None


def end_of_day(day: date) -> datetime:
    """A consent 'until 3 March' lasts to the end of 3 March in the UK."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SERVICE_TZ).astimezone(UTC)


format_day = clock.format_day


@dataclass
class ConsentDetails:
    recipient_name: str = ""
    recipient_role: str = ""
    recipient_organisation: str = ""
    recipient_contact: str = ""
    purpose: str = ""
    scopes: list[str] = field(default_factory=list)
    document_ids: list[int] = field(default_factory=list)
    case_id: int | None = None
    expires_on: date | None = None

    @property
    def recipient(self) -> Recipient:
        return Recipient(self.recipient_name, self.recipient_organisation)


def student_documents(student: Student, case_id: int | None = None) -> list[Document]:
    stmt = select(Document).where(Document.student_id == student.id, Document.deleted_at.is_(None))
    if case_id is not None:
        stmt = stmt.where(Document.case_id == case_id)
    return list(db.session.scalars(stmt.order_by(Document.id)))


def clean_details(student: Student, details: ConsentDetails, today: date | None = None) -> ConsentDetails:
    """Check the details a student (or officer) gave; raise InvalidAnswers with a message per field."""
    out, errors = _checked_details(student, details, today)
    raise_if(errors)
    return out


def _checked_details(student: Student, details: ConsentDetails, today: date | None = None,
                     given_on: date | None = None) -> tuple[ConsentDetails, dict[str, str]]:
    """The tidied details and a message per field; the end date is bounded from `given_on` (default today)."""
    errors: dict[str, str] = {}
    out = ConsentDetails()
    out.recipient_name = checked_text(errors, "recipient_name", details.recipient_name, "the name of the person", 200, True)
    out.recipient_role = checked_text(errors, "recipient_role", details.recipient_role, "their role", 200, False)
    out.recipient_organisation = checked_text(errors, "recipient_organisation", details.recipient_organisation,
                                       "their organisation", 200, True)
    out.recipient_contact = checked_text(errors, "recipient_contact", details.recipient_contact, "how to contact them", 254, False)
    out.purpose = checked_text(errors, "purpose", details.purpose, "why they may have this information", 2000, True,
                                 multiline=True)
    scopes = [s for s in SCOPE_ORDER if s in set(details.scopes or [])]
    if not scopes or len(scopes) != len(set(details.scopes or [])):
        errors["scopes"] = "Choose at least one thing we may share."
    out.scopes = scopes
    if details.case_id is not None:
        case = db.session.scalar(select(Case).where(Case.id == details.case_id, Case.student_id == student.id))
        if case is None:
            errors["case_id"] = "Choose one of your cases, or all of them."
    out.case_id = details.case_id
    owned = {d.id for d in student_documents(student, details.case_id)}
    docs = sorted({int(d) for d in details.document_ids or []})
    if Scope.DOCUMENTS.value in scopes:
        if not docs:
            errors["document_ids"] = "Choose the documents we may share."
        elif not set(docs) <= owned:
            errors["document_ids"] = "Choose documents from your own cases."
    elif docs:
        docs = []
    out.document_ids = docs
    today = today or service_today()
    given_on = given_on or today
    latest = latest_expiry(given_on)
    if details.expires_on is None:
        errors["expires_on"] = "Enter the date this consent ends."
    elif details.expires_on < today:
        errors["expires_on"] = "The end date must be today or later."
    elif details.expires_on > latest and given_on == today:
        errors["expires_on"] = f"The end date can be at most {max_months()} months away ({format_day(latest)})."
    elif details.expires_on > latest:
        errors["expires_on"] = (f"The end date can be at most {max_months()} months after the date consent was given "
                                f"({format_day(latest)}).")
    out.expires_on = details.expires_on
    return out, errors


def active_wording() -> ConsentWording:
    wording = db.session.scalar(select(ConsentWording).where(ConsentWording.active.is_(True)).order_by(ConsentWording.id.desc()))
    if wording is None:
        raise ValidationFailed("Consent cannot be recorded at the moment: no wording is set up.")
    return wording


# The same scopes in the student's own voice, for the statement they agree to.
FIRST_PERSON = {
    Scope.ATTENDANCE.value: "that I am using the Advice Service",
    Scope.SUMMARY.value: "a summary of my case: what it is about and where it has got to",
    Scope.FULL_RECORD.value: "my full case record: notes, messages, appointments and documents",
}


def describe_scopes(details: ConsentDetails, documents: dict[int, str] | None = None, *, first_person: bool = False) -> list[str]:
    out = []
    for s in details.scopes:
        if s == Scope.DOCUMENTS.value:
            names = [documents.get(d, f"document {d}") if documents else f"document {d}" for d in details.document_ids]
            out.append("these documents: " + "; ".join(names))
        elif first_person:
            out.append(FIRST_PERSON[s])
        else:
            out.append(SCOPE_LABELS[s][0].lower() + SCOPE_LABELS[s][1:])
    return out


def statement(student: Student, details: ConsentDetails, wording: ConsentWording | None = None) -> str:
    """The exact words the student reads before confirming; the consent keeps them and their SHA-256."""
    wording = wording or active_wording()
    docs = {d.id: d.title for d in student_documents(student)} if details.document_ids else {}
    what = " and ".join(describe_scopes(details, docs, first_person=True))
    recipient = details.recipient_name
    if details.recipient_role:
        recipient += f" ({details.recipient_role})"
    recipient += f" at {details.recipient_organisation}"
    if details.recipient_contact:
        recipient += f", contact: {details.recipient_contact}"
    if details.case_id is None:
        cases = "all my cases with the Advice Service"
    else:
        ref = db.session.scalar(select(Case.reference).where(Case.id == details.case_id))
        cases = f"only my case {ref}"
    return wording.text.format(what=what, recipient=recipient, purpose=details.purpose, cases=cases,
                               until=f"the end of {format_day(details.expires_on)}")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_confirmation(confirmed: bool, typed_name: str | None) -> str:
    typed = " ".join((typed_name or "").split())
    errors = {}
    if not confirmed:
        errors["confirm"] = "Tick the box to confirm that you agree, or go back."
    if not typed:
        errors["typed_name"] = "Type your name to confirm."
    elif len(typed) > 200:
        errors["typed_name"] = "Keep your name under 200 characters."
    raise_if(errors)
    return typed


def _create(student: Student, details: ConsentDetails, *, typed_name: str, method: str, shown_sha256: str | None,
            recorded_by: Staff | None = None, evidence_note: str | None = None, evidence_document_id: int | None = None,
            granted_at: datetime | None = None) -> Consent:
    wording = active_wording()
    shown = statement(student, details, wording)
    if shown_sha256 is not None and shown_sha256 != sha256(shown):
        raise ValidationFailed("The details changed after you reviewed them. Please review them again before confirming.")
    consent = Consent(
        receipt_id=str(uuid.uuid4()), student_id=student.id, case_id=details.case_id,
        recipient_name=details.recipient_name, recipient_role=details.recipient_role or None,
        recipient_organisation=details.recipient_organisation, recipient_contact=details.recipient_contact or None,
        scopes=list(details.scopes), document_ids=list(details.document_ids), granted_at=granted_at or utcnow(),
        expires_at=end_of_day(details.expires_on), collection_method=method,
        recorded_by_id=recorded_by.id if recorded_by else None, evidence_document_id=evidence_document_id,
        wording_version=wording.version, wording_sha256=sha256(shown), typed_name=typed_name,
    )
    consent.purpose = details.purpose
    consent.shown_text = shown
    if evidence_note:
        consent.evidence_note = evidence_note
    db.session.add(consent)
    db.session.flush()
    return consent


def grant(student: Student, details: ConsentDetails, *, confirmed: bool, typed_name: str | None,
          shown_sha256: str | None, commit: bool = True) -> Consent:
    """The student gives consent in the portal, having reviewed exactly the words whose hash they send back.
    `commit=False` only for a caller that commits the grant together with its own change (a consent request)."""
    details = clean_details(student, details)
    typed = _check_confirmation(confirmed, typed_name)
    consent = _create(student, details, typed_name=typed, method=CollectionMethod.PORTAL.value,
                      shown_sha256=shown_sha256 or "")  # the portal always sends the hash of what was shown
    audit.record(student, "consent.granted", consent, student_id=student.id, case_id=consent.case_id,
                 method=consent.collection_method, wording=consent.wording_version)
    if commit:
        db.session.commit()
    return consent


def record_given(officer: Staff, student: Student, details: ConsentDetails, *, method: str, typed_name: str | None,
                 evidence_note: str | None, evidence_document_id: int | None, given_on: date | None = None) -> Consent:
    """An officer records consent the student gave in person, on a signed form, by phone or by email, with the
    evidence. It may be dated back to the day it was given (never before the student first contacted the
    service, never in the future), and it lasts at most the maximum from that day."""
    errors = {}
    if method not in OFFICER_METHODS:
        errors["method"] = "Choose how the student gave consent."
    today = service_today()
    problem = given_on_problem(student, given_on, today) if given_on is not None else None
    if problem:
        errors["given_on"] = problem
    given = given_on if given_on is not None and not problem else today
    details, detail_errors = _checked_details(student, details, today, given_on=given)
    errors.update(detail_errors)
    note = (evidence_note or "").strip()
    if evidence_document_id is not None:
        if evidence_document_id not in {d.id for d in student_documents(student)}:
            errors["evidence_document_id"] = "Choose a document from this student's cases."
    if not note and evidence_document_id is None:
        errors["evidence_note"] = "Describe the evidence (for example, the date and subject of the email), or choose a document."
    elif len(note) > 2000:
        errors["evidence_note"] = "Keep the evidence note under 2000 characters."
    typed = " ".join((typed_name or "").split())
    if not typed:
        errors["typed_name"] = "Enter the student's name as they gave it."
    raise_if(errors)
    when = utcnow() if given == today else end_of_day(given) - timedelta(seconds=1)
    consent = _create(student, details, typed_name=typed, method=method, shown_sha256=None, recorded_by=officer,
                      evidence_note=note or None, evidence_document_id=evidence_document_id, granted_at=when)
    audit.record(officer, "consent.recorded", consent, student_id=student.id, case_id=consent.case_id, method=method,
                 given_on=given.isoformat())
    db.session.commit()
    return consent


def consent_for_student(student: Student, consent_id: int) -> Consent:
    consent = db.session.scalar(select(Consent).where(Consent.id == consent_id, Consent.student_id == student.id))
    if consent is None:
        raise NotFound("We could not find that consent.")
    return consent


def withdraw(actor: Student | Staff, student: Student, consent_id: int) -> Consent:
    """One step, effective at once for every later disclosure. The consent and its history stay."""
    consent = consent_for_student(student, consent_id)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = utcnow()
        consent.withdrawn_by = "student" if actor.kind == "student" else "staff"
        audit.record(actor, "consent.withdrawn", consent, student_id=student.id, case_id=consent.case_id)
        db.session.commit()
    return consent


def consent_state(consent: Consent, at: datetime | None = None) -> str:
    at = at or utcnow()
    if consent.withdrawn_at is not None and consent.withdrawn_at <= at:
        return "withdrawn"
    if at >= consent.expires_at:
        return "expired"
    return "in force"


def valid_consents(student_id: int, at: datetime | None = None) -> list[Consent]:
    at = at or utcnow()
    return [c for c in consents_of(student_id) if is_in_force(c, at)]


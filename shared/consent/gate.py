"""Consent is the gate: the only way anything about a student leaves the service.

`decide` answers one question: may this (scope) about this student (and case) go to this recipient at
this moment? The answer names the consent or breach record it rests on, or the reason it is refused.
`record_disclosure` is the only code that writes a Disclosure resting on consent; `disclose_on_breach`
the only one resting on a breach record (called by the breach procedure in shared/consent/breach.py). The
database backs this up: a disclosure has exactly one basis (check constraint `one_basis`).

Scopes rank attendance < summary < full_record: a consent for a wider scope covers a narrower one.
Documents are separate: a documents consent covers only the documents it names (the full record covers
every document). A consent for one case covers only that case; a consent for "all" covers every case.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select

from shared.audit import log as audit
from shared.casework.cases import case_for_staff
from shared.models import (
    BreachGround,
    BreachRecord,
    Case,
    CollectionMethod,
    Consent,
    ConsentWording,
    Disclosure,
    Document,
    Scope,
    Staff,
    Student,
    ThirdPartyEnquiry,
    utcnow,
)
from shared.platform.errors import ConsentRequired, NotFound, ValidationFailed
from shared.platform.extensions import db
from shared.security.accounts import student_with_email
from shared.subject_access.deadlines import SERVICE_TZ, add_months, service_today

RANK = {Scope.ATTENDANCE.value: 1, Scope.SUMMARY.value: 2, Scope.FULL_RECORD.value: 3}
SCOPE_ORDER = [Scope.ATTENDANCE.value, Scope.SUMMARY.value, Scope.DOCUMENTS.value, Scope.FULL_RECORD.value]
SCOPE_LABELS = {
    Scope.ATTENDANCE.value: "That you are using the Advice Service",
    Scope.SUMMARY.value: "A summary of your case: what it is about and where it has got to",
    Scope.DOCUMENTS.value: "Specific documents that you choose",
    Scope.FULL_RECORD.value: "Your full case record: notes, messages, appointments and documents",
}
STAFF_SCOPE_LABELS = {
    Scope.ATTENDANCE.value: "That the student is using the service",
    Scope.SUMMARY.value: "A summary of the case",
    Scope.DOCUMENTS.value: "Named documents",
    Scope.FULL_RECORD.value: "The full record",
}
METHODS = ("email", "phone", "letter", "in_person", "other")

# Why a disclosure was refused, in the order the checks run: the reason reported is that of the consent
# that got furthest, so "withdrawn" beats "no consent for this recipient" when both apply.
REASONS = {
    "no_consent": "The student has not given consent to share anything with this recipient.",
    "wrong_recipient": "The student's consent does not name this recipient.",
    "wrong_case": "The student's consent for this recipient covers a different case.",
    "wrong_scope": "The student's consent for this recipient does not cover this information.",
    "not_yet": "The student's consent for this recipient was not in force at that time.",
    "withdrawn": "The student has withdrawn their consent for this recipient.",
    "expired": "The student's consent for this recipient has expired.",
}
_CHECK_ORDER = ["wrong_recipient", "wrong_case", "wrong_scope", "not_yet", "withdrawn", "expired"]


def normalise(value: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", value or "").casefold().split())


@dataclass(frozen=True)
class Recipient:
    name: str
    organisation: str

    def matches(self, name: str, organisation: str) -> bool:
        return normalise(self.name) == normalise(name) and normalise(self.organisation) == normalise(organisation)

    def __str__(self) -> str:
        return f"{self.name}, {self.organisation}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    consent: Consent | None = None
    breach: BreachRecord | None = None
    reason: str = ""

    @property
    def message(self) -> str:
        if self.allowed:
            return "Allowed"
        return REASONS.get(self.reason, REASONS["no_consent"])


def scope_covers(granted: list[str], granted_documents: list[int], scope: str, document_ids=()) -> bool:
    """Does a consent for `granted` scopes cover sharing `scope` (and these documents)?"""
    if Scope.FULL_RECORD.value in granted:
        return scope in RANK or scope == Scope.DOCUMENTS.value
    if scope == Scope.DOCUMENTS.value:
        wanted = set(document_ids)
        return Scope.DOCUMENTS.value in granted and bool(wanted) and wanted <= set(granted_documents or ())
    if scope not in RANK:
        return False
    return any(RANK.get(s, 0) >= RANK[scope] for s in granted)


def is_in_force(consent: Consent, at: datetime) -> bool:
    return consent.granted_at <= at < consent.expires_at and (consent.withdrawn_at is None or at < consent.withdrawn_at)


def _first_failure(c: Consent, scope: str, recipient: Recipient, case_id: int | None, document_ids, at: datetime) -> str | None:
    if not recipient.matches(c.recipient_name, c.recipient_organisation):
        return "wrong_recipient"
    if c.case_id is not None and c.case_id != case_id:
        return "wrong_case"
    if not scope_covers(c.scopes or [], c.document_ids or [], scope, document_ids):
        return "wrong_scope"
    if at < c.granted_at:
        return "not_yet"
    if c.withdrawn_at is not None and at >= c.withdrawn_at:
        return "withdrawn"
    if at >= c.expires_at:
        return "expired"
    return None


def evaluate(consents, scope: str, recipient: Recipient, case_id: int | None = None, document_ids=(),
             at: datetime | None = None) -> Decision:
    """The rule itself, over any consents: the first one valid at `at` is the basis, else the best reason."""
    at = at or utcnow()
    best = "no_consent"
    for c in sorted(consents, key=lambda c: (c.granted_at, c.id or 0)):
        failure = _first_failure(c, scope, recipient, case_id, document_ids, at)
        if failure is None:
            return Decision(True, consent=c)
        if best == "no_consent" or _CHECK_ORDER.index(failure) > _CHECK_ORDER.index(best):
            best = failure
    if best == "wrong_recipient":
        best = "no_consent"
    return Decision(False, reason=best)


def consents_of(student_id: int) -> list[Consent]:
    return list(db.session.scalars(select(Consent).where(Consent.student_id == student_id).order_by(Consent.granted_at, Consent.id)))


def decide(student: Student, scope: str, recipient: Recipient, case: Case | None = None, document_ids=(),
           at: datetime | None = None) -> Decision:
    """May `scope` about `student` (and `case`) go to `recipient` at `at` (default now)?"""
    if case is not None and case.student_id != student.id:
        return Decision(False, reason="wrong_case")
    return evaluate(consents_of(student.id), scope, recipient, case.id if case else None, document_ids, at)


def _new_disclosure(*, student_id: int, case_id: int | None, scope: str, recipient: Recipient, method: str, what: str,
                    by: Staff, at: datetime, consent: Consent | None = None, breach: BreachRecord | None = None) -> Disclosure:
    if (consent is None) == (breach is None):
        raise ConsentRequired("A disclosure rests on exactly one basis: a consent or a breach record.")
    row = Disclosure(student_id=student_id, case_id=case_id, consent_id=consent.id if consent else None,
                     breach_record_id=breach.id if breach else None, scope=scope, recipient_name=recipient.name,
                     recipient_organisation=recipient.organisation, method=method, disclosed_at=at, disclosed_by_id=by.id)
    row.what = what
    db.session.add(row)
    db.session.flush()
    return row


def disclosure_errors(scope: str, method: str, what: str) -> dict[str, str]:
    what = (what or "").strip()
    errors = {}
    if scope not in SCOPE_ORDER:
        errors["scope"] = "Choose what was shared."
    if method not in METHODS:
        errors["method"] = "Choose how it was shared."
    if not what:
        errors["what"] = "Say what was shared."
    elif len(what) > 5000:
        errors["what"] = "Keep the description under 5000 characters."
    return errors


def _check_disclosure_text(scope: str, method: str, what: str) -> str:
    raise_if(disclosure_errors(scope, method, what))
    return what.strip()


def record_disclosure(officer: Staff, student: Student, scope: str, recipient: Recipient, *, what: str, method: str,
                      case: Case | None = None, document_ids=(), at: datetime | None = None) -> Disclosure:
    """Share through the gate: recorded on the consent that allows it, or refused (and the refusal audited)."""
    what = _check_disclosure_text(scope, method, what)
    at = at or utcnow()
    decision = decide(student, scope, recipient, case, document_ids, at)
    case_id = case.id if case else None
    if not decision.allowed:
        audit.record(officer, "disclosure.refused", ("students", student.id), student_id=student.id, case_id=case_id,
                     scope=scope, reason=decision.reason)
        db.session.commit()
        raise ConsentRequired(decision.message)
    row = _new_disclosure(student_id=student.id, case_id=case_id, scope=scope, recipient=recipient, method=method,
                          what=what, by=officer, at=at, consent=decision.consent)
    audit.record(officer, "disclosure.recorded", row, student_id=student.id, case_id=case_id, scope=scope,
                 consent_id=decision.consent.id)
    db.session.commit()
    return row


def disclose_on_breach(breach: BreachRecord, officer: Staff, *, scope: str, what: str, method: str) -> Disclosure:
    """The disclosure a breach record allows: to its recipient, on one of the two grounds. Caller commits."""
    if breach.ground not in (BreachGround.SAFETY.value, BreachGround.TERRORISM.value) or breach.id is None:
        raise ConsentRequired("Only a recorded breach on one of the two grounds can be a basis.")
    req = breach.request
    advised = req is not None and any(c.consulted_at is not None and c.consulted_at <= breach.decided_at
                                      for c in req.consultations)
    if req is None or not (advised or breach.urgent_reason):
        raise ConsentRequired("A breach is a basis only once another advice officer has given their advice, or, in "
                              "a serious and imminent danger to life, with the reason there was no time to wait.")
    what = _check_disclosure_text(scope, method, what)
    return _new_disclosure(student_id=breach.student_id, case_id=breach.case_id, scope=scope,
                           recipient=Recipient(breach.recipient_name, breach.recipient_organisation), method=method,
                           what=what, by=officer, at=breach.decided_at, breach=breach)


# --- Giving consent: the details, the exact words shown, the record --------------------------------------------


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


def format_day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


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


class InvalidConsent(ValidationFailed):
    """Per-field messages, keyed by form field name."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values()), "Please correct the errors shown."))
        self.errors = errors


def raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise InvalidConsent(errors)


def _text(errors: dict, name: str, value: str | None, label: str, limit: int, required: bool) -> str:
    value = " ".join((value or "").split()) if name != "purpose" else (value or "").strip()
    if required and not value:
        errors[name] = f"Enter {label}."
    elif len(value) > limit:
        errors[name] = f"Keep {label} under {limit} characters."
    return value


def student_documents(student: Student, case_id: int | None = None) -> list[Document]:
    stmt = select(Document).where(Document.student_id == student.id, Document.deleted_at.is_(None))
    if case_id is not None:
        stmt = stmt.where(Document.case_id == case_id)
    return list(db.session.scalars(stmt.order_by(Document.id)))


def clean_details(student: Student, details: ConsentDetails, today: date | None = None) -> ConsentDetails:
    """Check the details a student (or officer) gave; raise InvalidConsent with a message per field."""
    out, errors = _checked_details(student, details, today)
    raise_if(errors)
    return out


def _checked_details(student: Student, details: ConsentDetails, today: date | None = None,
                     given_on: date | None = None) -> tuple[ConsentDetails, dict[str, str]]:
    """The tidied details and a message per field; the end date is bounded from `given_on` (default today)."""
    errors: dict[str, str] = {}
    out = ConsentDetails()
    out.recipient_name = _text(errors, "recipient_name", details.recipient_name, "the name of the person", 200, True)
    out.recipient_role = _text(errors, "recipient_role", details.recipient_role, "their role", 200, False)
    out.recipient_organisation = _text(errors, "recipient_organisation", details.recipient_organisation,
                                       "their organisation", 200, True)
    out.recipient_contact = _text(errors, "recipient_contact", details.recipient_contact, "how to contact them", 254, False)
    out.purpose = _text(errors, "purpose", details.purpose, "why they may have this information", 2000, True)
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
        raise NotFound()
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


def status(consent: Consent, at: datetime | None = None) -> str:
    at = at or utcnow()
    if consent.withdrawn_at is not None and consent.withdrawn_at <= at:
        return "withdrawn"
    if at >= consent.expires_at:
        return "expired"
    return "in force"


def valid_consents(student_id: int, at: datetime | None = None) -> list[Consent]:
    at = at or utcnow()
    return [c for c in consents_of(student_id) if is_in_force(c, at)]


# --- What the student sees: their consents and the disclosures about them ----------------------------------


def format_moment(value: datetime) -> str:
    local = value.astimezone(SERVICE_TZ)
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"


def my_consents(student: Student) -> list[Consent]:
    rows = list(reversed(consents_of(student.id)))
    audit.record_view(student, "consents.viewed", ("students", student.id), student_id=student.id, count=len(rows))
    return rows


def view_consent(actor: Student | Staff, student: Student, consent_id: int) -> Consent:
    consent = consent_for_student(student, consent_id)
    audit.record_view(actor, "consent.viewed", consent, student_id=student.id, case_id=consent.case_id)
    return consent


def visible_to_student():
    """The one rule for what of the ledger the student side may know (the portal's history, the copy of their
    records): disclosures on consent, or on a breach record that is not on the terrorism ground. The law
    forbids tipping off (Terrorism Act 2000), so those never reach anything student-facing."""
    hidden = select(BreachRecord.id).where(BreachRecord.ground == BreachGround.TERRORISM.value)
    return Disclosure.breach_record_id.is_(None) | Disclosure.breach_record_id.not_in(hidden)


def student_visible_disclosures(student_id: int) -> list[Disclosure]:
    stmt = (select(Disclosure).where(Disclosure.student_id == student_id, visible_to_student())
            .order_by(Disclosure.disclosed_at.desc(), Disclosure.id.desc()))
    return list(db.session.scalars(stmt))


def basis_for_student(d: Disclosure) -> str:
    if d.consent_id is not None:
        return f"Your consent given on {format_moment(d.consent.granted_at)} (receipt {d.consent.receipt_id})"
    if d.breach_record.ground == BreachGround.SAFETY.value:
        return ("Without your consent, because there appeared to be a serious and imminent risk to your safety "
                "or to someone else's safety")
    raise ValueError("not shown to students")  # never reached: filtered out by the query


@dataclass(frozen=True)
class HistoryRow:
    id: int
    recipient: str
    scope: str
    what: str
    method: str
    at: datetime
    basis: str
    consent_id: int | None


def disclosure_history(student: Student) -> list[HistoryRow]:
    rows = [
        HistoryRow(d.id, f"{d.recipient_name}, {d.recipient_organisation}", SCOPE_LABELS.get(d.scope, d.scope), d.what or "",
                   d.method.replace("_", " "), d.disclosed_at, basis_for_student(d), d.consent_id)
        for d in student_visible_disclosures(student.id)
    ]
    audit.record_view(student, "disclosures.viewed", ("students", student.id), student_id=student.id, count=len(rows))
    return rows


# --- Officers: the sharing page of a case, recording through the gate -------------------------------------


@dataclass(frozen=True)
class Offer:
    """A recipient an officer may share with now, and what a valid consent lets them have."""

    consent_id: int
    recipient: Recipient
    scopes: list[str]
    document_ids: list[int]
    until: datetime


@dataclass
class SharingPage:
    case: Case
    consents: list[Consent]
    offers: list[Offer]
    disclosures: list[Disclosure]
    breaches: list[BreachRecord]

    @property
    def terrorism_ground(self) -> bool:
        return any(b.ground == BreachGround.TERRORISM.value for b in self.breaches)


def offers_for(student_id: int, case_id: int | None, at: datetime | None = None) -> list[Offer]:
    at = at or utcnow()
    return [
        Offer(c.id, Recipient(c.recipient_name, c.recipient_organisation), list(c.scopes), list(c.document_ids or []), c.expires_at)
        for c in valid_consents(student_id, at) if c.case_id is None or c.case_id == case_id
    ]


def sharing_page(staff: Staff, reference: str) -> SharingPage:
    """Everything about what may leave, and what has, for one case's student. Staff see terrorism-ground rows."""
    case = case_for_staff(staff, reference)
    audit.record_view(staff, "sharing.viewed", case, student_id=case.student_id, case_id=case.id)
    sid = case.student_id
    disclosures = list(db.session.scalars(select(Disclosure).where(Disclosure.student_id == sid)
                                          .order_by(Disclosure.disclosed_at.desc(), Disclosure.id.desc())))
    breaches = list(db.session.scalars(select(BreachRecord).where(BreachRecord.student_id == sid)
                                       .order_by(BreachRecord.decided_at.desc())))
    return SharingPage(case, list(reversed(consents_of(sid))), offers_for(sid, case.id), disclosures, breaches)


def share_from_case(officer: Staff, reference: str, *, consent_id: int | None, scope: str, what: str, method: str,
                    document_ids=()) -> Disclosure:
    """An officer shares under one of the offered consents. Anything else is refused by the gate, and audited."""
    case = case_for_staff(officer, reference)
    chosen = db.session.scalar(select(Consent).where(Consent.id == consent_id, Consent.student_id == case.student_id)) \
        if consent_id else None
    recipient = Recipient(chosen.recipient_name, chosen.recipient_organisation) if chosen else Recipient("", "")
    return record_disclosure(officer, case.student, scope, recipient, what=what, method=method, case=case,
                             document_ids=[int(d) for d in document_ids])


# --- Third-party enquiries: confirm only with consent, otherwise neither confirm nor deny ------------------

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
    errors: dict[str, str] = {}
    enquirer_name = _text(errors, "enquirer_name", enquirer_name, "who asked", 200, True)
    enquirer_role = _text(errors, "enquirer_role", enquirer_role, "their role", 200, False)
    enquirer_organisation = _text(errors, "enquirer_organisation", enquirer_organisation, "their organisation", 200, True)
    about_name = _text(errors, "about_name", about_name, "the name they asked about", 200, True)
    about_email = _text(errors, "about_email", about_email, "the email they gave", 254, False)
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
        _new_disclosure(student_id=student.id, case_id=None, scope=Scope.ATTENDANCE.value, recipient=recipient,
                        method="other", what=f"Confirmed, in answer to third-party enquiry {row.id}, that the student "
                        "uses the service.", by=officer, at=now, consent=decision.consent)
    audit.record(officer, "enquiry.answered", row, student_id=student.id if student else None, answer=row.answer)
    db.session.commit()
    return EnquiryAnswer(row, decision.allowed, CONFIRM if decision.allowed else NCND)


def enquiries(staff: Staff, limit: int = 50) -> list:
    audit.record_view(staff, "enquiries.listed")
    return list(db.session.scalars(select(ThirdPartyEnquiry).order_by(ThirdPartyEnquiry.answered_at.desc()).limit(limit)))


def enquiry(staff: Staff, enquiry_id: int) -> EnquiryAnswer:
    row = db.session.get(ThirdPartyEnquiry, enquiry_id)
    if row is None:
        raise NotFound()
    audit.record_view(staff, "enquiry.viewed", row, student_id=row.student_id)
    return EnquiryAnswer(row, row.answer == "confirm", CONFIRM if row.answer == "confirm" else NCND)

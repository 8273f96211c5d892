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

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shared.audit import log as audit
from shared.models import (
    BreachGround,
    BreachRecord,
    Case,
    Consent,
    Disclosure,
    Scope,
    Staff,
    Student,
    utcnow,
)
from shared.platform.answers import raise_if, too_long
from shared.platform.errors import ConsentRequired
from shared.platform.extensions import db

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


def new_disclosure(*, student_id: int, case_id: int | None, scope: str, recipient: Recipient, method: str, what: str,
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
        errors["what"] = too_long("the description", 5000, len(what))
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
    row = new_disclosure(student_id=student.id, case_id=case_id, scope=scope, recipient=recipient, method=method,
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
    return new_disclosure(student_id=breach.student_id, case_id=breach.case_id, scope=scope,
                           recipient=Recipient(breach.recipient_name, breach.recipient_organisation), method=method,
                           what=what, by=officer, at=breach.decided_at, breach=breach)



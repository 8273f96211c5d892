"""What the student sees: their consents and the disclosures made about them, with what each rested on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shared.audit import log as audit
from shared.consent.gate import SCOPE_LABELS, consents_of
from shared.consent.giving import consent_for_student
from shared.models import (
    BreachGround,
    BreachRecord,
    Consent,
    Disclosure,
    Staff,
    Student,
)
from shared.platform import clock
from shared.platform.extensions import db

format_moment = clock.format_moment


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


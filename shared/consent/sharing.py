"""Officers' sharing page of a case: what may be shared now and on which consent, recorded through the gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shared.audit import log as audit
from shared.casework.cases import case_for_staff
from shared.consent.gate import Recipient, consents_of, record_disclosure
from shared.consent.giving import valid_consents
from shared.models import (
    BreachGround,
    BreachRecord,
    Case,
    Consent,
    Disclosure,
    Staff,
    utcnow,
)
from shared.platform.extensions import db


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


"""Factories for the statistics tests: cases in bulk, consents and disclosures. All data is fictional."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from shared.models import BreachRecord, Case, Consent, Disclosure, ListItem, StudentProfile
from shared.platform.extensions import db
from tests import factories

_ref = itertools.count(1)


def when(year: int, month: int, day: int = 10, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def student_with_profile(name: str = "Morwenna Quillfeather", crsid: str = "mq301"):
    student = factories.make_student()
    db.session.add(StudentProfile(student_id=student.id, full_name=name, crsid=crsid, college_code="trinity",
                                  faculty="Law", year_of_study="2"))
    db.session.commit()
    return student


def add_cases(count: int = 1, *, student=None, area: str = "housing", college: str | None = "trinity",
              faculty: str | None = "Law", year: str | None = "2", contact: str = "portal",
              opened: datetime | None = None, responded_after: timedelta | None = None,
              closed_after: timedelta | None = None, outcome: str | None = None, officer=None) -> None:
    """`count` cases alike, in one bulk insert."""
    student = student or factories.make_student()
    opened = opened or when(2026, 3)
    rows = []
    for _ in range(count):
        n = next(_ref)
        rows.append(dict(
            reference=f"ADV-2026-{n:05d}", student_id=student.id, area_code=area, college_code=college,
            faculty=faculty, year_of_study=year, contact_method=contact, urgency="normal", private_room=False,
            opened_at=opened, first_response_at=opened + responded_after if responded_after else None,
            closed_at=opened + closed_after if closed_after else None,
            status="closed" if closed_after else "open", outcome_code=outcome if closed_after else None,
            assigned_to_id=officer.id if officer else None,
        ))
    db.session.execute(insert(Case), rows)
    db.session.commit()


def list_items(kind: str, *labels: str) -> None:
    """Items of a service list (faculties, years of study): the only labels a publishable report prints."""
    for position, label in enumerate(labels, start=1):
        db.session.add(ListItem(kind=kind, code=label.lower().replace(" ", "_"), label=label, position=position))
    db.session.commit()


def add_consent(student, *, granted: datetime, withdrawn: datetime | None = None, case_id=None) -> Consent:
    consent = Consent(
        receipt_id=str(uuid.uuid4()), student_id=student.id, case_id=case_id, recipient_name="Dr Ada Fictional",
        recipient_organisation="Fictional College", scopes=["summary"], granted_at=granted,
        expires_at=granted + timedelta(days=365), withdrawn_at=withdrawn, withdrawn_by="student" if withdrawn else None,
        collection_method="portal", wording_version="v1", wording_sha256="0" * 64, typed_name="Morwenna Quillfeather",
    )
    consent.purpose = "To support an appeal"
    consent.shown_text = "I agree"
    db.session.add(consent)
    db.session.commit()
    return consent


def add_disclosure(student, officer, *, at: datetime, consent=None, ground: str | None = None) -> Disclosure:
    breach = None
    if ground:
        breach = BreachRecord(student_id=student.id, ground=ground, recipient_name="Duty Team",
                              recipient_organisation="Fictional Services", decided_by_id=officer.id, decided_at=at)
        breach.situation = "Fictional situation"
        breach.achieves = "Fictional aim"
        db.session.add(breach)
        db.session.flush()
    disclosure = Disclosure(student_id=student.id, consent_id=consent.id if consent else None,
                            breach_record_id=breach.id if breach else None, scope="summary",
                            recipient_name="Dr Ada Fictional", recipient_organisation="Fictional College",
                            method="email", disclosed_at=at, disclosed_by_id=officer.id)
    disclosure.what = "A summary"
    db.session.add(disclosure)
    db.session.commit()
    return disclosure

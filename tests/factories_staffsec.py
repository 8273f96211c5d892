"""Factories for the staff-security and data-lifecycle tests: cases with every kind of content, closed
long ago or not, and documents stored the way the service stores them. All fictional."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta

from shared.models import (
    Case,
    CaseEntry,
    CaseEntryVersion,
    Consent,
    Document,
    Message,
    ReflectiveFlag,
    StudentProfile,
    utcnow,
)
from shared.platform import blobs
from shared.platform.crypto import current_key_id, new_uid
from shared.platform.extensions import db

_seq = itertools.count(1)


def make_profile(student, **kw) -> StudentProfile:
    profile = StudentProfile(student_id=student.id, full_name=kw.get("full_name", "Morgan Fictional"),
                             crsid="mf123", phone="01234 567890", college_code="clare", faculty="History",
                             year_of_study="2")
    profile.contact_notes = "Prefers email after 6pm"
    db.session.add(profile)
    db.session.commit()
    return profile


def make_document(student, case=None, data: bytes = b"%PDF-1.4 fictional letter", title="letter.pdf") -> Document:
    uid = new_uid()
    blobs.store().put(f"documents/{uid}", data, f"documents.content.{uid}")
    doc = Document(uid=uid, case_id=case.id if case else None, student_id=student.id, uploaded_by_student=True,
                   content_type="application/pdf", size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   key_id=current_key_id())
    doc.title = title
    db.session.add(doc)
    db.session.commit()
    return doc


def make_case(student, officer, *, closed_years_ago: float | None = None, status: str | None = None,
              area="housing", college="clare", outcome="resolved") -> Case:
    n = next(_seq)
    now = utcnow()
    closed_at = None if closed_years_ago is None else now - timedelta(days=365.25 * closed_years_ago)
    opened = (closed_at or now) - timedelta(days=40)
    case = Case(reference=f"ADV-2019-{n:04d}", student_id=student.id, area_code=area, college_code=college,
                faculty="History", year_of_study="2", status=status or ("closed" if closed_at else "open"),
                opened_at=opened, first_response_at=opened + timedelta(days=2, hours=3), closed_at=closed_at,
                outcome_code=outcome if closed_at else None, assigned_to_id=officer.id)
    case.what_happened = "My landlord kept my deposit (fictional)"
    case.outcome_wanted = "Get the deposit back"
    db.session.add(case)
    db.session.flush()
    entry = CaseEntry(case_id=case.id, kind="advice", occurred_at=opened, author_id=officer.id)
    db.session.add(entry)
    db.session.flush()
    version = CaseEntryVersion(entry_id=entry.id, version=1, edited_by_id=officer.id)
    version.text = "Advised on the deposit protection scheme"
    db.session.add(version)
    message = Message(case_id=case.id, from_student=True)
    message.body = "Thank you for your help"
    db.session.add(message)
    flag = ReflectiveFlag(case_id=case.id, flagged_by_id=officer.id)
    flag.reason = "Discuss at reflective practice"
    db.session.add(flag)
    consent = Consent(receipt_id=f"r-{n}-{new_uid()[:8]}", student_id=student.id, case_id=case.id,
                      recipient_name="Dr Tutor Example", recipient_organisation="Clare College",
                      scopes=["summary"], expires_at=now + timedelta(days=30), collection_method="portal",
                      wording_version="1", wording_sha256="0" * 64, typed_name="Morgan Fictional")
    consent.purpose = "To tell my tutor about the housing problem"
    consent.shown_text = "I agree that ..."
    db.session.add(consent)
    db.session.commit()
    make_document(student, case)
    return case

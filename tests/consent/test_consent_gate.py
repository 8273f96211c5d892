"""The gate: nothing about a student leaves the service without a basis valid at that moment."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from shared.consent import gate
from shared.consent import giving as consent_giving
from shared.models import AuditEvent, Disclosure, utcnow
from shared.models.consent import ImmutableRecord
from shared.platform.errors import ConsentRequired
from tests.factories_access import make_document
from tests.factories_casework import make_case
from tests.factories_consent import GP, TUTOR, TUTORS_COLLEAGUE, give_consent

ROOT = Path(__file__).resolve().parents[2]


def share(officer, student, scope="summary", recipient=TUTOR, **kw):
    return gate.record_disclosure(officer, student, scope, recipient, what="Told them the case is in hand.",
                                  method="email", **kw)


def disclosures(db):
    return db.session.scalar(select(func.count()).select_from(Disclosure))


def test_valid_consent_allows_disclosure_and_the_record_names_it(db, student, officer):
    consent = give_consent(student)
    row = share(officer, student)
    assert row.consent_id == consent.id and row.breach_record_id is None
    assert row.what == "Told them the case is in hand."


def test_no_consent_means_no_disclosure(db, student, officer):
    with pytest.raises(ConsentRequired, match="not given consent"):
        share(officer, student)
    assert disclosures(db) == 0


def test_withdrawn_consent_blocks_disclosure(db, student, officer):
    consent = give_consent(student)
    share(officer, student)
    consent_giving.withdraw(student, student, consent.id)
    with pytest.raises(ConsentRequired, match="withdrawn"):
        share(officer, student)
    assert disclosures(db) == 1


def test_expired_consent_blocks_disclosure(db, student, officer):
    give_consent(student, granted_at=utcnow() - timedelta(days=400), expires_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(ConsentRequired, match="expired"):
        share(officer, student)


def test_consent_for_another_recipient_is_refused(db, student, officer):
    give_consent(student, GP)
    with pytest.raises(ConsentRequired):
        share(officer, student, recipient=TUTOR)


def test_consent_for_a_person_does_not_cover_a_colleague_at_the_same_organisation(db, student, officer):
    give_consent(student, TUTOR, scopes=["full_record"])
    decision = gate.decide(student, "attendance", TUTORS_COLLEAGUE)
    assert not decision.allowed and decision.reason == "no_consent"  # as for anyone the student never named
    with pytest.raises(ConsentRequired, match="not given consent"):
        share(officer, student, recipient=TUTORS_COLLEAGUE)
    assert disclosures(db) == 0


def test_recipient_match_ignores_case_and_spacing_only(db, student, officer):
    give_consent(student)
    share(officer, student, recipient=gate.Recipient("  dr pat   TUTORNAME", "fictional college"))
    with pytest.raises(ConsentRequired):
        share(officer, student, recipient=gate.Recipient("Dr Pat Tutorname", "Another College"))


def test_consent_covers_narrower_scopes_but_never_wider(db, student, officer):
    give_consent(student, scopes=["summary"])
    share(officer, student, "attendance")
    share(officer, student, "summary")
    with pytest.raises(ConsentRequired, match="does not cover this information"):
        share(officer, student, "full_record")


def test_documents_consent_covers_only_the_named_documents(db, student, officer):
    case = make_case(student)
    named = make_document(case, "Extension letter", b"%PDF-1.4 named", "application/pdf")
    other = make_document(case, "Medical note", b"%PDF-1.4 other", "application/pdf")
    give_consent(student, scopes=["documents"], document_ids=[named.id])
    share(officer, student, "documents", case=case, document_ids=[named.id])
    for ids in ([other.id], [named.id, other.id], []):
        with pytest.raises(ConsentRequired):
            share(officer, student, "documents", case=case, document_ids=ids)
    with pytest.raises(ConsentRequired):
        share(officer, student, "summary")


def test_consent_for_one_case_does_not_cover_another(db, student, officer):
    first, second = make_case(student), make_case(student)
    give_consent(student, case=first)
    share(officer, student, case=first)
    with pytest.raises(ConsentRequired, match="different case"):
        share(officer, student, case=second)


def test_another_students_consent_never_covers(db, student, other_student, officer):
    give_consent(other_student)
    with pytest.raises(ConsentRequired):
        share(officer, student)
    other_case = make_case(other_student)
    with pytest.raises(ConsentRequired):
        share(officer, student, case=other_case)


def test_decision_names_its_basis_or_its_reason(db, student):
    consent = give_consent(student)
    yes = gate.decide(student, "summary", TUTOR)
    no = gate.decide(student, "summary", GP)
    assert yes.allowed and yes.consent.id == consent.id
    assert not no.allowed and no.consent is None and no.reason == "no_consent"
    earlier = gate.decide(student, "summary", TUTOR, at=consent.granted_at - timedelta(seconds=1))
    assert not earlier.allowed and earlier.reason == "not_yet"


def test_refused_disclosure_is_audited_with_its_reason(db, student, officer):
    with pytest.raises(ConsentRequired):
        share(officer, student)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "disclosure.refused")).one()
    assert event.student_id == student.id and event.actor_id == officer.id
    assert event.details["reason"] == "no_consent"


def _raw_disclosure(db, student, officer, **basis):
    values = dict(student_id=student.id, scope="summary", recipient_name="X", recipient_organisation="Y",
                  method="email", what_enc="v1:t1:AAAA", disclosed_at=utcnow(), disclosed_by_id=officer.id)
    db.session.execute(insert(Disclosure.__table__).values(**values, **basis))
    db.session.commit()


def test_the_database_itself_rejects_a_disclosure_with_no_basis(db, student, officer):
    with pytest.raises(IntegrityError):
        _raw_disclosure(db, student, officer)
    db.session.rollback()


def test_the_database_itself_rejects_a_disclosure_with_two_bases(db, student, officer):
    from tests.factories_access import make_breach

    consent = give_consent(student)
    breach = make_breach(student, officer)
    with pytest.raises(IntegrityError):
        _raw_disclosure(db, student, officer, consent_id=consent.id, breach_record_id=breach.id)
    db.session.rollback()


def test_the_ledger_cannot_be_edited_or_deleted(db, student, officer):
    give_consent(student)
    row = share(officer, student)
    row.method = "phone"
    with pytest.raises(ImmutableRecord):
        db.session.commit()
    db.session.rollback()
    db.session.delete(row)
    with pytest.raises(ImmutableRecord):
        db.session.commit()
    db.session.rollback()


def test_only_the_gate_creates_disclosures():
    pattern = re.compile(r"\bDisclosure\(")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("shared", "portal", "backoffice")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text()) and path.relative_to(ROOT).as_posix() not in
        {"shared/consent/gate.py", "shared/models/consent.py"}
    ]
    assert offenders == []


def test_a_consent_is_never_deleted_and_only_its_withdrawal_can_be_added(db, student):
    consent = give_consent(student)
    consent.scopes = ["full_record"]
    with pytest.raises(ImmutableRecord):
        db.session.commit()
    db.session.rollback()
    db.session.delete(consent)
    with pytest.raises(ImmutableRecord):
        db.session.commit()
    db.session.rollback()
    consent_giving.withdraw(student, student, consent.id)
    assert consent.withdrawn_at is not None and consent.withdrawn_by == "student"

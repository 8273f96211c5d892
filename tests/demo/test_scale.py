"""seed-scale: bulk benchmark data that is as consistent as data made through the services."""

from sqlalchemy import func, select

from shared.audit import log as audit
from shared.demo.scale import BIG_CASE_ENTRIES, seed_scale
from shared.models import (
    AuditEvent,
    Case,
    CaseEntry,
    CaseEntryVersion,
    Consent,
    Disclosure,
    Message,
    Student,
    StudentProfile,
)


def _count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_scale_makes_consistent_data_whose_audit_chain_verifies(app, db):
    audit.record("system", "before.seeding")  # the bulk path continues an existing chain
    db.session.commit()
    result = seed_scale(60, batch_size=25)

    assert _count(db, Case) == 61  # 60 plus the long case
    assert _count(db, Student) == result["students"] == _count(db, StudentProfile)
    assert 60 // 5 <= result["students"] <= 60 // 5 + 3
    assert _count(db, CaseEntry, CaseEntry.case_id == result["big_case_id"]) == BIG_CASE_ENTRIES
    entries = _count(db, CaseEntry)
    assert 8 * 60 + BIG_CASE_ENTRIES <= entries <= 12 * 60 + BIG_CASE_ENTRIES
    # every entry has its versions, numbered 1..current_version
    assert _count(db, CaseEntryVersion) == db.session.scalar(select(func.sum(CaseEntry.current_version)))
    references = db.session.scalars(select(Case.reference)).all()
    assert len(set(references)) == len(references)
    assert all(r.startswith("ADV-") and len(r.split("-")[2]) == 5 for r in references)

    verification = audit.verify()
    assert verification.ok, str(verification)
    assert verification.checked == _count(db, AuditEvent) == 1 + result["audit_events"] + 12  # + scale staff


def test_every_seeded_disclosure_rests_on_exactly_one_basis(app, db):
    seed_scale(1200, batch_size=500)
    disclosures = db.session.scalars(select(Disclosure)).all()
    assert disclosures
    for d in disclosures:
        assert (d.consent_id is None) != (d.breach_record_id is None)
        if d.consent_id is not None:
            consent = db.session.get(Consent, d.consent_id)
            assert consent.student_id == d.student_id and consent.case_id == d.case_id
    assert any(d.breach_record_id for d in disclosures)


def test_seeded_text_is_encrypted_and_opens_through_the_models(app, db):
    result = seed_scale(10)
    case = db.session.get(Case, result["sample_case_id"])
    assert case.what_happened.strip()
    assert case._what_happened_enc.startswith("v1:") and case.what_happened not in case._what_happened_enc
    version = db.session.scalars(select(CaseEntryVersion)).first()
    assert version.text and version._text_enc.startswith("v1:")
    message = db.session.scalars(select(Message)).first()
    if message is not None:
        assert message.body


def test_seed_scale_twice_keeps_references_unique_and_the_chain_valid(app, db):
    seed_scale(20)
    seed_scale(20, seed=7)
    references = db.session.scalars(select(Case.reference)).all()
    assert len(references) == 42 and len(set(references)) == 42
    assert audit.verify().ok


def test_seed_scale_command_refuses_production(app):
    app.config["PRODUCTION"] = True
    try:
        result = app.test_cli_runner().invoke(args=["seed-scale", "--cases", "5"])
    finally:
        app.config["PRODUCTION"] = False
    assert result.exit_code != 0 and "not available in production" in result.output


def test_seed_scale_command_reports_what_it_made(app, db):
    result = app.test_cli_runner().invoke(args=["seed-scale", "--cases", "15"])
    assert result.exit_code == 0, result.output
    assert "Seeded 16 cases" in result.output
    assert audit.verify().ok


def test_describe_reads_back_what_seed_scale_made(app, db):
    from shared.demo.scale import describe

    made = seed_scale(12)
    seen = describe()
    for key in ("cases", "students", "big_case_id", "sample_case_id", "sample_student_id", "officer_ids",
                "manager_id", "admin_id"):
        assert seen[key] == made[key], key

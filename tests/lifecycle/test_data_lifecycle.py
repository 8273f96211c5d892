"""The data lifecycle: retention (dry run and run), erasure requests, key rotation, encrypted backups."""

import base64
import os
import re

import pytest
from sqlalchemy import select

from shared.audit import log as audit
from shared.casework.documents import blob_name
from shared.lifecycle import backup, keyrotation, retention
from shared.models import (
    AuditEvent,
    Base,
    BreachRecord,
    Case,
    CaseEntryVersion,
    Consent,
    Document,
    ErasureRequest,
    Message,
    Student,
)
from shared.platform.crypto import parse_keys
from shared.platform.extensions import db as _db
from shared.platform.mail import sent_messages
from tests import factories
from tests.factories_everything import fill_every_encrypted_field
from tests.factories_staffsec import make_case, make_document, make_profile
from tests.support.blobs import is_stored, remove_all, stored_files


@pytest.fixture
def old_case(ctx, student, officer):
    make_profile(student)
    case = make_case(student, officer, closed_years_ago=7)
    audit.record(officer, "case.viewed", case, student_id=student.id, case_id=case.id)
    _db.session.commit()
    return case


def test_retention_dry_run_lists_and_changes_nothing(app, db, old_case, student, officer):
    recent = make_case(student, officer, closed_years_ago=1)
    result = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert re.search(rf"Would anonymise +{old_case.reference} +Closed more than 6 years ago", result.output)
    assert recent.reference not in result.output
    db.session.expire_all()
    assert db.session.get(Case, old_case.id).what_happened is not None
    assert db.session.get(Case, old_case.id).anonymised_at is None


def test_retention_run_anonymises_old_closed_cases_and_keeps_statistics(app, db, old_case, student, officer):
    before = db.session.get(Case, old_case.id)
    stats_before = (before.area_code, before.college_code, before.outcome_code, before.opened_at.strftime("%Y-%m"),
                    before.closed_at.strftime("%Y-%m"), before.first_response_at - before.opened_at)
    doc = db.session.scalar(select(Document).where(Document.case_id == old_case.id))
    assert is_stored(blob_name(doc.uid))
    recent = make_case(student, officer, closed_years_ago=1)

    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    case = db.session.get(Case, old_case.id)
    assert case.anonymised_at is not None
    assert (case.area_code, case.college_code, case.outcome_code, case.opened_at.strftime("%Y-%m"),
            case.closed_at.strftime("%Y-%m"), case.first_response_at - case.opened_at) == stats_before
    assert case.opened_at.day == 1  # dates kept at month level only
    assert case.what_happened is None and case.outcome_wanted is None and case.faculty is None
    assert case.student_id != student.id  # nothing links it to the person
    versions = db.session.scalars(select(CaseEntryVersion)).all()
    texts = {v.text for v in versions}
    assert "" in texts and "Advised on the deposit protection scheme" in texts  # only the recent case keeps it
    assert db.session.scalar(select(Message).where(Message.case_id == case.id)).body == ""
    consent = db.session.scalar(select(Consent).where(Consent.case_id == case.id))
    assert consent.recipient_name == "" and consent.typed_name == "" and consent.purpose == ""
    assert not is_stored(blob_name(doc.uid)) and db.session.get(Document, doc.id).deleted_at is not None
    # Audit events are kept, without the link to the student, and the chain still verifies.
    viewed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.viewed"))
    assert viewed is not None and viewed.case_id == case.id and viewed.student_id is None
    assert audit.verify().ok
    # The recent case is untouched and still the student's.
    assert db.session.get(Case, recent.id).what_happened == "My landlord kept my deposit (fictional)"
    assert db.session.get(Case, recent.id).student_id == student.id


def test_retention_holds_open_cases_and_breach_records_with_a_reason(app, db, student, officer):
    open_case = make_case(student, officer, closed_years_ago=None)
    open_case.opened_at = open_case.opened_at.replace(year=open_case.opened_at.year - 8)
    breached = make_case(student, officer, closed_years_ago=7)
    record = BreachRecord(student_id=student.id, case_id=breached.id, ground="safety", recipient_name="Duty team",
                          recipient_organisation="Fictional Hospital", decided_by_id=officer.id)
    record.situation, record.achieves = "x", "y"
    db.session.add(record)
    db.session.commit()
    decisions = {d.case_id: d for d in retention.plan()}
    assert decisions[open_case.id].action == "hold" and "still open" in decisions[open_case.id].reason
    assert decisions[breached.id].action == "hold" and "breach" in decisions[breached.id].reason
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert "Held" in result.output and "breach" in result.output
    db.session.expire_all()
    assert db.session.get(Case, breached.id).anonymised_at is None


def test_retention_removes_the_advice_on_a_breach_consultation_that_did_not_proceed(app, db, student, officer):
    from shared.consent import breach
    from shared.models import BreachConsultation, BreachConsultationRequest
    from tests.factories_consent import breach_decision, breach_proposal

    colleague = factories.make_staff(email="colleague@example.ac.uk", name="Jo Colleague")
    old = make_case(student, officer, closed_years_ago=7)
    req = breach.request_consultation(officer, old.reference, breach_proposal(colleague))
    breach.give_advice(colleague, req.id, "Do not: talk to them first (fictional).")
    breach.decide(officer, req.id, breach_decision(proceed=False))
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Case, old.id).anonymised_at is not None
    req = db.session.get(BreachConsultationRequest, req.id)
    assert req.situation == "" and req.recipient_name == "" and req.student_id != student.id
    assert [c.advice for c in db.session.scalars(select(BreachConsultation))] == [None]


def test_the_retention_period_is_a_setting(app, db, old_case, admin_browser):
    resp = admin_browser.submit("/staff/admin/retention", {"years": "10"})
    assert resp.status_code == 302
    assert retention.retention_years() == 10
    assert [d for d in retention.plan() if d.case_id == old_case.id] == []
    page = admin_browser.get("/staff/admin/retention").get_data(as_text=True)
    assert "No case is due" in page


@pytest.mark.parametrize("years", ["9" * 400, "0", "51", "ten"])
def test_a_retention_period_out_of_range_is_refused_with_a_message(db, admin_browser, years):
    """A number too long for a float reached WTForms' range check and was a 500 (found by the fuzzer)."""
    before = retention.retention_years()
    resp = admin_browser.submit("/staff/admin/retention", {"years": years})
    html = resp.get_data(as_text=True)
    assert resp.status_code in (200, 400)
    assert "Enter a smaller number." in html or "between 1 and 50" in html or "Not a valid integer" in html
    assert retention.retention_years() == before


def test_a_student_long_gone_is_erased_with_their_last_case(app, db, officer):
    from datetime import timedelta

    student = factories.make_student(email="long.gone@example.ac.uk")
    student.created_at = student.created_at - timedelta(days=365 * 9)
    db.session.commit()
    make_profile(student)
    make_case(student, officer, closed_years_ago=7)
    app.test_cli_runner().invoke(args=["retention", "run"])
    db.session.expire_all()
    gone = db.session.get(Student, student.id)
    assert gone.email.endswith("@records.invalid")
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.student_id == student.id)).all()
    assert audit.verify().ok


# --- erasure requests -------------------------------------------------------------------------------------


def test_an_erasure_request_is_decided_against_the_rules_and_the_student_told(
        app, db, student_browser, manager_browser, officer):
    student = student_browser.account
    closed = make_case(student, officer, closed_years_ago=1)
    still_open = make_case(student, officer)
    resp = student_browser.submit("/erasure", {"details": "Please erase everything", "confirm": "y"})
    assert resp.status_code == 302
    req = db.session.scalar(select(ErasureRequest))
    page = manager_browser.get(f"/staff/admin/erasure/{req.id}").get_data(as_text=True)
    assert "The case is still open." in page
    resp = manager_browser.submit(f"/staff/admin/erasure/{req.id}",
                                  {"decision": "erase", "outcome": "We erased your closed enquiry; the open one stays."})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, closed.id).anonymised_at is not None
    assert db.session.get(Case, still_open.id).anonymised_at is None
    assert db.session.get(ErasureRequest, req.id).status == "partly"
    mail = sent_messages()[-1]
    assert mail["To"] == student.email and "deposit" not in mail.get_content()
    page = student_browser.get("/erasure").get_data(as_text=True)
    assert "Partly done" in page and "the open one stays" in page
    assert audit.verify().ok


def test_officers_cannot_decide_erasure_requests(officer_browser):
    assert officer_browser.get("/staff/admin/erasure").status_code == 403


# --- key rotation ---------------------------------------------------------------------------------------


def _plaintexts():
    out = {}
    for f in keyrotation.encrypted_fields():
        for row in _db.session.scalars(select(f.model)):
            value = getattr(row, f.name)
            if value is not None:
                out[(f.label, row.id)] = value
    for doc in _db.session.scalars(select(Document)):
        from shared.platform import blobs

        out[("file", doc.id)] = blobs.store().read(blob_name(doc.uid), f"documents.content.{doc.uid}")
    return out


def test_key_rotation_finds_every_encrypted_field(db, student, officer, manager, admin):
    labels = {f.label for f in keyrotation.encrypted_fields()}
    # Every field the journey writes as sensitive text (tests/factories_everything.py), not a list kept here.
    assert set(fill_every_encrypted_field(student, officer, manager, admin)) <= labels
    declared = sum(1 for m in Base.registry.mappers for v in vars(m.class_).values()
                   if type(v).__name__ == "encrypted")
    assert len(labels) == declared


def test_key_rotation_reencrypts_everything_and_leaves_nothing_under_the_old_key(app, db, old_case, student, officer,
                                                                                manager, admin):
    fill_every_encrypted_field(student, officer, manager, admin)
    before = _plaintexts()
    # A value in every encrypted field the models declare, so the rotation is seen to reach each one.
    assert {label for label, _ in before if label != "file"} == {f.label for f in keyrotation.encrypted_fields()}
    assert keyrotation.old_key_ids_in_use() == set()
    old_spec = app.config["ENCRYPTION_KEYS"]
    new = "t2:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    app.extensions["encryption_keys"] = parse_keys(f"{new},{old_spec}")  # the new key first, the old kept
    try:
        assert keyrotation.old_key_ids_in_use() == {"t1"}
        # Interrupted after one batch of one row per field: what was done is committed, the rest is not.
        keyrotation.rotate(batch=1, max_batches=1)
        assert keyrotation.old_key_ids_in_use() == {"t1"}
        result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch", "2"])
        assert result.exit_code == 0, result.output
        assert "Nothing is left under an old key" in result.output
        assert keyrotation.old_key_ids_in_use() == set()
        db.session.expire_all()
        assert _plaintexts() == before
        assert {d.key_id for d in db.session.scalars(select(Document))} == {"t2"}
        # With the old key retired, everything still opens.
        app.extensions["encryption_keys"] = parse_keys(new)
        db.session.expire_all()
        assert _plaintexts() == before
    finally:
        app.extensions["encryption_keys"] = parse_keys(old_spec)


# --- backups --------------------------------------------------------------------------------------------


def _everything():
    snapshot = {}
    for table in Base.metadata.sorted_tables:
        rows = _db.session.execute(table.select()).mappings().all()
        snapshot[table.name] = sorted((dict(r) for r in rows), key=repr)
    return snapshot, stored_files()


def test_backup_round_trip_restores_every_record_document_and_the_audit_chain(app, db, old_case, student, officer,
                                                                               tmp_path):
    from shared.demo.seed import seed_demo

    seed_demo()
    make_document(student, None, data=b"a second fictional file")
    snapshot, files = _everything()
    archive = tmp_path / "backup.enc"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(archive)])
    assert result.exit_code == 0, result.output
    raw = archive.read_bytes()
    assert b"deposit" not in raw and student.email.encode() not in raw  # encrypted as a whole

    # Into a used instance: refused.
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert result.exit_code != 0 and "empty instance" in result.output

    # An empty, migrated instance (what the test harness gives each test) with no documents on disk.
    from tests.support.database import empty_database

    db.session.rollback()  # release the test's read locks before emptying the tables
    empty_database(_db)
    remove_all()
    db.session.commit()  # end the test's read transaction: the command shares this app context
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert _everything() == (snapshot, files)
    assert audit.verify().ok
    assert db.session.get(Case, old_case.id).what_happened == "My landlord kept my deposit (fictional)"
    # New rows get new ids after a restore (sequences follow the restored rows).
    factories.make_student(email="after.restore@example.ac.uk")


def test_a_tampered_or_truncated_backup_is_refused(app, db, old_case, tmp_path):
    archive = tmp_path / "backup.enc"
    backup.create(archive)
    data = archive.read_bytes()
    from tests.support.database import empty_database

    _db.session.rollback()
    empty_database(_db)
    for broken in (data[:-10], data[:200] + bytes([data[200] ^ 1]) + data[201:]):
        bad = tmp_path / "bad.enc"
        bad.write_bytes(broken)
        with pytest.raises(backup.BackupError):
            backup.restore(bad)
        _db.session.rollback()


# --- admin pages are for administrators --------------------------------------------------------------------


ADMIN_ONLY = ["/staff/admin/staff", "/staff/admin/staff/new", "/staff/admin/retention"]
MANAGER_AND_ADMIN = ["/staff/admin/", "/staff/admin/audit", "/staff/admin/audit.csv", "/staff/admin/lists/college",
                     "/staff/admin/consent-wording", "/staff/admin/erasure"]


@pytest.mark.parametrize("url", ADMIN_ONLY + MANAGER_AND_ADMIN)
def test_admin_pages_are_refused_to_officers(officer_browser, url):
    assert officer_browser.get(url).status_code == 403


@pytest.mark.parametrize("url", ADMIN_ONLY)
def test_account_administration_is_refused_to_the_manager(manager_browser, url):
    assert manager_browser.get(url).status_code == 403


@pytest.mark.parametrize("url", ADMIN_ONLY + MANAGER_AND_ADMIN)
def test_admin_pages_open_for_the_administrator(admin_browser, url):
    assert admin_browser.get(url).status_code == 200


def test_officers_cannot_post_admin_actions(officer_browser, manager):
    resp = officer_browser.submit(f"/staff/admin/staff/{manager.id}/deactivate", page="/staff/account")
    assert resp.status_code == 403


# --- the audit viewer ----------------------------------------------------------------------------------------


def test_who_has_looked_at_this_students_record(app, db, student, other_student, officer, manager, admin_browser):
    case = make_case(student, officer)
    for who in (officer, officer, manager):
        audit.record(who, "case.viewed", case, student_id=student.id, case_id=case.id)
    audit.record(officer, "case.viewed", ("cases", 999), student_id=other_student.id)
    audit.record(manager, "case.updated", case, student_id=student.id, case_id=case.id)
    db.session.commit()
    page = admin_browser.get(f"/staff/admin/audit?student={student.email}").get_data(as_text=True)
    section = page.split('id="who-looked"')[1].split("</section>")[0]
    assert re.search(r"Robin Testworth, Student Advisor</td><td>2<", section)
    assert re.search(r"Robin Testworth, Advice Service Manager</td><td>1<", section)
    assert admin_browser.account.name not in section or section.count("<tr>") == 3
    # Looking at the log about a student is itself recorded against that student.
    looked = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.who_looked"))
    assert looked.student_id == student.id and looked.actor_id == admin_browser.account.id
    assert "Chain check: OK" in page


def test_audit_viewer_filters_and_exports_csv_for_the_manager(app, db, student, officer, manager_browser):
    case = make_case(student, officer)
    audit.record(officer, "case.viewed", case, student_id=student.id, case_id=case.id)
    audit.record(officer, "=cmd|' /C calc'!A0", None)
    db.session.commit()
    page = manager_browser.get(f"/staff/admin/audit?case={case.reference}&action=case.").get_data(as_text=True)
    assert "case.viewed" in page and "mfa" not in page.split("<h2>Events</h2>")[1]
    resp = manager_browser.get(f"/staff/admin/audit.csv?staff={officer.id}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    body = resp.get_data(as_text=True)
    assert "case.viewed" in body and "'=cmd" in body and "\n=cmd" not in body
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.exported")) is not None


def test_audit_viewer_explains_an_unknown_student(manager_browser):
    page = manager_browser.get("/staff/admin/audit?student=nobody@example.ac.uk").get_data(as_text=True)
    assert "No student matches" in page

"""What stays private: sensitive text is ciphertext in the database file, emails carry no case detail,
and the audit log holds identifiers, never the words of a case."""

from datetime import time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.casework import cases as casework
from shared.casework import intake, reflective
from shared.casework import record as case_record
from shared.models import AuditEvent, utcnow
from shared.platform.mail import sent_messages
from tests.factories_casework import make_case

MARK = "ZEBRA-CONFIDENTIAL-7731"


def _work_a_case_with_marker_everywhere(student, officer):
    case = make_case(student, what_happened=f"What happened {MARK}", outcome_wanted=f"Outcome {MARK}",
                     accessibility_needs=f"Access {MARK}", contact_notes=f"Contact {MARK}")
    intake.save_draft(student, {"what_happened": f"Draft {MARK}"})
    entry = case_record.add_entry(officer, case.reference, "note", utcnow(), f"Entry {MARK}")
    case_record.amend_entry(officer, case.reference, entry.id, f"Amended {MARK}", f"Reason {MARK}")
    case_record.assign(officer, case.reference, officer.id)
    case_record.change_status(officer, case.reference, "waiting", f"Status reason {MARK}")
    casework.staff_sends_message(officer, case.reference, f"Officer message {MARK}")
    casework.student_sends_message(student, case.reference, f"Student message {MARK}")
    case_record.add_appointment(officer, case.reference, day=casework.today_local() + timedelta(days=1), at=time(10),
                             duration_minutes=30, mode="online", location="Video call", private_room=False,
                             officer_id=None)
    reflective.flag_for_reflection(officer, case.reference, f"Flag {MARK}")
    case_record.close_case(officer, case.reference, "advice_given", f"Closing {MARK}")
    return case


def test_no_plaintext_of_encrypted_fields_in_the_database_file(app, db, student, officer):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("reads the SQLite file itself; PostgreSQL stores the same ciphertext columns")
    case = _work_a_case_with_marker_everywhere(student, officer)
    db.session.commit()
    assert MARK in case.what_happened  # readable through the app...
    db.session.remove()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    path = Path(db.engine.url.database)
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    contents = b"".join(p.read_bytes() for p in files)
    assert b"Morgan Fenwick" in contents  # names stay in clear (searchable): the search does see the file
    for file in files:  # ...but the sensitive text is not in the file, its write-ahead log or shared memory
        assert MARK.encode() not in file.read_bytes(), file.name


def test_no_case_detail_in_any_email_or_audit_event(db, student, officer):
    case = _work_a_case_with_marker_everywhere(student, officer)
    assert len(sent_messages()) >= 4
    for message in sent_messages():
        text = f"{message['Subject']}\n{message.get_content()}"
        assert MARK not in text
        assert case.reference not in text
        assert "housing" not in text.lower()
    db.session.commit()
    for event in db.session.scalars(select(AuditEvent)):
        assert MARK not in repr(event.details)


def test_staff_status_reasons_are_encrypted_too(db, student, officer):
    case = make_case(student)
    case_record.change_status(officer, case.reference, "open", f"Because {MARK}")
    from shared.models import CaseChange

    change = db.session.scalar(select(CaseChange))
    assert change.reason == f"Because {MARK}" and MARK not in change._reason_enc

"""The audit log: every change recorded in its own transaction, tampering detected."""

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from shared.audit import log as audit
from shared.models import AuditEvent
from tests.support.web import listening


def _write_events(db, n=5, student_id=7):
    for i in range(n):
        audit.record("system", "test.event", ("thing", i), student_id=student_id, n=i)
    db.session.commit()


def test_chain_verifies_when_untouched(db):
    _write_events(db)
    result = audit.verify()
    assert result.ok and result.checked == 5


def test_editing_a_row_is_detected(db):
    _write_events(db)
    db.session.execute(text("UPDATE audit_events SET action = 'case.harmless' WHERE seq = 3"))
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 3


def test_editing_details_is_detected(db):
    _write_events(db)
    db.session.execute(text("UPDATE audit_events SET student_id = 99 WHERE seq = 2"))
    db.session.commit()
    assert audit.verify().first_bad_seq == 2


def test_moving_an_event_in_time_is_detected(db):
    _write_events(db)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.seq == 4))
    event.at = event.at.replace(microsecond=(event.at.microsecond + 1) % 1_000_000)
    db.session.commit()
    assert audit.verify().first_bad_seq == 4


def test_editing_a_detail_value_is_detected(db):
    _write_events(db)
    db.session.execute(text("UPDATE audit_events SET details = '{\"n\": 9}' WHERE seq = 5"))
    db.session.commit()
    assert audit.verify().first_bad_seq == 5


def test_verification_reads_every_field_the_mac_covers():
    # The MAC covers _FIELDS; verification reads the rows by position, so its query must name them in order.
    columns = audit._VERIFY_SELECT.removeprefix("SELECT ").split(" FROM ")[0].split(", ")
    assert columns == [*audit._FIELDS, "prev_mac", "mac"]


def test_deleting_a_row_is_detected(db):
    _write_events(db)
    db.session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_deleting_the_newest_rows_is_detected(db):
    _write_events(db)
    db.session.execute(text("DELETE FROM audit_events WHERE seq >= 4"))
    db.session.commit()
    assert not audit.verify().ok


def test_reordering_rows_is_detected(db):
    _write_events(db)
    db.session.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 2"))
    db.session.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 3"))
    db.session.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = -1"))
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_a_forged_row_without_the_key_is_detected(db):
    _write_events(db, 2)
    last = db.session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
    forged = AuditEvent(
        seq=3, at=last.at, actor_kind="system", action="forged", details={}, prev_mac=last.mac, mac="0" * 64
    )
    db.session.add(forged)
    db.session.execute(text("UPDATE audit_head SET seq = 3, last_mac = :m WHERE id = 1"), {"m": "0" * 64})
    db.session.commit()
    assert audit.verify().first_bad_seq == 3


def test_a_rolled_back_change_leaves_no_audit_event(db):
    audit.record("system", "test.event", None)
    db.session.rollback()
    assert db.session.query(AuditEvent).count() == 0
    assert audit.verify().ok


def test_free_text_is_refused_in_audit_details(db):
    with pytest.raises(ValueError):
        audit.record("system", "test.event", None, note="x" * 200)
    db.session.rollback()


def test_concurrent_writers_do_not_fork_the_chain(app, db):
    errors = []

    def writer(k):
        with app.app_context():
            from shared.platform.extensions import db as thread_db

            try:
                for i in range(10):
                    audit.record("system", "test.concurrent", ("w", k), n=i)
                    thread_db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                thread_db.session.rollback()
            finally:
                thread_db.session.remove()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = audit.verify()
    assert result.ok and result.checked == 40


def test_student_actions_are_audited_with_the_student(student_browser, db, student):
    events = audit.events_for_student(student.id)
    assert any(e.action == "student.signed_in" for e in events)


def test_audit_verify_command(app, db):
    _write_events(db, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "OK: 3 events" in result.output
    db.session.execute(text("UPDATE audit_events SET action = 'x' WHERE seq = 1"))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "BROKEN at event 1" in result.output


def test_a_page_view_whose_audit_fails_half_way_leaves_no_event(app, db, officer_browser):
    """The view's audit event is written, then the database fails before the chain's head moves: the
    officer gets the friendly 503 page, the event is gone with the rest of the transaction (a page view's
    reads run in autocommit; its writes must not), and the chain still verifies. Had the event been
    written outside the transaction, the chain would now be broken."""

    def fail_at_the_head(_conn, _cursor, statement, *_args):
        # The head's move (SET seq = <the new number>), not the taking of its lock (SET seq = seq).
        if statement.startswith("UPDATE audit_head SET seq = ") and "last_mac" in statement.split("WHERE")[0]:
            raise OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))

    def audit_count() -> int:
        return db.session.scalar(select(func.count(AuditEvent.id)))

    officer_browser.get("/staff/")
    db.session.commit()
    before = audit_count()
    with listening(db.engine, "before_cursor_execute", fail_at_the_head):
        response = officer_browser.get("/staff/cases")
    assert response.status_code == 503 and "The service is unavailable" in response.get_data(as_text=True)
    db.session.commit()
    assert audit_count() == before
    assert audit.verify().ok
    assert officer_browser.get("/staff/cases").status_code == 200

"""Every email is written in the same transaction as the work it tells of (issue 26, point 3): a commit that
fails leaves no email; an SMTP failure is retried and the email sent exactly once; two senders never send one
email twice; the body is never in the database in clear."""

from __future__ import annotations

import smtplib
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import OperationalError

from shared.models import Case, OutgoingEmail, utcnow
from shared.platform import mail
from shared.platform.mail import sent_messages
from tests import factories
from tests.factories_casework import intake_form
from tests.support.web import listening


def _outbox(db) -> list[OutgoingEmail]:
    """The rows as they are now: the test's own read transaction ends first (the senders write on theirs)."""
    db.session.commit()
    return list(db.session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.id)))


class FlakySMTP:
    """smtplib.SMTP as the sender uses it, refusing the first `failures` messages (as a server that is down)."""

    failures = 0
    taken: list = []

    def __init__(self, host, port, timeout=None):
        self.host = host

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        pass

    def login(self, user, password):
        pass

    def send_message(self, msg):
        if FlakySMTP.failures:
            FlakySMTP.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        FlakySMTP.taken.append(msg)


@pytest.fixture
def smtp(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.invalid")
    monkeypatch.setattr(mail.smtplib, "SMTP", FlakySMTP)
    monkeypatch.setattr(FlakySMTP, "taken", [])
    monkeypatch.setattr(FlakySMTP, "failures", 0)
    return FlakySMTP


def _fail_the_commit_that_inserts(engine, table: str):
    """A COMMIT that fails (the database went away at that moment) for the transaction that inserted into
    `table`; every other transaction commits as usual."""

    def seen(conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            conn.info["fail_commit"] = True

    def commit(conn):
        if conn.info.pop("fail_commit", False):
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    return seen, commit


def test_a_case_whose_commit_fails_sends_no_email_and_leaves_none_waiting(app, db, student_browser):
    seen, commit = _fail_the_commit_that_inserts(db.engine, "cases")
    with listening(db.engine, "before_cursor_execute", seen), listening(db.engine, "commit", commit):
        resp = student_browser.submit("/ask", intake_form())
    assert resp.status_code == 503
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0
    assert sent_messages() == [] and _outbox(db) == []
    # The same form, once the database is back: the case and its one email.
    resp = student_browser.submit("/ask", intake_form())
    assert resp.status_code == 302
    assert [m["To"] for m in sent_messages()] == [student_browser.account.email] and _outbox(db) == []


def test_an_email_rolled_back_with_its_work_never_existed(db, student):
    mail.send(student.email, "case_received")
    db.session.rollback()
    db.session.commit()
    assert sent_messages() == [] and _outbox(db) == []


def test_an_smtp_failure_is_retried_and_the_email_sent_exactly_once(app, db, smtp, student_browser):
    smtp.failures = 2
    before = utcnow()
    assert student_browser.submit("/ask", intake_form()).status_code == 302
    # The case is saved whatever the mail server does; its email waits, with why.
    assert db.session.scalar(select(func.count()).select_from(Case)) == 1
    (waiting,) = _outbox(db)
    assert smtp.taken == [] and waiting.attempts == 1 and waiting.claimed_at is None
    assert "SMTPServerDisconnected" in waiting.last_error
    assert before + timedelta(seconds=30) <= waiting.next_attempt_at <= utcnow() + timedelta(seconds=31)
    mail.deliver_due()  # not due yet: nothing is tried
    assert _outbox(db)[0].attempts == 1
    mail.deliver_due(now=waiting.next_attempt_at)  # fails again, and waits twice as long
    (waiting,) = _outbox(db)
    assert waiting.attempts == 2 and smtp.taken == []
    db.session.execute(update(OutgoingEmail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "0 waiting to be tried again, 0 given up" in result.output
    assert [m["To"] for m in smtp.taken] == [student_browser.account.email]
    assert "received" in smtp.taken[0]["Subject"].lower()
    assert _outbox(db) == []
    mail.deliver_due(now=utcnow() + timedelta(days=1))
    assert len(smtp.taken) == 1


def test_the_sender_gives_up_after_max_attempts_and_says_so(app, db, smtp, student, monkeypatch):
    smtp.failures = 1000
    errors = []
    monkeypatch.setattr(mail.log, "error", lambda *args, **_kw: errors.append(args))
    mail.send(student.email, "case_received")
    db.session.commit()  # the first attempt
    for _attempt in range(mail.MAX_ATTEMPTS - 1):
        mail.deliver_due(now=_outbox(db)[0].next_attempt_at)
    (email,) = _outbox(db)
    assert email.attempts == mail.MAX_ATTEMPTS and "SMTPServerDisconnected" in email.last_error
    (logged,) = [e for e in errors if e[0].startswith("Gave up")]
    assert student.email in logged and mail.MAX_ATTEMPTS in logged
    tried = smtp.failures
    mail.deliver_due(now=utcnow() + timedelta(days=30))
    assert smtp.failures == tried and smtp.taken == []  # not tried again
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert "0 waiting to be tried again, 1 given up" in result.output


def test_the_wait_after_each_failure(app, db, smtp, student):
    smtp.failures = 1000
    mail.send(student.email, "case_received")
    db.session.commit()
    waits = []
    while True:
        (email,) = _outbox(db)
        if email.attempts == mail.MAX_ATTEMPTS:
            break
        now = email.next_attempt_at
        mail.deliver_due(now=now)
        after = _outbox(db)[0]
        if after.attempts < mail.MAX_ATTEMPTS:
            waits.append((after.next_attempt_at - now).total_seconds())
    assert waits == [60, 120, 240, 480, 960, 1920]  # after the 2nd to the 7th attempt (the 1st: 30 s, above)
    assert [mail.retry_wait(n).total_seconds() for n in (1, 2, 7, 8, 20)] == [30, 60, 1920, 3600, 3600]


def test_two_senders_at_once_send_each_email_once(app, db, monkeypatch):
    """Rows written without the after-commit sender (as a stopped process leaves them), then two senders
    started together, each slow to deliver: every email goes exactly once."""
    addresses = [f"racer{n}@example.ac.uk" for n in range(6)]
    for address in addresses:
        email = OutgoingEmail(to_address=address, subject="A message from the Advice Service")
        email.body = "Sign in to read it.\n"
        db.session.add(email)
    db.session.commit()
    deliver = mail._deliver

    def slow(app_, msg):
        time.sleep(0.05)
        deliver(app_, msg)

    monkeypatch.setattr(mail, "_deliver", slow)
    start = threading.Barrier(2)
    errors = []

    def sender():
        try:
            with app.app_context():
                start.wait()
                mail.deliver_due()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(m["To"] for m in sent_messages()) == sorted(addresses)
    assert _outbox(db) == []


def test_a_claimed_email_is_left_to_its_sender_until_the_claim_expires(app, db, student):
    email = OutgoingEmail(to_address=student.email, subject="A message from the Advice Service")
    email.body = "Sign in to read it.\n"
    db.session.add(email)
    db.session.commit()
    now = utcnow()
    assert mail._claim(email.id, now) is not None  # another sender has it (and stops before delivering)
    mail.deliver_due(now=now + timedelta(minutes=1))
    assert sent_messages() == []
    mail.deliver_due(now=now + mail.CLAIM_EXPIRES + timedelta(seconds=1))
    assert [m["To"] for m in sent_messages()] == [student.email] and _outbox(db) == []


def test_the_body_is_ciphertext_in_the_database(app, db, smtp):
    """A password-reset email holds a link that signs its reader in: while it waits, only its ciphertext is
    stored."""
    smtp.failures = 1
    student = factories.make_student()
    client = app.test_client()
    from tests.support.web import Browser

    assert Browser(client).submit("/reset", {"email": student.email}).status_code == 200
    with db.engine.connect() as conn:
        (row,) = conn.execute(text("SELECT * FROM outgoing_emails")).mappings().all()
    assert row["body_enc"].startswith("v1:") and "/reset/" not in repr(dict(row))
    assert row["to_address"] == student.email and row["subject"] == "Reset your password"
    mail.deliver_due(now=utcnow() + timedelta(hours=1))
    (sent,) = smtp.taken
    assert "/reset/" in sent.get_content()
    assert row["body_enc"] not in repr(sent)


def test_an_email_for_nobody_is_written_like_any_other_then_discarded(app, db):
    """A reset for an unknown address composes and writes the same email (the same work, the same time) to
    nobody; the sender deletes it without delivering it."""
    written = []

    def count(_mapper, _conn, target):
        written.append(target.to_address)

    event.listen(OutgoingEmail, "after_insert", count)
    try:
        from tests.support.web import Browser

        assert Browser(app.test_client()).submit("/reset", {"email": "nobody.here@example.ac.uk"}).status_code == 200
    finally:
        event.remove(OutgoingEmail, "after_insert", count)
    assert written == [mail.NOBODY]
    assert sent_messages() == [] and _outbox(db) == []


def _reset_asked_for(app, email: str) -> None:
    from tests.support.web import Browser

    assert Browser(app.test_client()).submit("/reset", {"email": email}).status_code == 200


def test_delivery_happens_off_the_request_thread_as_deployed(app, db, monkeypatch, student):
    """With JOBS_MODE `thread`, the request only writes the row; a mail thread delivers it after the commit."""
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    threads = []
    deliver = mail._deliver
    monkeypatch.setattr(mail, "_deliver", lambda a, m: (threads.append(threading.current_thread().name), deliver(a, m)))
    _reset_asked_for(app, student.email)
    deadline = time.monotonic() + 10
    while not sent_messages() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [m["To"] for m in sent_messages()] == [student.email]
    assert threads and threads[0].startswith("mail")
    deadline = time.monotonic() + 10
    while _outbox(db) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _outbox(db) == []


def test_as_deployed_a_failed_email_is_retried_by_the_worker_itself(app, db, monkeypatch, smtp, student):
    """Without `send-mail` from a timer: the mail thread schedules the next attempt when the first one fails."""
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    monkeypatch.setattr(mail, "FIRST_WAIT", timedelta(milliseconds=100))
    smtp.failures = 1
    _reset_asked_for(app, student.email)
    deadline = time.monotonic() + 15
    while (not smtp.taken or _outbox(db)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m["To"] for m in smtp.taken] == [student.email] and smtp.failures == 0
    assert _outbox(db) == []


def test_a_command_delivers_its_emails_itself(app, db, monkeypatch, student):
    """Outside a request (a command, a background job) the emails go at once, in the caller, even as deployed:
    nobody waits, and on SQLite a mail thread writing meanwhile would make the command's next write fail."""
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    mail.send(student.email, "case_received")
    db.session.commit()
    assert [m["To"] for m in sent_messages()] == [student.email] and _outbox(db) == []

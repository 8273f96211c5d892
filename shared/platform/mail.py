"""Outgoing email. Emails never carry case detail: an inbox may be read by others.

Every email is first a row (shared.models.outbox, a transactional outbox): `send()` composes the message and
adds it to the caller's database session, so it is committed with the work it tells of, and if that work is
rolled back it never existed. After the commit a sender delivers every email that is due, with its own
connection: after a request's commit, on a mail thread, so how long a server or a disk takes reveals nothing
about who was written to; after a command's or a background job's, at once, in the caller (nobody waits on
them, and on SQLite a second writer in the same process would make their own transactions fail); with
JOBS_MODE `sync` (tests), always at once. It claims each row with a conditional UPDATE before delivering it,
so two senders never send one email twice, and deletes it once delivered. A failed attempt is tried again
after 30 s, then twice as long each time (at most an hour), up to MAX_ATTEMPTS: by the mail thread itself, by
the next sender, or by `flask --app wsgi send-mail` (from a timer, for what a stopped process left waiting).
Then the row is kept, with its error, and the failure logged. A sender that stops between delivering and
deleting means the email may go twice, never that it is lost.

`send(None, ...)` does the same work for nobody: the message is composed, encrypted and written in the same
way, addressed to NOBODY, and the sender deletes it without delivering it.

How a message is delivered depends on MAIL_BACKEND. Locally the 'outbox' backend writes each message to the log
and instance/mail/ instead of sending it: the message as sent (`.eml`, whose body is quoted-printable, so a
link copied from it breaks) and the same as plain text beside it (`.txt`), with each link printed on its own
line of the log, ready to open. 'smtp' sends through the configured server; 'memory' keeps them in a list.
Tests read `sent_messages()`.
"""

from __future__ import annotations

import logging
import re
import smtplib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from flask import Flask, current_app, has_request_context, render_template
from sqlalchemy import and_, delete, event, func, or_, select, update

from shared.models import OutgoingEmail, utcnow
from shared.platform.extensions import db
from shared.platform.transactions import writer_thread

log = logging.getLogger(__name__)
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")
LINK = re.compile(r"https?://\S+")

MAX_ATTEMPTS = 8
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
# A claim older than this was made by a sender that stopped before it finished: the email is due again.
CLAIM_EXPIRES = timedelta(minutes=10)
BATCH = 50
_WRITTEN = "outbox_written"  # session.info: this transaction wrote an email, to deliver after its commit


def sent_messages() -> list[EmailMessage]:
    return current_app.extensions.setdefault("mail_outbox", [])


def render(template: str, **context) -> tuple[str, str]:
    """templates/email/<template>.txt, whose first line is 'Subject: ...'."""
    rendered = render_template(f"email/{template}.txt", service_url=current_app.config["SERVICE_URL"], **context)
    first, _, body = rendered.lstrip().partition("\n")
    return first.removeprefix("Subject:").strip(), body.strip() + "\n"


# Who a message composed for nobody is addressed to in the outbox (it is never delivered).
NOBODY = "nobody@invalid"


def send(to: str | None, template: str, **context) -> None:
    """Compose the message and write it to the outbox in the caller's transaction, for delivery to `to` once
    that commits; with `to=None`, the same work, and the sender discards it."""
    subject, body = render(template, **context)
    email = OutgoingEmail(to_address=to or NOBODY, subject=subject)
    email.body = body
    db.session.add(email)
    db.session.info[_WRITTEN] = True


def init_app(app: Flask) -> None:
    """Deliver after every commit that wrote an email; forget the email with a rollback (it never existed)."""
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_soft_rollback", _after_rollback)


def _after_commit(session) -> None:
    if session.in_nested_transaction() or not session.info.pop(_WRITTEN, False):
        return
    app = current_app._get_current_object()
    if has_request_context() and app.config.get("JOBS_MODE") != "sync":
        _executor.submit(_deliver_off_request, app)
    else:  # tests; and commands and jobs, which nobody waits on: at once, in the caller
        _deliver_logging_failures()


def _after_rollback(session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_WRITTEN, None)


def _deliver_off_request(app: Flask) -> None:
    with app.app_context():
        retry_at = _deliver_logging_failures()
    if retry_at is not None:
        _retry_at(app, retry_at)


def _deliver_logging_failures() -> datetime | None:
    """The work is committed whatever happens to its email: a failure is the sender's to retry, not the caller's."""
    try:
        return deliver_due()
    except Exception:  # noqa: BLE001 - the database went away: the rows wait for the next sender
        log.exception("Could not deliver the outbox's emails; they wait for the next attempt")
        return None


_retry = {"at": None}  # the one retry this process has scheduled, if any
_retry_lock = threading.Lock()


def _retry_at(app: Flask, when: datetime) -> None:
    """Run a sender again when the earliest failed email is due: one timer a process, however many failed."""
    with _retry_lock:
        if _retry["at"] is not None and _retry["at"] <= when:
            return
        _retry["at"] = when

    def fire():
        with _retry_lock:
            _retry["at"] = None
        _executor.submit(_deliver_off_request, app)

    timer = threading.Timer(max((when - utcnow()).total_seconds(), 1), fire)
    timer.daemon = True
    timer.start()


def _is_due(now: datetime):
    return and_(OutgoingEmail.next_attempt_at <= now, OutgoingEmail.attempts < MAX_ATTEMPTS,
                or_(OutgoingEmail.claimed_at.is_(None), OutgoingEmail.claimed_at < now - CLAIM_EXPIRES))


@dataclass(frozen=True)
class _Claimed:
    id: int
    uid: str
    to: str
    subject: str
    sealed_body: str
    attempts: int


@writer_thread()
def deliver_due(now: datetime | None = None) -> datetime | None:
    """Deliver every email due at `now` (by default, now). Returns when the earliest of those that failed is
    to be tried again (None if none failed)."""
    app = current_app._get_current_object()
    now = now or utcnow()
    retry_at = None
    while True:
        with db.engine.begin() as conn:
            due = conn.scalars(select(OutgoingEmail.id).where(_is_due(now))
                               .order_by(OutgoingEmail.next_attempt_at, OutgoingEmail.id).limit(BATCH)).all()
        if not due:
            return retry_at
        for email_id in due:
            claimed = _claim(email_id, now)
            if claimed is not None:
                failed_until = _attempt(app, claimed, now)
                retry_at = min(filter(None, (retry_at, failed_until)), default=None)


def _claim(email_id: int, now: datetime) -> _Claimed | None:
    """Take the row for this sender, or None if another has it (or it is no longer due)."""
    with db.engine.begin() as conn:
        taken = conn.execute(update(OutgoingEmail).where(OutgoingEmail.id == email_id, _is_due(now))
                             .values(claimed_at=now, attempts=OutgoingEmail.attempts + 1)).rowcount
        if taken != 1:
            return None
        row = conn.execute(select(OutgoingEmail.uid, OutgoingEmail.to_address, OutgoingEmail.subject,
                                  OutgoingEmail.__table__.c.body_enc, OutgoingEmail.attempts)
                           .where(OutgoingEmail.id == email_id)).one()
    return _Claimed(email_id, *row)


def _attempt(app: Flask, email: _Claimed, now: datetime) -> datetime | None:
    """Deliver one claimed email and delete it; on failure, when to try again (None: given up). An email for
    nobody is opened and made into a message like any other, then deleted."""
    try:
        msg = _message(app, email, OutgoingEmail.body.open(email.sealed_body, email.uid))
        if email.to != NOBODY:
            _deliver(app, msg)
    except Exception as exc:  # noqa: BLE001 - whatever stopped it, the email is tried again later
        return _failed(email, now, f"{type(exc).__name__}: {exc}"[:300])
    with db.engine.begin() as conn:
        conn.execute(delete(OutgoingEmail).where(OutgoingEmail.id == email.id))
    return None


def retry_wait(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 30 s, then twice as long each time, at most an hour."""
    return min(FIRST_WAIT * 2 ** min(attempts - 1, 20), LONGEST_WAIT)


def _failed(email: _Claimed, now: datetime, error: str) -> datetime | None:
    given_up = email.attempts >= MAX_ATTEMPTS
    retry_at = None if given_up else now + retry_wait(email.attempts)
    with db.engine.begin() as conn:
        conn.execute(update(OutgoingEmail).where(OutgoingEmail.id == email.id)
                     .values(claimed_at=None, last_error=error, next_attempt_at=retry_at or now))
    if given_up:
        log.error("Gave up on email %s to %s after %s attempts: %s", email.id, email.to, email.attempts, error)
    else:
        log.exception("Could not deliver email %s to %s (attempt %s); trying again at %s",
                      email.id, email.to, email.attempts, f"{retry_at:%H:%M:%S}")
    return retry_at


def waiting() -> tuple[int, int]:
    """How many emails wait to be tried again, and how many were given up (they stay, with their error)."""
    def count(condition) -> int:
        return db.session.scalar(select(func.count()).select_from(OutgoingEmail).where(condition))

    return count(OutgoingEmail.attempts < MAX_ATTEMPTS), count(OutgoingEmail.attempts >= MAX_ATTEMPTS)


def _message(app: Flask, email: _Claimed, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = email.subject
    msg["From"] = app.config["MAIL_FROM"]
    msg["To"] = email.to
    msg.set_content(body)
    return msg


def _deliver(app: Flask, msg: EmailMessage) -> None:
    backend = app.config["MAIL_BACKEND"]
    if backend == "smtp":
        _send_smtp(app.config, msg)
        return
    sent_messages().append(msg)
    if backend == "outbox":
        _write_to_outbox(Path(app.instance_path) / "mail", msg)


def _write_to_outbox(folder: Path, msg: EmailMessage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{utcnow():%Y%m%dT%H%M%S%f}"
    body = msg.get_content()
    stem.with_suffix(".eml").write_bytes(bytes(msg))
    stem.with_suffix(".txt").write_text(
        f"To: {msg['To']}\nFrom: {msg['From']}\nSubject: {msg['Subject']}\n\n{body}", encoding="utf-8"
    )
    links = "".join(f"\n  link: {link}" for link in LINK.findall(body))
    log.warning("Email to %s (not sent, written to %s.txt):\n%s%s", msg["To"], stem, body, links)


def _send_smtp(cfg, msg: EmailMessage) -> None:
    """Raises (OSError, smtplib.SMTPException) when the server cannot take the message: the sender retries."""
    with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        smtp.send_message(msg)

"""Outgoing email. Emails never carry case detail: an inbox may be read by others.

Locally the 'outbox' backend writes each message to the log and instance/mail/ instead of sending it:
the message as sent (`.eml`, whose body is quoted-printable, so a link copied from it breaks) and the
same as plain text beside it (`.txt`), with each link printed on its own line of the log, ready to open.
'smtp' sends through the configured server; 'memory' keeps them in a list. Tests read `sent_messages()`.

A request only composes a message and queues it; delivery (whatever the backend) happens on a mail
thread, so how long a server or a disk takes reveals nothing about who was written to. With JOBS_MODE
`sync` (tests) it happens at once, in the caller. `send(None, ...)` does the same work for nobody: the
message is composed and queued in the same way, and the mail thread drops it.
"""

from __future__ import annotations

import logging
import re
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

from flask import current_app, render_template

from shared.models import utcnow

log = logging.getLogger(__name__)
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")
LINK = re.compile(r"https?://\S+")


def sent_messages() -> list[EmailMessage]:
    return current_app.extensions.setdefault("mail_outbox", [])


def render(template: str, **context) -> tuple[str, str]:
    """templates/email/<template>.txt, whose first line is 'Subject: ...'."""
    rendered = render_template(f"email/{template}.txt", service_url=current_app.config["SERVICE_URL"], **context)
    first, _, body = rendered.lstrip().partition("\n")
    return first.removeprefix("Subject:").strip(), body.strip() + "\n"


# Who a message composed for nobody is addressed to while it is queued (it is never delivered).
NOBODY = "nobody@invalid"


def send(to: str | None, template: str, **context) -> None:
    """Compose the message and queue it for delivery to `to`; with `to=None`, the same work and nothing sent."""
    subject, body = render(template, **context)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to or NOBODY
    msg.set_content(body)
    app = current_app._get_current_object()
    if app.config.get("JOBS_MODE") == "sync":
        if to:
            _deliver(app, msg)
    else:
        _executor.submit(_deliver_off_request, app, msg, bool(to))


def _deliver_off_request(app, msg: EmailMessage, deliver: bool) -> None:
    if not deliver:
        return
    try:
        with app.app_context():
            _deliver(app, msg)
    except Exception:  # noqa: BLE001 - a thread has nobody to tell: the log says what went wrong
        log.exception("Could not deliver an email to %s", msg["To"])


def _deliver(app, msg: EmailMessage) -> None:
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
    try:
        with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
            if cfg["MAIL_USE_TLS"]:
                smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException):
        log.exception("Could not send an email to %s", msg["To"])

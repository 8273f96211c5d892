"""Subject access requests: "the student (if the student requests access to them)" may see their records.

The life of a request: the student asks (everything, or one case) -> it joins the queue with its ICO due
date -> a reviewer may pause the clock (clarification, proof of identity), extend it (complex requests,
reason recorded, the student told within the first month) or refuse (manifestly unfounded or excessive,
reason recorded and shown to the student) -> the reviewer reads everything the copy will contain and
redacts third-party information, each redaction with its reason -> release queues a job that renders the
PDF outside any web request, stores it encrypted with its SHA-256, and emails the student (no detail) ->
the student downloads it while signed in, for ACCESS_DOWNLOAD_DAYS days; after that they must ask again.

Services commit, with their audit event, once. Deadline arithmetic is pure: see `shared/deadlines.py`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from shared import audit, jobs, mail
from shared.cli import demo_step
from shared.crypto import decrypt_bytes, encrypt_bytes, key_id_of, new_uid
from shared.deadlines import (  # noqa: F401 - the deadline rules are part of this module's interface
    MAX_EXTENSION_MONTHS,
    add_months,
    days_left,
    due_date,
    first_month_ends,
    may_extend,
    one_month_after,
    service_date,
    service_today,
)
from shared.errors import NotFound, ServiceError, ValidationFailed
from shared.extensions import db
from shared.models import (
    AccessPause,
    AccessRequest,
    AccessStatus,
    Case,
    CaseEntryVersion,
    PauseReason,
    Redaction,
    RedactionTarget,
    RenderJob,
    RenderState,
    Staff,
    Student,
    utcnow,
)
from shared.models.access import OPEN_STATUSES
from shared.records import RedactionRule, StudentRecord, collect, format_day, format_moment  # noqa: F401

NOTE_MAX = 2000
REASON_MAX = 2000
PAUSE_LABELS = {
    PauseReason.CLARIFICATION.value: "waiting for you to clarify what you are asking for",
    PauseReason.IDENTITY.value: "waiting for proof of your identity",
}
STATUS_LABELS = {
    AccessStatus.RECEIVED.value: "Being prepared",
    AccessStatus.PAUSED.value: "Paused",
    AccessStatus.REFUSED.value: "Refused",
    AccessStatus.RELEASING.value: "Being produced",
    AccessStatus.RELEASED.value: "Ready",
}


class WrongState(ServiceError):
    message = "That cannot be done to this request now."


class DownloadUnavailable(ServiceError):
    message = "This copy can no longer be downloaded. You can ask for a new copy of your records."


class StoredCopyDamaged(ServiceError):
    message = "The stored copy could not be opened. The Advice Service has been told; please ask them for a new copy."


# --- reading ------------------------------------------------------------------------------------------


def pauses_of(req: AccessRequest) -> list[tuple[date, date | None]]:
    return [(p.started_on, p.ended_on) for p in req.pauses]


def live_due(req: AccessRequest, today: date | None = None) -> date:
    """The due date today: an open pause keeps moving it on."""
    return due_date(req.received_on, pauses_of(req), req.extension_months, today=today or service_today())


def _refresh_due(req: AccessRequest, today: date) -> None:
    req.due_on = live_due(req, today)


def open_pause(req: AccessRequest) -> AccessPause | None:
    return next((p for p in req.pauses if p.ended_on is None), None)


def current_job(req: AccessRequest) -> RenderJob | None:
    return req.jobs[-1] if req.jobs else None


def download_open(req: AccessRequest) -> bool:
    return bool(req.status == AccessStatus.RELEASED.value and req.download_expires_at and utcnow() < req.download_expires_at)


def status_for_student(req: AccessRequest) -> str:
    if req.status == AccessStatus.RELEASED.value:
        return "Ready to download" if download_open(req) else "Expired"
    return {
        AccessStatus.RECEIVED.value: "Received: we are preparing your copy",
        AccessStatus.PAUSED.value: "Paused: we are waiting to hear from you",
        AccessStatus.REFUSED.value: "Refused",
        AccessStatus.RELEASING.value: "Being produced",
    }[req.status]


def scope_label(req: AccessRequest) -> str:
    if req.case_id is None:
        return "everything we hold about you"
    reference = db.session.scalar(select(Case.reference).where(Case.id == req.case_id))
    return f"enquiry {reference}"


@dataclass
class QueueRow:
    id: int
    reference: str
    student_email: str
    scope: str
    received_on: date
    due_on: date
    days_left: int
    status: str
    status_label: str
    extended: bool


def _row(req: AccessRequest, today: date) -> QueueRow:
    due = live_due(req, today)
    return QueueRow(req.id, req.reference, req.student.email, scope_label(req), req.received_on, due,
                    days_left(due, today), req.status, STATUS_LABELS[req.status], req.extension_months > 0)


def _open_requests():
    return db.session.scalars(select(AccessRequest).where(AccessRequest.status.in_(OPEN_STATUSES)).order_by(AccessRequest.due_on))


def queue(staff: Staff, *, include_closed: bool = False, today: date | None = None) -> list[QueueRow]:
    """Open requests, soonest due first (then, if asked, the closed ones, newest first)."""
    today = today or service_today()
    rows = sorted((_row(r, today) for r in _open_requests()), key=lambda r: (r.due_on, r.id))
    if include_closed:
        closed = db.session.scalars(
            select(AccessRequest).where(AccessRequest.status.not_in(OPEN_STATUSES)).order_by(AccessRequest.received_at.desc())
        )
        rows += [_row(r, today) for r in closed]
    audit.record_view(staff, "access.queue_viewed", None, count=len(rows))
    return rows


def near_deadline(within_days: int = 7, today: date | None = None) -> list[QueueRow]:
    """For the dashboard: open requests due within `within_days` (or overdue). Shows references, not names."""
    today = today or service_today()
    rows = [_row(r, today) for r in _open_requests() if r.status != AccessStatus.RELEASING.value]
    return sorted((r for r in rows if r.days_left <= within_days), key=lambda r: (r.due_on, r.id))


def for_student(student: Student, request_id: int) -> AccessRequest:
    """Only the student's own requests: anyone else's is indistinguishable from none."""
    req = db.session.scalar(
        select(AccessRequest).where(AccessRequest.id == request_id, AccessRequest.student_id == student.id)
    )
    if req is None:
        raise NotFound()
    return req


def requests_of(student: Student) -> list[AccessRequest]:
    return list(db.session.scalars(
        select(AccessRequest).where(AccessRequest.student_id == student.id).order_by(AccessRequest.received_at.desc())
    ))


def _get(request_id: int) -> AccessRequest:
    req = db.session.get(AccessRequest, request_id)
    if req is None:
        raise NotFound()
    return req


def view(staff: Staff, request_id: int) -> AccessRequest:
    req = _get(request_id)
    audit.record_view(staff, "access.request_viewed", req, student_id=req.student_id, case_id=req.case_id)
    return req


def _rules(req: AccessRequest) -> list[RedactionRule]:
    return [RedactionRule(r.target_kind, r.target_id, r.passage) for r in req.redactions]


def contents(req: AccessRequest, *, load_files: bool = False) -> StudentRecord:
    """Exactly what the copy will contain, redactions applied."""
    return collect(req.student_id, req.case_id, _rules(req), load_files=load_files)


def review(staff: Staff, request_id: int) -> tuple[AccessRequest, StudentRecord]:
    req = _get(request_id)
    record = contents(req)
    audit.record_view(staff, "access.reviewed", req, student_id=req.student_id, case_id=req.case_id)
    return req, record


# --- the student's side ------------------------------------------------------------------------------------


def request_copy(student: Student, *, case_id: int | None = None, note: str | None = None) -> AccessRequest:
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise ValidationFailed(f"Keep the note under {NOTE_MAX} characters.")
    if case_id is not None:
        owns = db.session.scalar(select(Case.id).where(Case.id == case_id, Case.student_id == student.id))
        if owns is None:
            raise NotFound("We could not find that enquiry.")
    now = utcnow()
    received_on = service_date(now)
    req = AccessRequest(
        reference=new_uid()[:20], student_id=student.id, case_id=case_id, received_at=now, received_on=received_on,
        status=AccessStatus.RECEIVED.value, base_due_on=one_month_after(received_on), due_on=one_month_after(received_on),
    )
    req.note = note
    db.session.add(req)
    db.session.flush()
    req.reference = f"SAR-{received_on.year}-{req.id:04d}"
    audit.record(student, "access.requested", req, student_id=student.id, case_id=case_id, scope="case" if case_id else "all")
    db.session.commit()
    return req


def download(student: Student, request_id: int) -> tuple[str, bytes]:
    """The decrypted PDF, checked against its recorded SHA-256. Audited."""
    req = for_student(student, request_id)
    if req.status != AccessStatus.RELEASED.value:
        raise DownloadUnavailable("This copy is not ready yet.")
    if not download_open(req):
        _discard_copy(req)
        db.session.commit()
        raise DownloadUnavailable()
    path = Path(current_app.instance_path) / req.pdf_path
    try:
        pdf = decrypt_bytes(path.read_bytes(), pdf_context(req))
    except (OSError, ValueError) as exc:
        current_app.logger.error("Access copy %s could not be opened: %s", req.id, type(exc).__name__)
        raise StoredCopyDamaged() from exc
    if hashlib.sha256(pdf).hexdigest() != req.pdf_sha256:
        raise StoredCopyDamaged()
    audit.record(student, "access.downloaded", req, student_id=student.id, case_id=req.case_id, sha256=req.pdf_sha256[:16])
    db.session.commit()
    return f"{req.reference}.pdf", pdf


def _discard_copy(req: AccessRequest) -> None:
    """After the download period the stored copy is deleted: a new request makes a fresh one."""
    if req.pdf_path:
        (Path(current_app.instance_path) / req.pdf_path).unlink(missing_ok=True)
        audit.record("system", "access.copy_discarded", req, student_id=req.student_id)
        req.pdf_path = None


def discard_expired() -> int:
    expired = db.session.scalars(select(AccessRequest).where(
        AccessRequest.status == AccessStatus.RELEASED.value, AccessRequest.pdf_path.is_not(None),
        AccessRequest.download_expires_at <= utcnow(),
    )).all()
    for req in expired:
        _discard_copy(req)
    db.session.commit()
    return len(expired)


# --- the reviewer's side -----------------------------------------------------------------------------------


def _require(req: AccessRequest, *statuses: str) -> None:
    if req.status not in statuses:
        raise WrongState(f"This request is {STATUS_LABELS[req.status].lower()}: that cannot be done now.")


def _reason(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(f"Give the reason for {what}.")
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"Keep the reason under {REASON_MAX} characters.")
    return text


def _tell_student(req: AccessRequest) -> None:
    mail.send(req.student.email, "access_update")


def pause(staff: Staff, request_id: int, reason: str, *, started_on: date | None = None) -> AccessRequest:
    req = _get(request_id)
    _require(req, AccessStatus.RECEIVED.value)
    if reason not in PAUSE_LABELS:
        raise ValidationFailed("Choose what the service is waiting for.")
    today = service_today()
    started_on = started_on or today
    if started_on > today or started_on < req.received_on:
        raise ValidationFailed("The pause must start between the day the request arrived and today.")
    if any(p.ended_on and started_on < p.ended_on for p in req.pauses):
        raise ValidationFailed("A pause cannot start before the previous one ended.")
    db.session.add(AccessPause(request=req, reason=reason, started_on=started_on, started_by_id=staff.id))
    req.status = AccessStatus.PAUSED.value
    db.session.flush()
    _refresh_due(req, today)
    audit.record(staff, "access.paused", req, student_id=req.student_id, reason=reason, started_on=started_on.isoformat())
    db.session.commit()
    _tell_student(req)
    return req


def resume(staff: Staff, request_id: int, *, ended_on: date | None = None) -> AccessRequest:
    req = _get(request_id)
    _require(req, AccessStatus.PAUSED.value)
    current = open_pause(req)
    today = service_today()
    ended_on = ended_on or today
    if ended_on < current.started_on or ended_on > today:
        raise ValidationFailed("The clock restarts between the day the pause began and today.")
    current.ended_on, current.ended_by_id = ended_on, staff.id
    req.status = AccessStatus.RECEIVED.value
    _refresh_due(req, today)
    audit.record(staff, "access.resumed", req, student_id=req.student_id, ended_on=ended_on.isoformat(),
                 due_on=req.due_on.isoformat())
    db.session.commit()
    return req


def extend(staff: Staff, request_id: int, months: int, reason: str, *, today: date | None = None) -> AccessRequest:
    """Up to two further months for a complex request; the student is told now, within the first month."""
    req = _get(request_id)
    _require(req, AccessStatus.RECEIVED.value, AccessStatus.PAUSED.value)
    reason = _reason(reason, "the extension")
    today = today or service_today()
    if not may_extend(req.received_on, pauses_of(req), req.extension_months, months, today):
        if req.extension_months + months > MAX_EXTENSION_MONTHS or months < 1:
            raise ValidationFailed("A request can be extended by at most two further months in all.")
        raise ValidationFailed(
            "The first month has passed: an extension must be decided, and the student told, within it."
        )
    now = utcnow()
    req.extension_months += months
    req.extension_reason = reason
    req.extended_at, req.extended_by_id = now, staff.id
    _refresh_due(req, today)
    req.extension_told_at = now  # the email below goes with this commit: telling is part of extending
    audit.record(staff, "access.extended", req, student_id=req.student_id, months=months, due_on=req.due_on.isoformat())
    db.session.commit()
    _tell_student(req)
    return req


def refuse(staff: Staff, request_id: int, reason: str) -> AccessRequest:
    """Manifestly unfounded or excessive only; the reason is recorded and shown to the student."""
    req = _get(request_id)
    _require(req, AccessStatus.RECEIVED.value, AccessStatus.PAUSED.value)
    req.refusal_reason = _reason(reason, "refusing")
    req.refused_at, req.refused_by_id = utcnow(), staff.id
    if (p := open_pause(req)) is not None:
        p.ended_on, p.ended_by_id = service_today(), staff.id
    req.status = AccessStatus.REFUSED.value
    audit.record(staff, "access.refused", req, student_id=req.student_id)
    db.session.commit()
    _tell_student(req)
    return req


def items_of(record: StudentRecord):
    """Every redactable item of a record."""
    yield record.details
    yield from record.consents
    yield from record.disclosures
    for case in record.cases:
        if case.form:
            yield case.form
        yield from case.messages
        yield from (d.item for d in case.documents)
        for entry in case.timeline:
            yield entry
            yield from entry.earlier


def redaction_target(staff: Staff, request_id: int, kind: str, item_id: int):
    """The request and the item a reviewer is about to redact: only things in this copy can be named."""
    req = _get(request_id)
    item = _locate(req, contents(req), kind, item_id)
    audit.record_view(staff, "access.item_viewed", req, student_id=req.student_id, target=f"{kind}:{item_id}")
    return req, item


def _locate(req: AccessRequest, record: StudentRecord, kind: str, item_id: int):
    if kind == RedactionTarget.ENTRY.value:  # an entry is shown through its current wording
        versions = set(db.session.scalars(select(CaseEntryVersion.id).where(CaseEntryVersion.entry_id == item_id)))
        wanted = lambda i: i.kind == RedactionTarget.ENTRY_VERSION.value and i.id in versions  # noqa: E731
    else:
        wanted = lambda i: i.kind == kind and i.id == item_id  # noqa: E731
    item = next((i for i in items_of(record) if wanted(i)), None)
    if item is None:
        raise NotFound("That item is not in this copy.")
    return item


def redact(staff: Staff, request_id: int, kind: str, item_id: int, *, reason: str, passage: str | None = None) -> Redaction:
    req = _get(request_id)
    _require(req, AccessStatus.RECEIVED.value, AccessStatus.PAUSED.value)
    if kind not in {t.value for t in RedactionTarget}:
        raise NotFound()
    reason = _reason(reason, "the redaction")
    item = _locate(req, contents(req), kind, item_id)
    passage = (passage or "").strip() or None
    if passage is not None:
        visible = " ".join([item.text, *(f.value for f in item.facts)])
        if passage not in visible:
            raise ValidationFailed("Copy the passage exactly as it appears in the item.")
    redaction = Redaction(request=req, target_kind=kind, target_id=item_id, redacted_by_id=staff.id)
    redaction.reason = reason
    redaction.passage = passage
    db.session.add(redaction)
    db.session.flush()
    audit.record(staff, "access.redacted", redaction, student_id=req.student_id, request_id=req.id,
                 target=f"{kind}:{item_id}", whole=passage is None)
    db.session.commit()
    return redaction


def remove_redaction(staff: Staff, request_id: int, redaction_id: int) -> None:
    """Before release, a reviewer may take back a redaction made in error; the audit log keeps both."""
    req = _get(request_id)
    _require(req, AccessStatus.RECEIVED.value, AccessStatus.PAUSED.value)
    redaction = db.session.scalar(select(Redaction).where(Redaction.id == redaction_id, Redaction.request_id == req.id))
    if redaction is None:
        raise NotFound()
    audit.record(staff, "access.redaction_removed", redaction, student_id=req.student_id, request_id=req.id,
                 target=f"{redaction.target_kind}:{redaction.target_id}")
    db.session.delete(redaction)
    db.session.commit()


def release(staff: Staff, request_id: int) -> RenderJob:
    """Queue the copy for rendering; the page shows progress until it is ready."""
    req = _get(request_id)
    _require(req, AccessStatus.RECEIVED.value)
    req.status = AccessStatus.RELEASING.value
    req.released_at, req.released_by_id = utcnow(), staff.id
    job = RenderJob(request=req, state=RenderState.QUEUED.value)
    db.session.add(job)
    db.session.flush()
    audit.record(staff, "access.released", req, student_id=req.student_id, case_id=req.case_id,
                 redactions=len(req.redactions), job=job.id)
    db.session.commit()
    jobs.enqueue_render(job.id)
    return job


def retry(staff: Staff, request_id: int) -> RenderJob:
    req = _get(request_id)
    _require(req, AccessStatus.RELEASING.value)
    job = current_job(req)
    if job is None or job.state not in (RenderState.FAILED.value, RenderState.QUEUED.value) and not jobs.is_stale(job):
        raise WrongState("The copy is still being produced.")
    job.state, job.error = RenderState.QUEUED.value, None
    audit.record(staff, "access.render_retried", req, student_id=req.student_id, job=job.id)
    db.session.commit()
    jobs.enqueue_render(job.id)
    return job


# --- producing the copy (called by shared.jobs, never in a web request) ----------------------------------------


def pdf_context(req: AccessRequest) -> str:
    return f"access_requests.pdf.{req.uid}"


def render_context(req: AccessRequest, record: StudentRecord) -> dict:
    released = req.released_at or utcnow()
    return {
        "record": record,
        "sar": {
            "reference": req.reference,
            "received_on": format_day(req.received_on),
            "released_on": format_day(service_date(released)),
            "scope_label": scope_label(req),
        },
    }


COPIES_FOLDER = "access"  # in the instance folder; each request's row holds its copy's path relative to it


def copies_dir() -> Path:
    """Where the encrypted copies of records are kept."""
    return Path(current_app.instance_path) / COPIES_FOLDER


def render_copy(request_id: int) -> None:
    """Render, encrypt and store the copy; mark it ready; tell the student. Commits."""
    from shared.pdf import render_pdf

    req = _get(request_id)
    record = contents(req, load_files=True)
    attachments = [
        (f"{d.item.heading[:80]}.pdf" if not d.item.heading.lower().endswith(".pdf") else d.item.heading[:80], d.pdf_bytes)
        for case in record.cases for d in case.documents if d.pdf_bytes
    ]
    pdf = render_pdf("records.html", render_context(req, record), title=f"Your records from the Advice Service ({req.reference})",
                     attachments=attachments)
    if not req.uid:
        req.uid = new_uid()
    folder = copies_dir()
    folder.mkdir(parents=True, exist_ok=True)
    relative = f"{COPIES_FOLDER}/{req.uid}.pdf.enc"
    blob = encrypt_bytes(pdf, pdf_context(req))
    tmp = folder / f"{req.uid}.tmp"
    tmp.write_bytes(blob)
    tmp.replace(Path(current_app.instance_path) / relative)
    now = utcnow()
    req.pdf_path, req.pdf_key_id, req.pdf_sha256 = relative, key_id_of(blob), hashlib.sha256(pdf).hexdigest()
    req.ready_at = now
    req.download_expires_at = now + timedelta(days=current_app.config["ACCESS_DOWNLOAD_DAYS"])
    req.status = AccessStatus.RELEASED.value
    audit.record("system", "access.copy_ready", req, student_id=req.student_id, case_id=req.case_id,
                 sha256=req.pdf_sha256[:16])
    db.session.commit()
    mail.send(req.student.email, "access_ready", download_days=current_app.config["ACCESS_DOWNLOAD_DAYS"])


@demo_step
def _demo_access_request(made: dict) -> None:
    """Demo data: the demo student has asked for a copy of everything, so the queue is not empty."""
    request_copy(made["student"], note="Demo: I would like to see my records.")

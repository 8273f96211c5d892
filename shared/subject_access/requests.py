"""Subject access requests: "the student (if the student requests access to them)" may see their records.

The life of a request: the student asks (everything, or one case) -> it joins the queue with its ICO due
date -> a reviewer may pause the clock (clarification, proof of identity), extend it (complex requests,
reason recorded, the student told within the first month) or refuse (manifestly unfounded or excessive,
reason recorded and shown to the student) -> the reviewer reads everything the copy will contain and
redacts third-party information, each redaction with its reason -> an officer marks the copy reviewed ->
release (by a second officer where the one who reviewed it made redactions) queues a job that renders the
PDF outside any web request, stores it encrypted with its SHA-256, and emails the student (no detail) ->
the student downloads it while signed in, for ACCESS_DOWNLOAD_DAYS days; after that the copy is discarded
and they must ask again.

Which action may follow which is one table, `TRANSITIONS`; every service that changes a request's state
goes through `advance`, and anything else is refused with `TransitionRefused` (the views answer 409).

Services commit, with their audit event, once. Deadline arithmetic is pure: see `shared/subject_access/deadlines.py`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from shared.audit import log as audit
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
from shared.models.access import OPEN_STATUSES, UNANSWERED_STATUSES  # noqa: F401 - the templates use the latter
from shared.platform import mail
from shared.platform.crypto import decrypt_bytes, encrypt_bytes, key_id_of, new_uid
from shared.platform.errors import NotFound, ServiceError, ValidationFailed
from shared.platform.extensions import db
from shared.subject_access import jobs
from shared.subject_access.copy_store import COPIES_FOLDER, copies_dir, pdf_context
from shared.subject_access.deadlines import (  # noqa: F401 - the deadline rules are part of this module's interface
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
from shared.subject_access.records import RedactionRule, StudentRecord, collect, format_day, format_moment  # noqa: F401

NOTE_MAX = 2000
REASON_MAX = 2000
PAUSE_LABELS = {
    PauseReason.CLARIFICATION.value: "waiting for you to clarify what you are asking for",
    PauseReason.IDENTITY.value: "waiting for proof of your identity",
}
STATUS_LABELS = {
    AccessStatus.RECEIVED.value: "Being prepared",
    AccessStatus.PAUSED.value: "Paused",
    AccessStatus.REVIEWED.value: "Reviewed: ready to release",
    AccessStatus.REFUSED.value: "Refused",
    AccessStatus.RELEASING.value: "Being produced",
    AccessStatus.RELEASED.value: "Ready",
    AccessStatus.EXPIRED.value: "Expired",
}


class TransitionRefused(ServiceError):
    """The request's state does not allow that action now: nothing is changed, and the views answer 409."""

    message = "That cannot be done to this request now."


class SecondOfficerRequired(TransitionRefused):
    message = ("You made redactions in this copy and reviewed it yourself, so another officer must release it. "
               "Ask a colleague to release it, or to review it and then release it.")


class DownloadUnavailable(ServiceError):
    message = "This copy can no longer be downloaded. You can ask for a new copy of your records."


class StoredCopyDamaged(ServiceError):
    message = "The stored copy could not be opened. The Advice Service has been told; please ask them for a new copy."


# --- the request's states: one table of what may follow what ---------------------------------------------

RECEIVED, PAUSED, REVIEWED, REFUSED, RELEASING, RELEASED, EXPIRED = (s.value for s in (
    AccessStatus.RECEIVED, AccessStatus.PAUSED, AccessStatus.REVIEWED, AccessStatus.REFUSED, AccessStatus.RELEASING,
    AccessStatus.RELEASED, AccessStatus.EXPIRED))
REQUEST, PAUSE, RESUME, EXTEND, REDACT, UNREDACT = "request", "pause", "resume", "extend", "redact", "unredact"
REVIEW, RELEASE, RETRY, RENDER, EXPIRE, REFUSE = "review", "release", "retry", "render", "expire", "refuse"

# {state: {action: next state}}. `None` is before the request exists. A change to the redactions (or a
# pause) after the review takes the copy back before it: the review no longer covers what would be released.
TRANSITIONS: dict[str | None, dict[str, str]] = {
    None: {REQUEST: RECEIVED},
    RECEIVED: {PAUSE: PAUSED, EXTEND: RECEIVED, REDACT: RECEIVED, UNREDACT: RECEIVED, REVIEW: REVIEWED,
               REFUSE: REFUSED},
    PAUSED: {RESUME: RECEIVED, EXTEND: PAUSED, REDACT: PAUSED, UNREDACT: PAUSED, REFUSE: REFUSED},
    REVIEWED: {PAUSE: PAUSED, EXTEND: REVIEWED, REDACT: RECEIVED, UNREDACT: RECEIVED, RELEASE: RELEASING,
               REFUSE: REFUSED},
    RELEASING: {RETRY: RELEASING, RENDER: RELEASED},  # the job produces the copy; a failed job is retried
    RELEASED: {EXPIRE: EXPIRED},  # after the download period the stored copy is discarded
    REFUSED: {},
    EXPIRED: {},
}
ACTIONS = tuple(sorted({action for moves in TRANSITIONS.values() for action in moves} - {REQUEST}))
BEFORE_REVIEW = (RECEIVED, PAUSED)  # states whose copy has no review: entering one clears it

_DOING = {  # what each action does, for the message that refuses it
    PAUSE: "pause the clock", RESUME: "restart the clock", EXTEND: "extend the time to reply",
    REDACT: "change the redactions", UNREDACT: "change the redactions", REVIEW: "mark the copy as reviewed",
    RELEASE: "release the copy", RETRY: "produce the copy again", RENDER: "produce the copy",
    EXPIRE: "discard the copy", REFUSE: "refuse the request",
}
_BECAUSE = {
    RECEIVED: "This copy has not been reviewed yet",
    PAUSED: "The clock on this request is paused",
    REVIEWED: "This copy has been reviewed and is waiting to be released",
    RELEASING: "This copy has been released and is being produced",
    RELEASED: "This copy has been released",
    REFUSED: "This request was refused",
    EXPIRED: "This copy has expired",
}
_NOT_REVIEWED = "This copy has not been reviewed yet, so it can't be released. Review it first."
_ALREADY_RELEASED = "This copy has already been released."
_REFUSAL_MESSAGES = {
    (RECEIVED, RELEASE): _NOT_REVIEWED,
    (PAUSED, RELEASE): "The clock on this request is paused and the copy has not been reviewed, so it can't be released.",
    (RELEASING, RELEASE): _ALREADY_RELEASED,
    (RELEASED, RELEASE): _ALREADY_RELEASED,
    (EXPIRED, RELEASE): _ALREADY_RELEASED,
    (REFUSED, RELEASE): "This request was refused, so no copy can be released.",
    (PAUSED, PAUSE): "The clock on this request is already paused.",
    (RECEIVED, RESUME): "The clock on this request is running, so it can't be restarted.",
    (REVIEWED, RESUME): "The clock on this request is running, so it can't be restarted.",
    (REVIEWED, REVIEW): "This copy has already been reviewed.",
    (PAUSED, REVIEW): "The clock on this request is paused: restart it before marking the copy as reviewed.",
}


def refusal_message(status: str, action: str) -> str:
    return _REFUSAL_MESSAGES.get((status, action)) or f"{_BECAUSE[status]}, so you can't {_DOING[action]} now."


def check(req: AccessRequest, action: str) -> str:
    """The state `action` leads to from the request's state, or `TransitionRefused` saying why not."""
    moves = TRANSITIONS[req.status]
    if action not in moves:
        raise TransitionRefused(refusal_message(req.status, action))
    return moves[action]


def advance(req: AccessRequest, action: str) -> None:
    """Apply `action` to the request's state (checked again here). Going back before the review clears it."""
    target = check(req, action)
    if target in BEFORE_REVIEW:
        req.reviewed_at = req.reviewed_by_id = None
    req.status = target


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
        AccessStatus.REVIEWED.value: "Received: we are preparing your copy",  # the review is the service's own step
        AccessStatus.PAUSED.value: "Paused: we are waiting to hear from you",
        AccessStatus.REFUSED.value: "Refused",
        AccessStatus.RELEASING.value: "Being produced",
        AccessStatus.EXPIRED.value: "Expired",
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


def _get(request_id: int, *, for_update: bool = False) -> AccessRequest:
    """The request; `for_update` locks its row until the commit (PostgreSQL), so two officers' actions on
    it queue and the second sees the state the first left (SQLite's writers queue at BEGIN IMMEDIATE)."""
    req = db.session.get(AccessRequest, request_id, with_for_update=True if for_update else None)
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
        status=TRANSITIONS[None][REQUEST], base_due_on=one_month_after(received_on), due_on=one_month_after(received_on),
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
    if req.status == AccessStatus.EXPIRED.value:
        raise DownloadUnavailable()
    if req.status != AccessStatus.RELEASED.value:
        raise DownloadUnavailable("This copy is not ready yet.")
    if not download_open(req):
        discard_copy(req)
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


def discard_copy(req: AccessRequest) -> None:
    """After the download period the stored copy is deleted: a new request makes a fresh one."""
    advance(req, EXPIRE)
    if req.pdf_path:
        (Path(current_app.instance_path) / req.pdf_path).unlink(missing_ok=True)
        req.pdf_path = None
    audit.record("system", "access.copy_discarded", req, student_id=req.student_id)


def discard_expired() -> int:
    expired = db.session.scalars(select(AccessRequest).where(
        AccessRequest.status == AccessStatus.RELEASED.value, AccessRequest.pdf_path.is_not(None),
        AccessRequest.download_expires_at <= utcnow(),
    )).all()
    for req in expired:
        discard_copy(req)
    db.session.commit()
    return len(expired)


# --- the reviewer's side -----------------------------------------------------------------------------------


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
    req = _get(request_id, for_update=True)
    check(req, PAUSE)
    if reason not in PAUSE_LABELS:
        raise ValidationFailed("Choose what the service is waiting for.")
    today = service_today()
    started_on = started_on or today
    if started_on > today or started_on < req.received_on:
        raise ValidationFailed("The pause must start between the day the request arrived and today.")
    if any(p.ended_on and started_on < p.ended_on for p in req.pauses):
        raise ValidationFailed("A pause cannot start before the previous one ended.")
    db.session.add(AccessPause(request=req, reason=reason, started_on=started_on, started_by_id=staff.id))
    advance(req, PAUSE)
    db.session.flush()
    _refresh_due(req, today)
    audit.record(staff, "access.paused", req, student_id=req.student_id, reason=reason, started_on=started_on.isoformat())
    db.session.commit()
    _tell_student(req)
    return req


def resume(staff: Staff, request_id: int, *, ended_on: date | None = None) -> AccessRequest:
    req = _get(request_id, for_update=True)
    check(req, RESUME)
    current = open_pause(req)
    today = service_today()
    ended_on = ended_on or today
    if ended_on < current.started_on or ended_on > today:
        raise ValidationFailed("The clock restarts between the day the pause began and today.")
    current.ended_on, current.ended_by_id = ended_on, staff.id
    advance(req, RESUME)
    _refresh_due(req, today)
    audit.record(staff, "access.resumed", req, student_id=req.student_id, ended_on=ended_on.isoformat(),
                 due_on=req.due_on.isoformat())
    db.session.commit()
    return req


def extend(staff: Staff, request_id: int, months: int, reason: str, *, today: date | None = None) -> AccessRequest:
    """Up to two further months for a complex request; the student is told now, within the first month."""
    req = _get(request_id, for_update=True)
    check(req, EXTEND)
    reason = _reason(reason, "the extension")
    today = today or service_today()
    if not may_extend(req.received_on, pauses_of(req), req.extension_months, months, today):
        if req.extension_months + months > MAX_EXTENSION_MONTHS or months < 1:
            raise ValidationFailed("A request can be extended by at most two further months in all.")
        raise ValidationFailed(
            "The first month has passed: an extension must be decided, and the student told, within it."
        )
    now = utcnow()
    advance(req, EXTEND)
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
    req = _get(request_id, for_update=True)
    check(req, REFUSE)
    req.refusal_reason = _reason(reason, "refusing")
    req.refused_at, req.refused_by_id = utcnow(), staff.id
    if (p := open_pause(req)) is not None:
        p.ended_on, p.ended_by_id = service_today(), staff.id
    advance(req, REFUSE)
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
    req = _get(request_id, for_update=True)
    check(req, REDACT)
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
    review_withdrawn = req.status == AccessStatus.REVIEWED.value
    advance(req, REDACT)
    db.session.flush()
    audit.record(staff, "access.redacted", redaction, student_id=req.student_id, request_id=req.id,
                 target=f"{kind}:{item_id}", whole=passage is None, review_withdrawn=review_withdrawn)
    db.session.commit()
    return redaction


def remove_redaction(staff: Staff, request_id: int, redaction_id: int) -> None:
    """Before release, a reviewer may take back a redaction made in error; the audit log keeps both."""
    req = _get(request_id, for_update=True)
    check(req, UNREDACT)
    redaction = db.session.scalar(select(Redaction).where(Redaction.id == redaction_id, Redaction.request_id == req.id))
    if redaction is None:
        raise NotFound()
    review_withdrawn = req.status == AccessStatus.REVIEWED.value
    advance(req, UNREDACT)
    audit.record(staff, "access.redaction_removed", redaction, student_id=req.student_id, request_id=req.id,
                 target=f"{redaction.target_kind}:{redaction.target_id}", review_withdrawn=review_withdrawn)
    db.session.delete(redaction)
    db.session.commit()


def mark_reviewed(staff: Staff, request_id: int) -> AccessRequest:
    """The officer has read the copy as it will be released, redactions applied: it may now be released."""
    req = _get(request_id, for_update=True)
    advance(req, REVIEW)
    req.reviewed_at, req.reviewed_by_id = utcnow(), staff.id
    audit.record(staff, "access.copy_reviewed", req, student_id=req.student_id, case_id=req.case_id,
                 redactions=len(req.redactions))
    db.session.commit()
    return req


def needs_another_releaser(req: AccessRequest, staff: Staff) -> bool:
    """The two-person rule: where redactions were made, no one officer both reviews and releases a copy
    that holds redactions of their own. Someone else reviewed it, or someone else releases it."""
    redactors = {r.redacted_by_id for r in req.redactions}
    return bool(redactors) and req.reviewed_by_id == staff.id and staff.id in redactors


def release(staff: Staff, request_id: int) -> RenderJob:
    """Queue the copy for rendering; the page shows progress until it is ready. Only a reviewed copy, and
    by a second officer where the reviewer made redactions (`needs_another_releaser`)."""
    req = _get(request_id, for_update=True)
    check(req, RELEASE)
    if needs_another_releaser(req, staff):
        raise SecondOfficerRequired()
    advance(req, RELEASE)
    req.released_at, req.released_by_id = utcnow(), staff.id
    job = RenderJob(request=req, state=RenderState.QUEUED.value)
    db.session.add(job)
    db.session.flush()
    audit.record(staff, "access.released", req, student_id=req.student_id, case_id=req.case_id,
                 redactions=len(req.redactions), reviewed_by=req.reviewed_by_id, job=job.id)
    db.session.commit()
    jobs.enqueue_render(job.id)
    return job


def retry(staff: Staff, request_id: int) -> RenderJob:
    req = _get(request_id, for_update=True)
    check(req, RETRY)
    job = current_job(req)
    if job is None or job.state not in (RenderState.FAILED.value, RenderState.QUEUED.value) and not jobs.is_stale(job):
        raise TransitionRefused("The copy is still being produced: it can be tried again only if that fails.")
    advance(req, RETRY)
    job.state, job.error = RenderState.QUEUED.value, None
    audit.record(staff, "access.render_retried", req, student_id=req.student_id, job=job.id)
    db.session.commit()
    jobs.enqueue_render(job.id)
    return job


# --- producing the copy (called by shared.subject_access.jobs, never in a web request) ----------------------------------------


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


def render_copy(request_id: int) -> None:
    """Render, encrypt and store the copy; mark it ready; tell the student. Commits."""
    from shared.platform.pdf import render_pdf

    req = _get(request_id)
    check(req, RENDER)  # before any work: only a released request's copy is produced
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
    advance(req, RENDER)
    audit.record("system", "access.copy_ready", req, student_id=req.student_id, case_id=req.case_id,
                 sha256=req.pdf_sha256[:16])
    db.session.commit()
    mail.send(req.student.email, "access_ready", download_days=current_app.config["ACCESS_DOWNLOAD_DAYS"])

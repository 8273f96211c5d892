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

Which action may follow which is one table, `TRANSITIONS` (shared/subject_access/states.py); every service
that changes a request's state goes through `advance`, and anything else is refused with `TransitionRefused`
(the views answer 409). Reading a request is shared/subject_access/reading.py; the copy itself (render,
download, discard) is shared/subject_access/copies.py, run by shared/subject_access/jobs.py, which this module
queues: reading <- requests -> jobs -> copies, and copies reads through reading and states.

Services commit, with their audit event, once. Deadline arithmetic is pure: see `shared/subject_access/deadlines.py`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from shared.audit import log as audit
from shared.models import (
    AccessPause,
    AccessRequest,
    AccessStatus,
    Case,
    CaseEntryVersion,
    Redaction,
    RedactionTarget,
    RenderJob,
    RenderState,
    Staff,
    Student,
    utcnow,
)
from shared.platform import mail
from shared.platform.answers import too_long
from shared.platform.crypto import new_uid
from shared.platform.errors import NotFound, ValidationFailed
from shared.platform.extensions import db
from shared.subject_access import jobs
from shared.subject_access.deadlines import (
    MAX_EXTENSION_MONTHS,
    may_extend,
    one_month_after,
    service_date,
    service_today,
)
from shared.subject_access.reading import (
    PAUSE_LABELS,
    copy_contents,
    current_job,
    get_request,
    open_pause,
    pauses_of,
    refresh_due,
)
from shared.subject_access.records import StudentRecord
from shared.subject_access.states import (
    EXTEND,
    PAUSE,
    REDACT,
    REFUSE,
    RELEASE,
    REQUEST,
    RESUME,
    RETRY,
    REVIEW,
    TRANSITIONS,
    UNREDACT,
    SecondOfficerRequired,
    TransitionRefused,
    advance,
    check,
)

NOTE_MAX = 2000
REASON_MAX = 2000


def request_copy(student: Student, *, case_id: int | None = None, note: str | None = None) -> AccessRequest:
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise ValidationFailed(too_long("the note", NOTE_MAX, len(note)))
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


def _reason(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(f"Give the reason for {what}.")
    if len(text) > REASON_MAX:
        raise ValidationFailed(too_long("the reason", REASON_MAX, len(text)))
    return text


def _tell_student(req: AccessRequest) -> None:
    mail.send(req.student.email, "access_update")


def pause(staff: Staff, request_id: int, reason: str, *, started_on: date | None = None) -> AccessRequest:
    req = get_request(request_id, for_update=True, staff=staff)
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
    refresh_due(req, today)
    audit.record(staff, "access.paused", req, student_id=req.student_id, reason=reason, started_on=started_on.isoformat())
    _tell_student(req)
    db.session.commit()
    return req


def resume(staff: Staff, request_id: int, *, ended_on: date | None = None) -> AccessRequest:
    req = get_request(request_id, for_update=True, staff=staff)
    check(req, RESUME)
    current = open_pause(req)
    today = service_today()
    ended_on = ended_on or today
    if ended_on < current.started_on or ended_on > today:
        raise ValidationFailed("The clock restarts between the day the pause began and today.")
    current.ended_on, current.ended_by_id = ended_on, staff.id
    advance(req, RESUME)
    refresh_due(req, today)
    audit.record(staff, "access.resumed", req, student_id=req.student_id, ended_on=ended_on.isoformat(),
                 due_on=req.due_on.isoformat())
    db.session.commit()
    return req


def extend(staff: Staff, request_id: int, months: int, reason: str, *, today: date | None = None) -> AccessRequest:
    """Up to two further months for a complex request; the student is told now, within the first month."""
    req = get_request(request_id, for_update=True, staff=staff)
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
    refresh_due(req, today)
    req.extension_told_at = now  # the email is committed with this: telling is part of extending
    audit.record(staff, "access.extended", req, student_id=req.student_id, months=months, due_on=req.due_on.isoformat())
    _tell_student(req)
    db.session.commit()
    return req


def refuse(staff: Staff, request_id: int, reason: str) -> AccessRequest:
    """Manifestly unfounded or excessive only; the reason is recorded and shown to the student."""
    req = get_request(request_id, for_update=True, staff=staff)
    check(req, REFUSE)
    req.refusal_reason = _reason(reason, "refusing")
    req.refused_at, req.refused_by_id = utcnow(), staff.id
    if (p := open_pause(req)) is not None:
        p.ended_on, p.ended_by_id = service_today(), staff.id
    advance(req, REFUSE)
    audit.record(staff, "access.refused", req, student_id=req.student_id)
    _tell_student(req)
    db.session.commit()
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
    req = get_request(request_id, staff=staff)
    item = _locate(req, copy_contents(req), kind, item_id)
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
    req = get_request(request_id, for_update=True, staff=staff)
    check(req, REDACT)
    if kind not in {t.value for t in RedactionTarget}:
        raise NotFound()
    reason = _reason(reason, "the redaction")
    item = _locate(req, copy_contents(req), kind, item_id)
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
    req = get_request(request_id, for_update=True, staff=staff)
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
    req = get_request(request_id, for_update=True, staff=staff)
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
    req = get_request(request_id, for_update=True, staff=staff)
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
    req = get_request(request_id, for_update=True, staff=staff)
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


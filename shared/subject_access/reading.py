"""Reading subject access requests: a request's pauses, live due date and status as the student sees it,
the reviewers' queue, a student's own requests, and the contents its copy will hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from shared.audit import log as audit
from shared.casework import wall
from shared.models import (
    AccessPause,
    AccessRequest,
    AccessStatus,
    Case,
    PauseReason,
    RenderJob,
    Staff,
    Student,
    utcnow,
)
from shared.models.access import OPEN_STATUSES, UNANSWERED_STATUSES
from shared.platform.errors import NotFound
from shared.platform.extensions import db
from shared.security.authz import can_view_all_cases
from shared.subject_access.deadlines import (
    MAX_EXTENSION_MONTHS,
    days_left,
    due_date,
    first_month_ends,
    service_today,
)
from shared.subject_access.records import RedactionRule, StudentRecord, collect

NO_SUCH_REQUEST = "We could not find that request."

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


def pauses_of(req: AccessRequest) -> list[tuple[date, date | None]]:
    return [(p.started_on, p.ended_on) for p in req.pauses]


def live_due(req: AccessRequest, today: date | None = None) -> date:
    """The due date today: an open pause keeps moving it on."""
    return due_date(req.received_on, pauses_of(req), req.extension_months, today=today or service_today())


def refresh_due(req: AccessRequest, today: date) -> None:
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


def request_queue(staff: Staff, *, include_closed: bool = False, today: date | None = None) -> list[QueueRow]:
    """Open requests, soonest due first (then, if asked, the closed ones, newest first)."""
    if not can_view_all_cases(staff):
        raise NotFound()
    today = today or service_today()
    walled = wall.walled_students(staff)
    rows = sorted((_row(r, today) for r in _open_requests() if r.student_id not in walled),
                  key=lambda r: (r.due_on, r.id))
    if include_closed:
        closed = db.session.scalars(
            select(AccessRequest).where(AccessRequest.status.not_in(OPEN_STATUSES)).order_by(AccessRequest.received_at.desc())
        )
        rows += [_row(r, today) for r in closed if r.student_id not in walled]
    audit.record_view(staff, "access.queue_viewed", None, count=len(rows))
    return rows


def near_deadline(staff: Staff, within_days: int = 7, today: date | None = None) -> list[QueueRow]:
    """For the dashboard: open requests due within `within_days` (or overdue), but those behind this staff
    member's ethical wall. Shows references, not names."""
    today = today or service_today()
    walled = wall.walled_students(staff)
    rows = [_row(r, today) for r in _open_requests()
            if r.status != AccessStatus.RELEASING.value and r.student_id not in walled]
    return sorted((r for r in rows if r.days_left <= within_days), key=lambda r: (r.due_on, r.id))


def for_student(student: Student, request_id: int) -> AccessRequest:
    """Only the student's own requests: anyone else's is indistinguishable from none."""
    req = db.session.scalar(
        select(AccessRequest).where(AccessRequest.id == request_id, AccessRequest.student_id == student.id)
    )
    if req is None:
        raise NotFound(NO_SUCH_REQUEST)
    return req


def requests_of(student: Student) -> list[AccessRequest]:
    return list(db.session.scalars(
        select(AccessRequest).where(AccessRequest.student_id == student.id).order_by(AccessRequest.received_at.desc())
    ))


def get_request(request_id: int, *, for_update: bool = False, staff: Staff | None = None) -> AccessRequest:
    """The request; `for_update` locks its row until the commit (PostgreSQL), so two officers' actions on
    it queue and the second sees the state the first left (SQLite's writers queue at BEGIN IMMEDIATE).
    For a member of staff behind an ethical wall from one of the student's cases, the request (whose copy
    holds that case) is not found."""
    if staff is not None and not can_view_all_cases(staff):  # the service checks its actor, not only the guard
        raise NotFound(NO_SUCH_REQUEST)
    req = db.session.get(AccessRequest, request_id, with_for_update=True if for_update else None)
    if req is None:
        raise NotFound(NO_SUCH_REQUEST)
    if staff is not None and wall.walls_student(staff, req.student_id):
        audit.record_view(staff, "wall.refused", req, student_id=req.student_id, case_id=req.case_id)
        raise NotFound(NO_SUCH_REQUEST)
    return req


def view_request(staff: Staff, request_id: int) -> AccessRequest:
    req = get_request(request_id, staff=staff)
    audit.record_view(staff, "access.request_viewed", req, student_id=req.student_id, case_id=req.case_id)
    return req


@dataclass(frozen=True)
class RequestSummary:
    """What the staff pages show about a request, worked out here (the pages are handed no module)."""

    scope: str
    status: str
    due_on: date
    days_left: int
    first_month_ends: date
    may_extend: bool
    pauses: list[tuple[str, date, date | None]]  # (why, from, to or None while paused)


def summary(req: AccessRequest, today: date | None = None) -> RequestSummary:
    today = today or service_today()
    due = live_due(req, today)
    return RequestSummary(
        scope=scope_label(req), status=STATUS_LABELS[req.status], due_on=due, days_left=days_left(due, today),
        first_month_ends=first_month_ends(req.received_on, pauses_of(req), today=today),
        may_extend=req.extension_months < MAX_EXTENSION_MONTHS,
        pauses=[(PAUSE_LABELS[p.reason], p.started_on, p.ended_on) for p in req.pauses],
    )


@dataclass(frozen=True)
class StudentRequestView:
    """A request as its student sees it: the same for every student whatever the service's own steps."""

    req: AccessRequest
    scope: str
    status: str
    reply_by: date | None  # while unanswered
    paused_since: date | None
    paused_for: str | None  # what the service is waiting for
    download_open: bool


def for_student_view(req: AccessRequest, today: date | None = None) -> StudentRequestView:
    pause = open_pause(req) if req.status == AccessStatus.PAUSED.value else None
    return StudentRequestView(
        req=req, scope=scope_label(req), status=status_for_student(req),
        reply_by=live_due(req, today) if req.status in UNANSWERED_STATUSES else None,
        paused_since=pause.started_on if pause else None, paused_for=PAUSE_LABELS[pause.reason] if pause else None,
        download_open=download_open(req),
    )


def _rules(req: AccessRequest) -> list[RedactionRule]:
    return [RedactionRule(r.target_kind, r.target_id, r.passage) for r in req.redactions]


def copy_contents(req: AccessRequest, *, load_files: bool = False) -> StudentRecord:
    """Exactly what the copy will contain, redactions applied."""
    return collect(req.student_id, req.case_id, _rules(req), load_files=load_files)


def review_copy(staff: Staff, request_id: int) -> tuple[AccessRequest, StudentRecord]:
    req = get_request(request_id, staff=staff)
    record = copy_contents(req)
    audit.record_view(staff, "access.reviewed", req, student_id=req.student_id, case_id=req.case_id)
    return req, record


"""Cases: who reaches which case, the student's side of a case, and messages; the words and text rules the
casework modules share.

Access is decided here and nowhere else. A student reaches a case only through `case_for_student`, which
filters by their own id, so another student's reference is a `NotFound` exactly like a reference that
does not exist. Staff reach cases through `case_for_staff`: the policy lets every advice officer, the
manager and the administrator see every record, and nobody else, except across an ethical wall (`wall`).

Every service follows the commit policy: change, `audit.record(...)` in the same transaction, one commit.
Every view of a case is audited too. Emails never carry case detail: they say there is something to read.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import joinedload

from shared.audit import log as audit
from shared.casework import documents, reference_data, wall
from shared.casework.documents import Upload
from shared.models import (
    Appointment,
    Case,
    CaseChange,
    CaseStatus,
    Document,
    ListKind,
    Message,
    Staff,
    Student,
    utcnow,
)
from shared.models.casework import OPEN_CASE
from shared.platform import clock, mail
from shared.platform.answers import required_text
from shared.platform.errors import InvalidAnswers, NotFound, ValidationFailed  # noqa: F401 (InvalidAnswers: casework's callers import it from here)
from shared.platform.extensions import db
from shared.security.authz import can_view_all_cases

LONDON = clock.SERVICE_TZ

STUDENT_STATUS = {"new": "New", "open": "Open", "waiting": "Waiting for you", "closed": "Closed"}
STAFF_STATUS = {"new": "New", "open": "Open", "waiting": "Waiting for the student", "closed": "Closed"}


MEETING = {"in_person": "In person", "online": "Online (video call)", "phone": "By phone"}


OTHER_COLLEGE = "other"
OTHER_COLLEGE_LABEL = "Other, or not in a college"

# Lengths: generous for the story, tight for single-line answers.
LONG_TEXT = 20_000


SHORT_REASON = 500


def list_items(kind: ListKind, *, active_only: bool = True) -> list[reference_data.Item]:
    return [i for i in reference_data.list_items() if i.kind == kind.value and (i.active or not active_only)]


def labels() -> MappingProxyType:
    """Every list's code -> label, retired items included (old cases keep them). Read-only."""
    return reference_data.from_lists("labels", _build_labels)


def _build_labels() -> MappingProxyType:
    out: dict[str, dict[str, str]] = {k.value: {} for k in ListKind}
    for item in reference_data.list_items():
        out.setdefault(item.kind, {})[item.code] = item.label
    out[ListKind.COLLEGE.value].setdefault(OTHER_COLLEGE, OTHER_COLLEGE_LABEL)
    return MappingProxyType(out)


def college_choices() -> list[tuple[str, str]]:
    """The college list, with 'other' last (the seeded list has it; an edited list may not)."""
    items = [(i.code, i.label) for i in list_items(ListKind.COLLEGE)]
    others = [c for c in items if c[0] == OTHER_COLLEGE] or [(OTHER_COLLEGE, OTHER_COLLEGE_LABEL)]
    return [c for c in items if c[0] != OTHER_COLLEGE] + others


def area_groups() -> dict[str, list[tuple[str, str]]]:
    groups: dict[str, list[tuple[str, str]]] = {"academic": [], "welfare": []}
    for item in list_items(ListKind.AREA):
        groups.setdefault(item.group or "other", []).append((item.code, item.label))
    return groups


# The service's clock (shared.platform.clock), under the names casework's callers use.
to_local = clock.local
day_text = clock.short_day  # one filter call per cell, where `(x|local).strftime(...)` was three
local_to_utc = clock.local_to_utc
today_local = clock.today


def attach_uploads(uploads: list[Upload] | None, field_name: str = "documents") -> list[Upload]:
    """The files actually chosen, each checked (type by content, size) before anything is written."""
    uploads = [u for u in (uploads or []) if u.filename or u.data]
    for upload in uploads:
        try:
            documents.check(upload)
        except ValidationFailed as exc:
            raise InvalidAnswers({field_name: exc.message}) from exc
    return uploads


@contextmanager
def committing(stored: list[Document]):
    """Commit once at the end; if anything fails first, remove the encrypted files written so far and roll
    back, so there is never a partial case, message or orphaned file. The files go first: when the database
    has dropped the connection the rollback fails too, and must not leave them behind."""
    try:
        yield
        db.session.commit()
    except Exception:
        documents.remove_files(stored)
        db.session.rollback()
        raise


def cases_for_student(student: Student) -> list[Case]:
    """The student's own cases, newest first, with the assigned officer loaded."""
    return list(
        db.session.scalars(
            select(Case)
            .where(Case.student_id == student.id)
            .options(joinedload(Case.assigned_to))
            .order_by(Case.opened_at.desc(), Case.id.desc())
        )
    )


def case_for_student(student: Student, reference: str) -> Case:
    """This student's case with this reference; anyone else's is NotFound, exactly like no case at all."""
    case = db.session.scalar(
        select(Case).where(Case.reference == (reference or "").upper(), Case.student_id == student.id)
    )
    if case is None:
        raise NotFound()
    return case


def case_for_staff(staff: Staff, reference: str) -> Case:
    """Any case, for any advice officer, the manager or the administrator (the policy's internal sharing)."""
    if not can_view_all_cases(staff):
        raise NotFound()
    case = db.session.scalar(
        select(Case).where(Case.reference == (reference or "").upper()).options(joinedload(Case.assigned_to))
    )
    if case is None:
        raise NotFound()
    wall.refuse_if_walled(staff, case)
    return case


def record_view(actor, action: str, case: Case | None = None, **details) -> None:
    """Audit a view and commit it before the page is rendered (audit.record_view)."""
    if case is None:
        audit.record_view(actor, action, None, student_id=actor.id if actor.kind == "student" else None, **details)
    else:
        audit.record_view(actor, action, case, student_id=case.student_id, case_id=case.id, **details)


def audit_case(actor, action: str, case: Case, subject=None, **details) -> None:
    audit.record(actor, action, subject if subject is not None else case, student_id=case.student_id,
                 case_id=case.id, **details)


@dataclass
class StudentCaseSummary:
    case: Case
    next_appointment: Appointment | None
    unread: int


def my_cases(student: Student) -> list[StudentCaseSummary]:
    """The student's 'My cases' list: status, officer, next appointment and unread messages. Three queries."""
    record_view(student, "cases.listed")
    cases = cases_for_student(student)
    ids = [c.id for c in cases]
    upcoming: dict[int, Appointment] = {}
    unread: dict[int, int] = {}
    if ids:
        for appt in db.session.scalars(
            select(Appointment)
            .where(Appointment.case_id.in_(ids), Appointment.cancelled_at.is_(None),
                   Appointment.starts_at >= utcnow() - timedelta(hours=1))
            .order_by(Appointment.starts_at)
        ):
            upcoming.setdefault(appt.case_id, appt)
        unread = dict(
            db.session.execute(
                select(Message.case_id, func.count())
                .where(Message.case_id.in_(ids), Message.from_student.is_(False), Message.read_at.is_(None))
                .group_by(Message.case_id)
            ).all()
        )
    return [StudentCaseSummary(c, upcoming.get(c.id), unread.get(c.id, 0)) for c in cases]


@dataclass
class StudentCasePage:
    case: Case
    messages: list[Message]
    appointments: list[Appointment]
    documents: list[Document]


def student_case_page(student: Student, reference: str) -> StudentCasePage:
    """What a student sees of their case: status, officer, messages, appointments, what they sent. Not the
    internal record (that comes through an access request). Opening it marks officers' messages read."""
    case = case_for_student(student, reference)
    mark_read(case, from_student=False)
    record_view(student, "case.viewed", case)
    messages = case_messages(case)
    appointments = list(
        db.session.scalars(
            select(Appointment).where(Appointment.case_id == case.id).order_by(Appointment.starts_at)
        )
    )
    docs = list(
        db.session.scalars(
            select(Document)
            .where(Document.case_id == case.id, Document.deleted_at.is_(None), documents.student_visible())
            .order_by(Document.uploaded_at)
        )
    )
    return StudentCasePage(case, messages, appointments, docs)


def mark_read(case: Case, *, from_student: bool) -> None:
    """Opening the thread marks the other side's messages read."""
    db.session.execute(
        update(Message)
        .where(Message.case_id == case.id, Message.from_student.is_(from_student), Message.read_at.is_(None))
        .values(read_at=utcnow())
    )


def case_messages(case: Case) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message).where(Message.case_id == case.id).options(joinedload(Message.staff))
            .order_by(Message.sent_at, Message.id)
        )
    )


def student_sends_message(student: Student, reference: str, body: str,
                          uploads: list[Upload] | None = None) -> Message:
    """The student writes to the officers. The assigned officer gets an email that only says to sign in."""
    case = case_for_student(student, reference)
    if case.status == CaseStatus.CLOSED.value:
        raise InvalidAnswers({"body": "This case is closed. If you need more help, please ask for advice again."})
    body = required_text(body, "your message", LONG_TEXT, field_name="body")
    uploads = attach_uploads(uploads)
    stored: list[Document] = []
    with committing(stored):
        message = Message(case_id=case.id, from_student=True)
        message.body = body
        db.session.add(message)
        db.session.flush()
        for upload in uploads:
            stored.append(documents.add(upload, student_id=student.id, case_id=case.id, message_id=message.id))
        db.session.flush()  # the documents' ids, for the audit event
        if case.awaiting_reply_since is None:
            case.awaiting_reply_since = message.sent_at
        if case.status == CaseStatus.WAITING.value:  # the student has answered
            record_change(case, None, "status", case.status, CaseStatus.OPEN.value, None)
            case.status = CaseStatus.OPEN.value
        audit_case(student, "message.sent", case, message, documents=[d.id for d in stored])
        if case.assigned_to is not None and case.assigned_to.active:
            mail.send(case.assigned_to.email, "staff_new_message")
    return message


# Written in, word for word as the partial indexes' condition (models.casework.OPEN_CASE), so they serve it.
OPEN = text(OPEN_CASE)


def record_change(case: Case, staff: Staff | None, kind: str, old: str | None, new: str | None,
                   reason: str | None) -> CaseChange:
    change = CaseChange(case_id=case.id, kind=kind, old_value=old, new_value=new,
                        changed_by_id=staff.id if staff else None)
    change.reason = reason or None
    db.session.add(change)
    return change


def staff_sends_message(staff: Staff, reference: str, body: str) -> Message:
    """An officer writes to the student; the student's email says only that there is a message to read."""
    case = case_for_staff(staff, reference)
    body = required_text(body, "the message", LONG_TEXT, field_name="body")
    message = Message(case_id=case.id, from_student=False, staff_id=staff.id)
    message.body = body
    db.session.add(message)
    db.session.flush()
    case.awaiting_reply_since = None
    case.first_response_at = case.first_response_at or message.sent_at
    audit_case(staff, "message.sent", case, message)
    mail.send(case.student.email, "student_new_message")
    db.session.commit()
    return message


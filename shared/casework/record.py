"""The staff case page and the officers' work on a case: entries and amendments, assignment, status,
closing, appointments and documents. Each change is audited in its own transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased, joinedload

from shared.casework import conflicts, documents, wall
from shared.casework.case_list import OfficerName
from shared.casework.cases import (
    LONG_TEXT,
    MEETING,
    SHORT_REASON,
    InvalidAnswers,
    attach_uploads,
    audit_case,
    case_for_staff,
    case_messages,
    committing,
    list_items,
    local_to_utc,
    mark_read,
    record_change,
    record_view,
)
from shared.casework.documents import Upload
from shared.casework.intake import stored_profile
from shared.models import (
    Appointment,
    Case,
    CaseChange,
    CaseEntry,
    CaseEntryVersion,
    CaseStatus,
    Document,
    EntryKind,
    ListKind,
    Message,
    PersonInvolved,
    ReflectiveFlag,
    Staff,
    StudentProfile,
    utcnow,
)
from shared.platform import mail
from shared.platform.answers import check_text, clean_text
from shared.platform.errors import NotFound
from shared.platform.extensions import db

ENTRY_KINDS = {
    EntryKind.EVENT.value: "Event",
    EntryKind.ADVICE.value: "Advice given",
    EntryKind.ACTION.value: "Action taken",
    EntryKind.NOTE.value: "Note",
    EntryKind.MEETING.value: "Meeting",
}


def outcome_choices() -> list[tuple[str, str]]:
    return [(i.code, i.label) for i in list_items(ListKind.OUTCOME)]


@dataclass(frozen=True, slots=True)
class EntryVersionView:
    version: int
    text: str
    reason: str | None  # why it was amended (None for the first version)
    edited_at: datetime
    edited_by: OfficerName


@dataclass(frozen=True, slots=True)
class EntryView:
    """An entry as the case page shows it: plain values, its versions oldest first (the last is current)."""

    id: int
    kind: str
    occurred_at: datetime
    author: OfficerName
    versions: tuple[EntryVersionView, ...]


@dataclass
class TimelineItem:
    at: datetime
    kind: str  # "entry" or "change"
    entry: EntryView | None = None
    change: CaseChange | None = None


@cache
def _entry_statements():
    """The two statements below, built once (an aliased join costs more to build than to run)."""
    author, editor = aliased(Staff), aliased(Staff)
    case_id = bindparam("case_id")
    versions = (
        select(CaseEntryVersion.entry_id, CaseEntryVersion.version, CaseEntryVersion.uid,
               CaseEntryVersion._text_enc, CaseEntryVersion._reason_enc, CaseEntryVersion.edited_at, editor.name)
        .join(CaseEntry, CaseEntry.id == CaseEntryVersion.entry_id)
        .join(editor, editor.id == CaseEntryVersion.edited_by_id)
        .where(CaseEntry.case_id == case_id)
        .order_by(CaseEntryVersion.entry_id, CaseEntryVersion.version)
    )
    entries = (
        select(CaseEntry.id, CaseEntry.kind, CaseEntry.occurred_at, author.name)
        .join(author, author.id == CaseEntry.author_id)
        .where(CaseEntry.case_id == case_id)
    )
    return entries, versions


def _entry_views(case_id: int) -> list[EntryView]:
    """A case's entries with every version, decrypted, in two statements of plain columns: a long case has
    hundreds of entries, and loading each with its versions and authors as models cost more than the rest
    of the page."""
    entries, versions = _entry_statements()
    text_field, reason_field = CaseEntryVersion.text, CaseEntryVersion.reason
    by_entry: dict[int, list[EntryVersionView]] = {}
    read = db.session.connection().execute  # plain rows: Core, without the ORM's layers
    for entry_id, version, uid, text_enc, reason_enc, edited_at, editor in read(versions, {"case_id": case_id}):
        by_entry.setdefault(entry_id, []).append(EntryVersionView(
            version, text_field.open(text_enc, uid), reason_field.open(reason_enc, uid), edited_at,
            OfficerName(editor)))
    return [
        EntryView(entry_id, kind, occurred_at, OfficerName(author), tuple(by_entry.get(entry_id, ())))
        for entry_id, kind, occurred_at, author in read(entries, {"case_id": case_id})
    ]


@dataclass
class StaffCasePage:
    case: Case
    profile: StudentProfile | None
    timeline: list[TimelineItem]
    messages: list[Message]
    appointments: list[Appointment]
    documents: list[Document]
    flags: list[ReflectiveFlag]
    staff_names: dict[str, str]  # staff id (as stored in an assignment change) -> name
    people: list[PersonInvolved] = field(default_factory=list)
    conflicts: list[conflicts.CaseConflict] = field(default_factory=list)
    across_wall: bool = False  # the manager, seeing one side of an ethical wall to supervise it


def staff_case_page(staff: Staff, reference: str) -> StaffCasePage:
    """The whole record for an officer. Opening it is audited and marks the student's messages read."""
    case = case_for_staff(staff, reference)
    mark_read(case, from_student=True)
    across_wall = wall.supervises_walls(staff) and wall.behind_wall(case.id)
    if across_wall:
        record_view(staff, "case.viewed", case, across_wall=True)
    else:
        record_view(staff, "case.viewed", case)
    entries = _entry_views(case.id)
    changes = list(
        db.session.scalars(
            select(CaseChange).where(CaseChange.case_id == case.id).options(joinedload(CaseChange.changed_by))
        )
    )
    timeline = [TimelineItem(e.occurred_at, "entry", entry=e) for e in entries]
    timeline += [TimelineItem(c.changed_at, "change", change=c) for c in changes]
    timeline.sort(key=lambda item: item.at, reverse=True)
    messages = case_messages(case)
    appointments = list(
        db.session.scalars(
            select(Appointment).where(Appointment.case_id == case.id).options(joinedload(Appointment.officer))
            .order_by(Appointment.starts_at)
        )
    )
    docs = list(
        db.session.scalars(
            select(Document).where(Document.case_id == case.id, Document.deleted_at.is_(None))
            .order_by(Document.uploaded_at)
        )
    )
    flags = list(
        db.session.scalars(select(ReflectiveFlag).where(ReflectiveFlag.case_id == case.id)
                           .order_by(ReflectiveFlag.flagged_at.desc()))
    )
    assigned_ids = {int(v) for c in changes if c.kind == "assigned" for v in (c.old_value, c.new_value) if v}
    names = {str(s.id): s.name for s in db.session.scalars(select(Staff).where(Staff.id.in_(assigned_ids)))} \
        if assigned_ids else {}
    return StaffCasePage(case, stored_profile(case.student_id), timeline, messages, appointments, docs, flags, names,
                         conflicts.people_on_case(case), conflicts.conflicts_on_case(staff, case), across_wall)


def add_entry(staff: Staff, reference: str, kind: str, occurred_at: datetime, body: str) -> CaseEntry:
    """A line in the record: an event, advice given, action taken, a note or a meeting."""
    case = case_for_staff(staff, reference)
    errors = {}
    if kind not in ENTRY_KINDS:
        errors["kind"] = "Choose what kind of entry this is."
    if occurred_at > utcnow() + timedelta(minutes=5):
        errors["occurred_on"] = "The time it happened cannot be in the future."
    body = clean_text(body, multiline=True)
    check_text(errors, "text", body, "the entry", LONG_TEXT, required=True)
    if errors:
        raise InvalidAnswers(errors)
    entry = CaseEntry(case_id=case.id, kind=kind, occurred_at=occurred_at, author_id=staff.id, current_version=1)
    version = CaseEntryVersion(version=1, edited_by_id=staff.id)
    version.text = body
    entry.versions.append(version)
    db.session.add(entry)
    db.session.flush()
    audit_case(staff, "entry.added", case, entry, kind=kind)
    db.session.commit()
    return entry


def amend_entry(staff: Staff, reference: str, entry_id: int, body: str, reason: str) -> CaseEntry:
    """Amending adds a version with its reason; every earlier version stays and stays visible."""
    case = case_for_staff(staff, reference)
    entry = db.session.scalar(select(CaseEntry).where(CaseEntry.id == entry_id, CaseEntry.case_id == case.id))
    if entry is None:
        raise NotFound()
    errors: dict[str, str] = {}
    body = clean_text(body, multiline=True)
    reason = clean_text(reason, multiline=True)
    check_text(errors, "text", body, "the amended entry", LONG_TEXT, required=True)
    check_text(errors, "reason", reason, "why you are amending it", SHORT_REASON, required=True)
    if not errors and body == entry.versions[-1].text:
        errors["text"] = "The amended text is the same as the current text."
    if errors:
        raise InvalidAnswers(errors)
    entry.current_version += 1
    version = CaseEntryVersion(version=entry.current_version, edited_by_id=staff.id)
    version.text = body
    version.reason = reason
    entry.versions.append(version)
    db.session.flush()
    audit_case(staff, "entry.amended", case, entry, version=entry.current_version)
    db.session.commit()
    return entry


def assign(staff: Staff, reference: str, officer_id: int | None) -> Case:
    """Assign or reassign (None: unassign). Assigning a new case opens it."""
    case = case_for_staff(staff, reference)
    officer = None
    if officer_id is not None:
        officer = db.session.get(Staff, officer_id)
        if officer is None or not officer.active:
            raise InvalidAnswers({"officer_id": "Choose an officer from the list."})
    if case.assigned_to_id == officer_id:
        raise InvalidAnswers({"officer_id": "The case is already assigned that way."})
    if officer is not None and wall.is_walled_for_officer(officer.id, case):
        raise InvalidAnswers({"officer_id": f"{officer.name} advises the other side of a recorded conflict of "
                                            "interest: choose another officer."})
    record_change(case, staff, "assigned", _str(case.assigned_to_id), _str(officer_id), None)
    case.assigned_to_id = officer_id
    if officer is not None and case.status == CaseStatus.NEW.value:
        record_change(case, staff, "status", case.status, CaseStatus.OPEN.value, None)
        case.status = CaseStatus.OPEN.value
    audit_case(staff, "case.assigned", case, officer_id=officer_id)
    db.session.commit()
    return case


def _str(value) -> str | None:
    return None if value is None else str(value)


def change_status(staff: Staff, reference: str, status: str, reason: str) -> Case:
    """New, open or waiting for the student, always with a reason. Closing has its own step (an outcome);
    reopening a closed case clears its outcome."""
    case = case_for_staff(staff, reference)
    errors: dict[str, str] = {}
    if status not in (CaseStatus.NEW.value, CaseStatus.OPEN.value, CaseStatus.WAITING.value):
        errors["status"] = "Choose new, open or waiting for the student. To close the case, use 'Close case'."
    elif status == case.status:
        errors["status"] = "The case already has that status."
    reason = clean_text(reason, multiline=True)
    check_text(errors, "reason", reason, "the reason for the change", SHORT_REASON, required=True)
    if errors:
        raise InvalidAnswers(errors)
    record_change(case, staff, "status", case.status, status, reason)
    old = case.status
    case.status = status
    if old == CaseStatus.CLOSED.value:
        case.closed_at = None
        case.outcome_code = None
    audit_case(staff, "case.status_changed", case, old=old, new=status)
    db.session.commit()
    return case


def close_case(staff: Staff, reference: str, outcome_code: str, note: str = "") -> Case:
    """Closing needs an outcome from the service's list."""
    case = case_for_staff(staff, reference)
    errors: dict[str, str] = {}
    if case.status == CaseStatus.CLOSED.value:
        errors["outcome_code"] = "The case is already closed."
    elif outcome_code not in dict(outcome_choices()):
        errors["outcome_code"] = "Choose the outcome of the case."
    note = clean_text(note, multiline=True)
    check_text(errors, "note", note, "the closing note", SHORT_REASON)
    if errors:
        raise InvalidAnswers(errors)
    record_change(case, staff, "status", case.status, CaseStatus.CLOSED.value, note or None)
    case.status = CaseStatus.CLOSED.value
    case.closed_at = utcnow()
    case.outcome_code = outcome_code
    case.awaiting_reply_since = None
    audit_case(staff, "case.closed", case, outcome=outcome_code)
    db.session.commit()
    return case


def add_appointment(staff: Staff, reference: str, *, day: date | None, at: time | None, duration_minutes: int,
                    mode: str, location: str, private_room: bool, officer_id: int | None) -> Appointment:
    """A meeting. If the student asked for a private room, the appointment has one: it cannot be dropped."""
    case = case_for_staff(staff, reference)
    errors: dict[str, str] = {}
    location = clean_text(location)
    if day is None:
        errors["day"] = "Enter the date of the appointment."
    if at is None:
        errors["at"] = "Enter the time of the appointment."
    starts_at = local_to_utc(day, at) if day and at else None
    if starts_at and starts_at < utcnow() - timedelta(days=1):
        errors["day"] = "The appointment must not be in the past."
    if mode not in MEETING:
        errors["mode"] = "Choose in person, online or by phone."
    if not 5 <= (duration_minutes or 0) <= 480:
        errors["duration_minutes"] = "Enter a length between 5 and 480 minutes."
    check_text(errors, "location", location, "the place or how to join", 200,
                required=mode == "in_person")
    officer = db.session.get(Staff, officer_id) if officer_id else None
    if officer_id and (officer is None or not officer.active):
        errors["officer_id"] = "Choose an officer from the list."
    if errors:
        raise InvalidAnswers(errors)
    appointment = Appointment(
        case_id=case.id, starts_at=starts_at, duration_minutes=duration_minutes, mode=mode,
        location=location or None, private_room=bool(private_room) or case.private_room,
        officer_id=officer_id or staff.id, created_by_id=staff.id,
    )
    db.session.add(appointment)
    db.session.flush()
    audit_case(staff, "appointment.added", case, appointment)
    mail.send(case.student.email, "student_appointment")
    db.session.commit()
    return appointment


def cancel_appointment(staff: Staff, reference: str, appointment_id: int) -> Appointment:
    case = case_for_staff(staff, reference)
    appointment = db.session.scalar(
        select(Appointment).where(Appointment.id == appointment_id, Appointment.case_id == case.id)
    )
    if appointment is None:
        raise NotFound()
    if appointment.cancelled_at is None:
        appointment.cancelled_at = utcnow()
        audit_case(staff, "appointment.cancelled", case, appointment)
        mail.send(case.student.email, "student_appointment")
        db.session.commit()
    return appointment


def add_case_document(staff: Staff, reference: str, upload: Upload) -> Document:
    """An officer's document on the case record (internal: the student sees it through an access request)."""
    case = case_for_staff(staff, reference)
    if not attach_uploads([upload], "document"):
        raise InvalidAnswers({"document": "Choose a file to upload."})
    stored: list[Document] = []
    with committing(stored):
        stored.append(documents.add(upload, student_id=case.student_id, case_id=case.id, staff=staff))
        db.session.flush()
        audit_case(staff, "document.uploaded", case, stored[0])
    return stored[0]


"""Casework: the student's form, their cases and messages, and the officers' work on a case.

Access is decided here and nowhere else. A student reaches a case only through `case_for_student`, which
filters by their own id, so another student's reference is a `NotFound` exactly like a reference that
does not exist. Staff reach cases through `case_for_staff`: the policy lets every advice officer, the
manager and the administrator see every record, and nobody else.

Every service follows the commit policy: change, `audit.record(...)` in the same transaction, one commit.
Every view of a case is audited too. Emails never carry case detail: they say there is something to read.
"""

from __future__ import annotations

import json
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, literal, literal_column, or_, select, text, union_all, update
from sqlalchemy.orm import aliased, joinedload

from shared.audit import log as audit
from shared.casework import documents, reference_data
from shared.casework.documents import Upload
from shared.models import (
    Appointment,
    Case,
    CaseChange,
    CaseDraft,
    CaseEntry,
    CaseEntryVersion,
    CaseStatus,
    Document,
    EntryKind,
    ListKind,
    Message,
    ReflectiveFlag,
    Staff,
    Student,
    StudentProfile,
    utcnow,
)
from shared.models.casework import OPEN_CASE
from shared.platform import mail
from shared.platform.errors import NotFound, ServiceError, ValidationFailed
from shared.platform.extensions import db
from shared.platform.forms import record_number
from shared.security.authz import can_view_all_cases

LONDON = ZoneInfo("Europe/London")

STUDENT_STATUS = {"new": "New", "open": "Open", "waiting": "Waiting for you", "closed": "Closed"}
STAFF_STATUS = {"new": "New", "open": "Open", "waiting": "Waiting for the student", "closed": "Closed"}
URGENCY = {
    "normal": "Not urgent",
    "soon": "Soon: within the next two weeks",
    "urgent": "Urgent: within the next few days",
}
MEETING = {"in_person": "In person", "online": "Online (video call)", "phone": "By phone"}
CHANNELS = {"email": "Email", "phone": "Phone call", "text": "Text message", "post": "Post"}
ENTRY_KINDS = {
    EntryKind.EVENT.value: "Event",
    EntryKind.ADVICE.value: "Advice given",
    EntryKind.ACTION.value: "Action taken",
    EntryKind.NOTE.value: "Note",
    EntryKind.MEETING.value: "Meeting",
}
OTHER_COLLEGE = "other"
OTHER_COLLEGE_LABEL = "Other, or not in a college"

# Lengths: generous for the story, tight for single-line answers.
LONG_TEXT = 20_000
MEDIUM_TEXT = 4_000
SHORT_REASON = 500
PAGE_SIZE = 25
COUNT_LIMIT = 1000  # the case list counts this far, then says 'more than'
DASHBOARD_LIMIT = 20
CRSID_RE = re.compile(r"^[a-z]{2,6}[0-9]{0,5}$")
PHONE_RE = re.compile(r"^[0-9+()\- ]{6,30}$")
REFERENCE_RE = re.compile(r"^ADV-\d{4}-\d{4,}$")


class InvalidAnswers(ValidationFailed):
    """One message per field, so the form can show each beside its field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__()
        self.errors = errors


class AlreadyFlagged(ServiceError):
    message = "This case is already on the reflective practice agenda."


# ---------------------------------------------------------------------------------------------- text rules


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """NFC, no control characters (newlines and tabs kept in long text), trimmed. HTML is kept as typed:
    it is stored encrypted and always shown escaped."""
    value = unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").replace("\r", "\n")
    keep = "\n\t" if multiline else ""
    value = "".join(
        c for c in value if c in keep or unicodedata.category(c) not in ("Cc", "Cs", "Co", "Cn")
    )
    if not multiline:
        value = " ".join(value.split())
    return value.strip()


def _check_text(errors: dict, name: str, value: str, label: str, limit: int, required: bool = False) -> None:
    if required and not value:
        errors[name] = f"Enter {label}."
    elif len(value) > limit:
        errors[name] = f"{label[0].upper()}{label[1:]} must be {limit:,} characters or fewer (you have {len(value):,})."


def required_text(value: str | None, label: str, limit: int, *, field_name: str = "text",
                  multiline: bool = True) -> str:
    """One free-text answer for a service: cleaned, present and not too long, or InvalidAnswers."""
    cleaned = clean_text(value, multiline=multiline)
    errors: dict[str, str] = {}
    _check_text(errors, field_name, cleaned, label, limit, required=True)
    if errors:
        raise InvalidAnswers(errors)
    return cleaned


# ---------------------------------------------------------------------------------------------- lists


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


@dataclass(frozen=True)
class CaseListChoices:
    """The case list's filters, each a tuple of (value, label) (or (group, choices) for a group), ready for
    the `options` template helper: built from the lists and the staff names once while they last."""

    status: tuple
    area: tuple
    officer: tuple
    college: tuple
    sort: tuple


_STATUS_FILTER = (("", "Any"), ("active", "Not closed"), *STAFF_STATUS.items())


def case_list_choices() -> CaseListChoices:
    areas = reference_data.from_lists("filter:area", lambda: (("", "Any"), *(
        (group.capitalize(), tuple(options)) for group, options in area_groups().items())))
    colleges = reference_data.from_lists("filter:college", lambda: (("", "Any"), *college_choices()))
    officers = reference_data.from_staff("filter:officer", lambda: (
        ("", "Anyone"), ("me", "Me"), ("none", "Unassigned"), *((str(s.id), s.name) for s in staff_choices())))
    return CaseListChoices(_STATUS_FILTER, areas, officers, colleges, _SORT_CHOICES)


def outcome_choices() -> list[tuple[str, str]]:
    return [(i.code, i.label) for i in list_items(ListKind.OUTCOME)]


# ---------------------------------------------------------------------------------------------- times


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(LONDON) if value else None


def day_text(value: date | datetime | None) -> str:
    """A day as lists show it ("07 Mar 2026"); a moment is read on the service's own clock first. One
    filter call per cell, where `(x|local).strftime(...)` was three steps per cell in every row."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON)
    return value.strftime("%d %b %Y")


def local_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


def today_local() -> date:
    return utcnow().astimezone(LONDON).date()


# ---------------------------------------------------------------------------------------------- intake


@dataclass
class IntakeAnswers:
    """Everything the casework form asks. Profile fields are reused for the student's next form."""

    full_name: str = ""
    preferred_name: str = ""
    pronouns: str = ""
    college_code: str = ""
    faculty: str = ""
    course: str = ""
    year_of_study: str = ""
    crsid: str = ""
    phone: str = ""
    safe_channels: list[str] = field(default_factory=list)
    may_leave_message: bool = False
    contact_notes: str = ""
    area_code: str = ""
    what_happened: str = ""
    outcome_wanted: str = ""
    urgency: str = "normal"
    deadline: date | None = None
    meeting_preference: str = ""
    private_room: bool = False
    accessibility_needs: str = ""


PROFILE_FIELDS = (
    "full_name", "preferred_name", "pronouns", "college_code", "faculty", "course", "year_of_study", "crsid",
    "phone", "safe_channels", "may_leave_message", "contact_notes", "accessibility_needs",
)
_SINGLE_LINE = {
    "full_name": ("your full name", 200, True),
    "preferred_name": ("your preferred name", 120, False),
    "pronouns": ("your pronouns", 60, False),
    "faculty": ("your faculty or department", 200, True),
    "course": ("your course", 200, False),
    "year_of_study": ("your year of study", 30, False),
    "crsid": ("your CRSid", 20, False),
    "phone": ("your phone number", 40, False),
}
_MULTI_LINE = {
    "contact_notes": ("anything else about contacting you safely", MEDIUM_TEXT, False),
    "what_happened": ("what happened", LONG_TEXT, True),
    "outcome_wanted": ("the outcome you would like", MEDIUM_TEXT, False),
    "accessibility_needs": ("your accessibility needs", MEDIUM_TEXT, False),
}


def clean_intake(answers: IntakeAnswers) -> IntakeAnswers:
    """Tidy every answer and check it against the service's rules; InvalidAnswers lists each problem."""
    errors: dict[str, str] = {}
    out = IntakeAnswers(**asdict(answers))
    for name, (label, limit, required) in _SINGLE_LINE.items():
        value = clean_text(getattr(answers, name))
        setattr(out, name, value)
        _check_text(errors, name, value, label, limit, required)
    for name, (label, limit, required) in _MULTI_LINE.items():
        value = clean_text(getattr(answers, name), multiline=True)
        setattr(out, name, value)
        _check_text(errors, name, value, label, limit, required)
    out.crsid = out.crsid.lower()
    if out.crsid and "crsid" not in errors and not CRSID_RE.match(out.crsid):
        errors["crsid"] = "Enter your CRSid as letters then numbers, like abc123, or leave it blank."
    if out.phone and "phone" not in errors and not PHONE_RE.match(out.phone):
        errors["phone"] = "Enter a phone number using digits, spaces and +, like 07700 900123, or leave it blank."
    if out.college_code not in dict(college_choices()):
        errors["college_code"] = "Choose your college, or 'other' if you are not in one of the colleges listed."
    areas = {code for group in area_groups().values() for code, _ in group}
    if out.area_code not in areas:
        errors["area_code"] = "Choose the area your question is about."
    out.safe_channels = [c for c in CHANNELS if c in set(answers.safe_channels or [])]
    if set(answers.safe_channels or []) - set(CHANNELS):
        errors["safe_channels"] = "Choose only from the ways of contacting you listed."
    if out.phone == "" and ({"phone", "text"} & set(out.safe_channels)):
        errors["phone"] = "Enter a phone number, or untick phone call and text message."
    if out.urgency not in URGENCY:
        errors["urgency"] = "Choose how urgent this is."
    if out.meeting_preference not in MEETING:
        errors["meeting_preference"] = "Choose how you would like to meet."
    if out.deadline is not None:
        if out.deadline < today_local():
            errors["deadline"] = "The deadline must be today or in the future. Leave it blank if there is none."
        elif out.deadline > today_local() + timedelta(days=3 * 366):
            errors["deadline"] = "The deadline must be within the next three years."
    out.may_leave_message = bool(answers.may_leave_message)
    out.private_room = bool(answers.private_room)
    if errors:
        raise InvalidAnswers(errors)
    return out


def profile_answers(student: Student) -> dict:
    """The profile part of the form, for prefilling the student's next form."""
    profile = _profile(student.id)
    if profile is None:
        return {}
    return {
        "full_name": profile.full_name,
        "preferred_name": profile.preferred_name or "",
        "pronouns": profile.pronouns or "",
        "college_code": profile.college_code or "",
        "faculty": profile.faculty or "",
        "course": profile.course or "",
        "year_of_study": profile.year_of_study or "",
        "crsid": profile.crsid or "",
        "phone": profile.phone or "",
        "safe_channels": [c for c in (profile.safe_channels or "").split(",") if c],
        "may_leave_message": profile.may_leave_message,
        "contact_notes": profile.contact_notes or "",
        "accessibility_needs": profile.accessibility_needs or "",
    }


def _profile(student_id: int) -> StudentProfile | None:
    return db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == student_id))


def _save_profile(student: Student, answers: IntakeAnswers) -> StudentProfile:
    profile = _profile(student.id) or StudentProfile(student_id=student.id)
    for name in ("full_name", "college_code", "faculty"):
        setattr(profile, name, getattr(answers, name))
    for name in ("preferred_name", "pronouns", "course", "year_of_study", "crsid", "phone"):
        setattr(profile, name, getattr(answers, name) or None)
    profile.safe_channels = ",".join(answers.safe_channels) or None
    profile.may_leave_message = answers.may_leave_message
    profile.contact_notes = answers.contact_notes or None
    profile.accessibility_needs = answers.accessibility_needs or None
    db.session.add(profile)
    return profile


# -- drafts: the raw answers as typed (even invalid ones), encrypted, one per student


def save_draft(student: Student, raw: dict) -> CaseDraft:
    """Keep what the student has typed so far, so a timed-out session or a closed tab can resume."""
    kept = {k: v for k, v in raw.items() if k in IntakeAnswers.__dataclass_fields__}
    draft = db.session.scalar(select(CaseDraft).where(CaseDraft.student_id == student.id))
    if draft is None:
        draft = CaseDraft(student_id=student.id)
    draft.answers_json = json.dumps(kept, default=str)
    draft.saved_at = utcnow()
    db.session.add(draft)
    db.session.flush()
    audit.record(student, "draft.saved", draft, student_id=student.id)
    db.session.commit()
    return draft


def get_draft(student: Student) -> dict | None:
    draft = db.session.scalar(select(CaseDraft).where(CaseDraft.student_id == student.id))
    if draft is None:
        return None
    return {**json.loads(draft.answers_json), "_saved_at": draft.saved_at}


def discard_draft(student: Student) -> bool:
    draft = db.session.scalar(select(CaseDraft).where(CaseDraft.student_id == student.id))
    if draft is None:
        return False
    audit.record(student, "draft.discarded", draft, student_id=student.id)
    db.session.delete(draft)
    db.session.commit()
    return True


def form_start(student: Student) -> tuple[dict, bool]:
    """What the form opens with: the saved draft if there is one, else the profile. (answers, from_draft)"""
    draft = get_draft(student)
    if draft is not None:
        return draft, True
    return profile_answers(student), False


def next_reference(year: int) -> str:
    """ADV-<year>-<nnnn>. The counter row is taken with an UPDATE, so two submissions queue (a row lock on
    PostgreSQL, the write lock on SQLite) and never get the same number."""
    db.session.execute(
        text("INSERT INTO case_reference_counters (year, last_number) VALUES (:y, 0) ON CONFLICT (year) DO NOTHING"),
        {"y": year},
    )
    number = db.session.execute(
        text("UPDATE case_reference_counters SET last_number = last_number + 1 WHERE year = :y RETURNING last_number"),
        {"y": year},
    ).scalar_one()
    return f"ADV-{year}-{number:04d}"


def _attach(uploads: list[Upload] | None, field_name: str = "documents") -> list[Upload]:
    """The files actually chosen, each checked (type by content, size) before anything is written."""
    uploads = [u for u in (uploads or []) if u.filename or u.data]
    for upload in uploads:
        try:
            documents.check(upload)
        except ValidationFailed as exc:
            raise InvalidAnswers({field_name: exc.message}) from exc
    return uploads


@contextmanager
def _committing(stored: list[Document]):
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


def submit_case(student: Student, answers: IntakeAnswers, uploads: list[Upload] | None = None) -> Case:
    """The casework form becomes a case, in one transaction: the case, its documents, the profile, the
    audit event and the 'form received' email all happen, or none does."""
    answers = clean_intake(answers)
    uploads = _attach(uploads)
    stored: list[Document] = []
    with _committing(stored):
        _save_profile(student, answers)
        case = Case(
            reference=next_reference(utcnow().year),
            student_id=student.id,
            status=CaseStatus.NEW.value,
            area_code=answers.area_code,
            college_code=answers.college_code,
            faculty=answers.faculty,
            year_of_study=answers.year_of_study or None,
            contact_method="portal",
            urgency=answers.urgency,
            deadline=answers.deadline,
            meeting_preference=answers.meeting_preference,
            private_room=answers.private_room,
        )
        case.what_happened = answers.what_happened
        case.outcome_wanted = answers.outcome_wanted or None
        case.accessibility_needs = answers.accessibility_needs or None
        db.session.add(case)
        db.session.flush()
        for upload in uploads:
            stored.append(documents.add(upload, student_id=student.id, case_id=case.id))
        db.session.flush()
        draft = db.session.scalar(select(CaseDraft).where(CaseDraft.student_id == student.id))
        if draft is not None:
            db.session.delete(draft)
        audit.record(
            student, "case.submitted", case, student_id=student.id, case_id=case.id,
            reference=case.reference, documents=[d.id for d in stored],
        )
        mail.send(student.email, "case_received")
    return case


# ---------------------------------------------------------------------------------------------- scoped access


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
    return case


def _record_view(actor, action: str, case: Case | None = None, **details) -> None:
    """Audit a view and commit it before the page is rendered (audit.record_view)."""
    if case is None:
        audit.record_view(actor, action, None, student_id=actor.id if actor.kind == "student" else None, **details)
    else:
        audit.record_view(actor, action, case, student_id=case.student_id, case_id=case.id, **details)


def _audit(actor, action: str, case: Case, subject=None, **details) -> None:
    audit.record(actor, action, subject if subject is not None else case, student_id=case.student_id,
                 case_id=case.id, **details)


# ---------------------------------------------------------------------------------------------- student side


@dataclass
class StudentCaseSummary:
    case: Case
    next_appointment: Appointment | None
    unread: int


def my_cases(student: Student) -> list[StudentCaseSummary]:
    """The student's 'My cases' list: status, officer, next appointment and unread messages. Three queries."""
    _record_view(student, "cases.listed")
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
    _mark_read(case, from_student=False)
    _record_view(student, "case.viewed", case)
    messages = _messages(case)
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


def _mark_read(case: Case, *, from_student: bool) -> None:
    """Opening the thread marks the other side's messages read."""
    db.session.execute(
        update(Message)
        .where(Message.case_id == case.id, Message.from_student.is_(from_student), Message.read_at.is_(None))
        .values(read_at=utcnow())
    )


def _messages(case: Case) -> list[Message]:
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
    uploads = _attach(uploads)
    stored: list[Document] = []
    with _committing(stored):
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
            _record_change(case, None, "status", case.status, CaseStatus.OPEN.value, None)
            case.status = CaseStatus.OPEN.value
        _audit(student, "message.sent", case, message, documents=[d.id for d in stored])
        if case.assigned_to is not None and case.assigned_to.active:
            mail.send(case.assigned_to.email, "staff_new_message")
    return message


# ---------------------------------------------------------------------------------------------- staff: finding cases


@dataclass
class CaseFilters:
    status: str = ""
    area: str = ""
    officer: str = ""  # a staff id, "me", "none" (unassigned) or ""
    college: str = ""
    q: str = ""
    sort: str = "newest"


# Each sort: its label, its order, and the same order backwards (for pages counted from the end).
SORTS = {
    "newest": ("Newest first", lambda: [Case.opened_at.desc(), Case.id.desc()],
               lambda: [Case.opened_at.asc(), Case.id.asc()]),
    "oldest": ("Oldest first", lambda: [Case.opened_at.asc(), Case.id.asc()],
               lambda: [Case.opened_at.desc(), Case.id.desc()]),
    "deadline": ("Deadline soonest", lambda: [Case.deadline.asc().nulls_last(), Case.id.asc()],
                 lambda: [Case.deadline.desc().nulls_first(), Case.id.desc()]),
    "reference": ("Reference", lambda: [Case.reference.asc()], lambda: [Case.reference.desc()]),
    "name": ("Student name", lambda: [StudentProfile.full_name.asc(), Case.id.asc()],
             lambda: [StudentProfile.full_name.desc(), Case.id.desc()]),
    "status": ("Status", lambda: [Case.status.asc(), Case.opened_at.desc(), Case.id.desc()],
               lambda: [Case.status.desc(), Case.opened_at.asc(), Case.id.asc()]),
}


_SORT_CHOICES = tuple((code, spec[0]) for code, spec in SORTS.items())


@dataclass(frozen=True, slots=True)
class OfficerName:
    name: str


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """What a row of a case list shows: plain values, read without loading the case (or its encrypted
    answers) into the session."""

    id: int
    reference: str
    student_id: int
    status: str
    area_code: str
    college_code: str | None
    urgency: str
    deadline: date | None
    opened_at: datetime
    awaiting_reply_since: datetime | None
    assigned_to: OfficerName | None


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    full_name: str
    crsid: str | None


@dataclass(frozen=True, slots=True)
class CaseRow:
    case: CaseSummary
    profile: ProfileSummary | None


_ROW_COLUMNS = (Case.id, Case.reference, Case.student_id, Case.status, Case.area_code, Case.college_code,
                Case.urgency, Case.deadline, Case.opened_at, Case.awaiting_reply_since)


@cache
def _row_query():
    """Cases with what a list row shows, in one query of plain columns: the row's own (never the encrypted
    answers), the student's name and CRSid, the officer's name. Built once; callers add their conditions."""
    return (
        select(*_ROW_COLUMNS, Staff.name, StudentProfile.id, StudentProfile.full_name, StudentProfile.crsid)
        .select_from(Case)
        .outerjoin(StudentProfile, StudentProfile.student_id == Case.student_id)
        .outerjoin(Staff, Staff.id == Case.assigned_to_id)
    )


# Written in, word for word as the partial indexes' condition (models.casework.OPEN_CASE), so they serve it.
OPEN = text(OPEN_CASE)


def _first_rows(*ordered, then_by: tuple[str, ...], limit: int):
    """The first `limit` rows of several ordered row queries, one after the other, as one statement: each
    part is read in its own index order and limited; the outer query sorts those few rows by part, then by
    the columns `then_by` (each part's own order)."""
    parts = [q.add_columns(literal(n).label("part")).subquery().select() for n, q in enumerate(ordered)]
    union = union_all(*parts).subquery()
    return (select(*[c for c in union.c if c.key != "part"])
            .order_by(union.c.part, *[union.c[name] for name in then_by]).limit(_written_in(limit)))


def _case_rows(stmt, params: dict | None = None) -> list[CaseRow]:
    width = len(_ROW_COLUMNS)
    rows = []
    for row in db.session.connection().execute(stmt, params):  # plain rows: Core, without the ORM's layers
        officer, profile_id, full_name, crsid = row[width:]
        rows.append(CaseRow(
            CaseSummary(*row[:width], OfficerName(officer) if officer is not None else None),
            ProfileSummary(full_name, crsid) if profile_id is not None else None,
        ))
    return rows


@dataclass
class CasePage:
    rows: list[CaseRow]
    total: int  # exact, or COUNT_LIMIT when `more`
    page: int  # 1, 2, ... from the start; -1 (the last page), -2, ... from the end (only when `more`)
    pages: int | None  # None when there are more than COUNT_LIMIT
    per_page: int
    more: bool = False
    has_next: bool = False
    has_previous: bool = False


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filter_shape(staff: Staff, filters: CaseFilters) -> tuple[tuple[str, ...], dict]:
    """Which conditions the filters ask for (the statements' shape) and their values (the statements'
    parameters). Pages with the same shape share statements built once: building and keying a statement
    for SQLAlchemy's cache on every view cost a third of what running it did."""
    shape, params = [], {}
    if filters.status in STAFF_STATUS:
        shape.append("status")
        params["status"] = filters.status
    elif filters.status == "active":
        shape.append("open")
    if filters.area:
        shape.append("area")
        params["area"] = filters.area
    if filters.college:
        shape.append("college")
        params["college"] = filters.college
    if filters.officer == "none":
        shape.append("unassigned")
    elif filters.officer == "me":
        shape.append("officer")
        params["officer_id"] = staff.id
    elif (officer_id := record_number(filters.officer)) is not None:
        shape.append("officer")
        params["officer_id"] = officer_id
    q = clean_text(filters.q)[:200]
    if q and REFERENCE_RE.match(q.upper()):
        shape.append("reference")
        params["reference"] = q.upper()
    elif q:
        shape.append("search")
        params["like"], params["crsid"] = _like(q.lower()), q.lower()
    return tuple(shape), params


def _searched_students():
    like = bindparam("like")
    return select(Student.id).where(func.lower(Student.email).like(like, escape="\\")).union(
        select(StudentProfile.student_id).where(
            or_(
                StudentProfile.crsid == bindparam("crsid"),
                func.lower(StudentProfile.full_name).like(like, escape="\\"),
                func.lower(StudentProfile.preferred_name).like(like, escape="\\"),
            )
        )
    )


# Each condition on the cases table alone, so the count needs no join. A search finds the matching students
# first (a small set) and then their cases through the student_id index; a full reference goes straight to
# the unique index.
_CONDITIONS = {
    "status": lambda: Case.status == bindparam("status"),
    "open": lambda: OPEN,
    "area": lambda: Case.area_code == bindparam("area"),
    "college": lambda: Case.college_code == bindparam("college"),
    "unassigned": lambda: Case.assigned_to_id.is_(None),
    "officer": lambda: Case.assigned_to_id == bindparam("officer_id"),
    "reference": lambda: Case.reference == bindparam("reference"),
    "search": lambda: Case.student_id.in_(_searched_students()),
}


def _conditions(shape: tuple[str, ...]) -> list:
    return [_CONDITIONS[name]() for name in shape]


def _written_in(number: int):
    """A LIMIT or OFFSET written into the SQL, not bound. PostgreSQL cannot tell how many rows a bound LIMIT
    keeps, so it plans such a statement afresh on every run (about 0.8 ms on the cases table, with its many
    indexes: more than running it); written in, a list's statement is planned once per connection and kept
    (psycopg prepares a statement it has run five times). Only whole numbers the code computed go here."""
    return literal_column(str(int(number)))


@lru_cache(maxsize=64)
def _count_statement(shape: tuple[str, ...]):
    """How many cases the filters match, counting no further than COUNT_LIMIT + 1 (counting 100,000 cases
    would cost more than the rest of the page)."""
    capped = select(Case.id).where(*_conditions(shape)).limit(_written_in(COUNT_LIMIT + 1))
    return select(func.count()).select_from(capped.subquery())


@lru_cache(maxsize=256)
def _page_statement(shape: tuple[str, ...], sort: str, backward: bool, take: int, skip: int):
    """A page's rows: its case ids read from an index alone (so skipped rows join nothing), then the rows,
    in the sort's order or (`backward`) the opposite one. Kept per shape and page: most views are of the
    first pages, and a page number typed far down is only built again once it has fallen out."""
    _label, forwards, backwards = SORTS[sort]
    order = backwards() if backward else forwards()
    ids = select(Case.id).where(*_conditions(shape)).order_by(*order).limit(_written_in(take)).offset(_written_in(skip))
    if sort == "name":
        ids = ids.outerjoin(StudentProfile, StudentProfile.student_id == Case.student_id)
    ids = ids.subquery()
    return _row_query().join(ids, ids.c.id == Case.id).order_by(*order)


def list_cases(staff: Staff, filters: CaseFilters, page: int = 1, per_page: int | None = None) -> CasePage:
    """One page of cases for staff in three statements whatever the number of cases: a count that stops at
    COUNT_LIMIT (counting 100,000 cases would cost more than the rest of the page), the page's case ids read
    from an index alone (so skipping rows joins nothing for them), and the rows.

    A negative page counts from the end (-1 is the last page). Past COUNT_LIMIT the number of pages is not
    known, and reaching the last page by skipping every row before it would cost time in proportion to
    the list; so pages near the end are read from the other end of the same index, in the opposite order."""
    if not can_view_all_cases(staff):
        raise NotFound()
    per_page = per_page or PAGE_SIZE
    shape, params = _filter_shape(staff, filters)
    counted = db.session.connection().scalar(_count_statement(shape), params)
    more = counted > COUNT_LIMIT
    pages = None if more else max(1, -(-counted // per_page))
    page = page or 1
    if not more:
        page = min(max(1, page if page > 0 else pages + 1 + page), pages)
    sort = filters.sort if filters.sort in SORTS else "newest"
    backward = page < 0 or (not more and (page - 1) * per_page > counted // 2)
    if page < 0:  # from the end of a list longer than COUNT_LIMIT: pages aligned on its last case
        skip, take = (-page - 1) * per_page, per_page + 1  # one more: is there a page before this one?
    elif backward:  # the back half of a counted list: the same page, read from the nearer end
        end = min(page * per_page, counted)
        skip, take = counted - end, end - (page - 1) * per_page
    else:
        skip, take = (page - 1) * per_page, per_page + 1  # one more: is there a next page?
    rows = _case_rows(_page_statement(shape, sort, backward, take, skip), params)
    # Audited once read and before it is shown: the page's statements then share one connection (a commit
    # before them would hand it back to the pool and take it out again).
    _record_view(staff, "cases.listed", page=page)
    further = len(rows) > per_page  # a row beyond this page, in the direction it was read
    rows = rows[:per_page]
    if backward:
        rows.reverse()
    if page < 0:
        return CasePage(rows, COUNT_LIMIT, page, None, per_page, more=True, has_next=page < -1,
                        has_previous=further)
    return CasePage(rows, min(counted, COUNT_LIMIT), page, pages, per_page, more=more,
                    has_next=page < pages if pages else further, has_previous=page > 1)


def staff_choices() -> tuple[reference_data.StaffName, ...]:
    return reference_data.active_staff()


@dataclass
class Dashboard:
    my_open: list[CaseRow]
    unassigned: list[CaseRow]
    deadlines: list[CaseRow]
    awaiting_reply: list[CaseRow]


@cache
def _dashboard_statements() -> tuple:
    """The dashboard's four statements, built once with the officer and the week as parameters: building
    (and keying for SQLAlchemy's cache) a union of subqueries on every view cost as much as running it."""
    base = _row_query().where(OPEN).limit(_written_in(DASHBOARD_LIMIT))
    mine = base.where(Case.assigned_to_id == bindparam("staff_id"))
    return (
        # Deadlines first, soonest first, then the rest by age: two index-ordered reads as one statement.
        _first_rows(
            mine.where(Case.deadline.is_not(None)).order_by(Case.deadline, Case.opened_at),
            mine.where(Case.deadline.is_(None)).order_by(Case.opened_at),
            then_by=("deadline", "opened_at", "id"), limit=DASHBOARD_LIMIT,
        ),
        base.where(Case.assigned_to_id.is_(None)).order_by(Case.opened_at),
        base.where(Case.deadline >= bindparam("today"), Case.deadline <= bindparam("week_end"))
        .order_by(Case.deadline),
        base.where(Case.awaiting_reply_since.is_not(None)).order_by(Case.awaiting_reply_since),
    )


def dashboard(staff: Staff) -> Dashboard:
    """The officer's day: their open cases, new unassigned cases, deadlines this week, unanswered messages."""
    if not can_view_all_cases(staff):
        raise NotFound()
    today = today_local()
    params = {"staff_id": staff.id, "today": today, "week_end": today + timedelta(days=7)}
    board = Dashboard(*(_case_rows(stmt, params) for stmt in _dashboard_statements()))
    _record_view(staff, "dashboard.viewed")  # once read, before it is shown (as the case list)
    return board


# ---------------------------------------------------------------------------------------------- staff: one case


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


def staff_case_page(staff: Staff, reference: str) -> StaffCasePage:
    """The whole record for an officer. Opening it is audited and marks the student's messages read."""
    case = case_for_staff(staff, reference)
    _mark_read(case, from_student=True)
    _record_view(staff, "case.viewed", case)
    entries = _entry_views(case.id)
    changes = list(
        db.session.scalars(
            select(CaseChange).where(CaseChange.case_id == case.id).options(joinedload(CaseChange.changed_by))
        )
    )
    timeline = [TimelineItem(e.occurred_at, "entry", entry=e) for e in entries]
    timeline += [TimelineItem(c.changed_at, "change", change=c) for c in changes]
    timeline.sort(key=lambda item: item.at, reverse=True)
    messages = _messages(case)
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
    return StaffCasePage(case, _profile(case.student_id), timeline, messages, appointments, docs, flags, names)


def _record_change(case: Case, staff: Staff | None, kind: str, old: str | None, new: str | None,
                   reason: str | None) -> CaseChange:
    change = CaseChange(case_id=case.id, kind=kind, old_value=old, new_value=new,
                        changed_by_id=staff.id if staff else None)
    change.reason = reason or None
    db.session.add(change)
    return change


def add_entry(staff: Staff, reference: str, kind: str, occurred_at: datetime, body: str) -> CaseEntry:
    """A line in the record: an event, advice given, action taken, a note or a meeting."""
    case = case_for_staff(staff, reference)
    errors = {}
    if kind not in ENTRY_KINDS:
        errors["kind"] = "Choose what kind of entry this is."
    if occurred_at > utcnow() + timedelta(minutes=5):
        errors["occurred_on"] = "The time it happened cannot be in the future."
    body = clean_text(body, multiline=True)
    _check_text(errors, "text", body, "the entry", LONG_TEXT, required=True)
    if errors:
        raise InvalidAnswers(errors)
    entry = CaseEntry(case_id=case.id, kind=kind, occurred_at=occurred_at, author_id=staff.id, current_version=1)
    version = CaseEntryVersion(version=1, edited_by_id=staff.id)
    version.text = body
    entry.versions.append(version)
    db.session.add(entry)
    db.session.flush()
    _audit(staff, "entry.added", case, entry, kind=kind)
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
    _check_text(errors, "text", body, "the amended entry", LONG_TEXT, required=True)
    _check_text(errors, "reason", reason, "why you are amending it", SHORT_REASON, required=True)
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
    _audit(staff, "entry.amended", case, entry, version=entry.current_version)
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
    _record_change(case, staff, "assigned", _str(case.assigned_to_id), _str(officer_id), None)
    case.assigned_to_id = officer_id
    if officer is not None and case.status == CaseStatus.NEW.value:
        _record_change(case, staff, "status", case.status, CaseStatus.OPEN.value, None)
        case.status = CaseStatus.OPEN.value
    _audit(staff, "case.assigned", case, officer_id=officer_id)
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
    _check_text(errors, "reason", reason, "the reason for the change", SHORT_REASON, required=True)
    if errors:
        raise InvalidAnswers(errors)
    _record_change(case, staff, "status", case.status, status, reason)
    old = case.status
    case.status = status
    if old == CaseStatus.CLOSED.value:
        case.closed_at = None
        case.outcome_code = None
    _audit(staff, "case.status_changed", case, old=old, new=status)
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
    _check_text(errors, "note", note, "the closing note", SHORT_REASON)
    if errors:
        raise InvalidAnswers(errors)
    _record_change(case, staff, "status", case.status, CaseStatus.CLOSED.value, note or None)
    case.status = CaseStatus.CLOSED.value
    case.closed_at = utcnow()
    case.outcome_code = outcome_code
    case.awaiting_reply_since = None
    _audit(staff, "case.closed", case, outcome=outcome_code)
    db.session.commit()
    return case


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
    _audit(staff, "message.sent", case, message)
    mail.send(case.student.email, "student_new_message")
    db.session.commit()
    return message


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
    _check_text(errors, "location", location, "the place or how to join", 200,
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
    _audit(staff, "appointment.added", case, appointment)
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
        _audit(staff, "appointment.cancelled", case, appointment)
        mail.send(case.student.email, "student_appointment")
        db.session.commit()
    return appointment


def add_case_document(staff: Staff, reference: str, upload: Upload) -> Document:
    """An officer's document on the case record (internal: the student sees it through an access request)."""
    case = case_for_staff(staff, reference)
    if not _attach([upload], "document"):
        raise InvalidAnswers({"document": "Choose a file to upload."})
    stored: list[Document] = []
    with _committing(stored):
        stored.append(documents.add(upload, student_id=case.student_id, case_id=case.id, staff=staff))
        db.session.flush()
        _audit(staff, "document.uploaded", case, stored[0])
    return stored[0]


# ---------------------------------------------------------------------------------------------- reflective practice


def flag_for_reflection(staff: Staff, reference: str, reason: str) -> ReflectiveFlag:
    """Put a case on the weekly reflective practice agenda, with a short internal reason."""
    case = case_for_staff(staff, reference)
    reason = required_text(reason, "why the meeting should discuss it", SHORT_REASON, field_name="reason")
    pending = db.session.scalar(
        select(ReflectiveFlag).where(ReflectiveFlag.case_id == case.id, ReflectiveFlag.discussed_at.is_(None))
    )
    if pending is not None:
        raise AlreadyFlagged()
    flag = ReflectiveFlag(case_id=case.id, flagged_by_id=staff.id)
    flag.reason = reason
    db.session.add(flag)
    db.session.flush()
    _audit(staff, "reflective.flagged", case, flag)
    db.session.commit()
    return flag


@dataclass
class AgendaItem:
    flag: ReflectiveFlag
    case: Case
    flagged_by: Staff


def reflective_agenda(staff: Staff) -> list[AgendaItem]:
    """Cases waiting to be discussed, oldest flag first."""
    if not can_view_all_cases(staff):
        raise NotFound()
    _record_view(staff, "reflective.agenda_viewed")
    rows = db.session.execute(
        select(ReflectiveFlag, Case, Staff)
        .join(Case, Case.id == ReflectiveFlag.case_id)
        .join(Staff, Staff.id == ReflectiveFlag.flagged_by_id)
        .where(ReflectiveFlag.discussed_at.is_(None))
        .order_by(ReflectiveFlag.flagged_at)
    ).all()
    return [AgendaItem(f, c, s) for f, c, s in rows]


def mark_discussed(staff: Staff, flag_id: int) -> ReflectiveFlag:
    if not can_view_all_cases(staff):
        raise NotFound()
    flag = db.session.get(ReflectiveFlag, flag_id)
    if flag is None:
        raise NotFound()
    if flag.discussed_at is None:
        flag.discussed_at = utcnow()
        case = db.session.get(Case, flag.case_id)
        _audit(staff, "reflective.discussed", case, flag)
        db.session.commit()
    return flag

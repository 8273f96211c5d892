"""Intake: the student's casework form, its saved draft, and submitting it as a new case."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from sqlalchemy import select, text

from shared.audit import log as audit
from shared.casework import conflicts, documents
from shared.casework.cases import (
    LONG_TEXT,
    MEETING,
    InvalidAnswers,
    area_groups,
    attach_uploads,
    college_choices,
    committing,
    today_local,
)
from shared.casework.documents import Upload
from shared.models import (
    Case,
    CaseDraft,
    CaseStatus,
    Document,
    Student,
    StudentProfile,
    utcnow,
)
from shared.platform import mail
from shared.platform.answers import check_text, clean_text
from shared.platform.extensions import db

URGENCY = {
    "normal": "Not urgent",
    "soon": "Soon: within the next two weeks",
    "urgent": "Urgent: within the next few days",
}


CHANNELS = {"email": "Email", "phone": "Phone call", "text": "Text message", "post": "Post"}


MEDIUM_TEXT = 4_000


CRSID_RE = re.compile(r"^[a-z]{2,6}[0-9]{0,5}$")
PHONE_RE = re.compile(r"^[0-9+()\- ]{6,30}$")


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
    people: list = field(default_factory=list)  # PersonAnswers, or their dicts as a form or draft gives them


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
        check_text(errors, name, value, label, limit, required)
    for name, (label, limit, required) in _MULTI_LINE.items():
        value = clean_text(getattr(answers, name), multiline=True)
        setattr(out, name, value)
        check_text(errors, name, value, label, limit, required)
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
    out.people = conflicts.clean_people([_person(p) for p in (answers.people or [])[:conflicts.MAX_PEOPLE]], errors)
    out.may_leave_message = bool(answers.may_leave_message)
    out.private_room = bool(answers.private_room)
    if errors:
        raise InvalidAnswers(errors)
    return out


def _person(value) -> conflicts.PersonAnswers:
    if isinstance(value, conflicts.PersonAnswers):
        return value
    value = value if isinstance(value, dict) else {}
    return conflicts.PersonAnswers(**{k: str(value.get(k) or "") for k in conflicts.PersonAnswers.__dataclass_fields__})


def profile_answers(student: Student) -> dict:
    """The profile part of the form, for prefilling the student's next form."""
    profile = stored_profile(student.id)
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


def stored_profile(student_id: int) -> StudentProfile | None:
    return db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == student_id))


def _save_profile(student: Student, answers: IntakeAnswers) -> StudentProfile:
    profile = stored_profile(student.id) or StudentProfile(student_id=student.id)
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


def submit_case(student: Student, answers: IntakeAnswers, uploads: list[Upload] | None = None) -> Case:
    """The casework form becomes a case, in one transaction: the case, its documents, the people involved,
    the profile, the audit event and the 'form received' email all happen, or none does. The conflict
    check runs in the same transaction; what it finds is for staff only."""
    answers = clean_intake(answers)
    uploads = attach_uploads(uploads)
    stored: list[Document] = []
    with committing(stored):
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
        conflicts.add_people(case, answers.people, by_student=True)
        conflicts.check_case(case)
        draft = db.session.scalar(select(CaseDraft).where(CaseDraft.student_id == student.id))
        if draft is not None:
            db.session.delete(draft)
        audit.record(
            student, "case.submitted", case, student_id=student.id, case_id=case.id,
            reference=case.reference, documents=[d.id for d in stored],
        )
        mail.send(student.email, "case_received")
    return case


"""Retention: closed cases are anonymised once the retention period after closing has passed.

`plan()` lists every case that is due (or would be, but is held) with the action and the reason;
`run(dry_run=False)` carries it out, one case per transaction. Anonymising a case keeps what statistics
need (area of concern, college, outcome, contact method, and dates at month level) and removes the rest:
every encrypted free-text value of the case and its records, names and contact details of the people in
them, and its documents (the files are deleted). The case's rows move to a single placeholder student, so
nothing links them to the person any more, and the audit events about the case keep their actions but lose
their link to the student (the hash chain is re-sealed; see `audit.depersonalise`).

Held, with the reason shown: cases still open, cases covered by an access request that is not finished
(or whose copy can still be downloaded), and cases with a breach-of-confidentiality record (kept).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from shared import audit, documents, sessions
from shared.extensions import db
from shared.keyrotation import encrypted_fields
from shared.models import (
    AuditEvent,
    Base,
    BreachConsultation,
    BreachConsultationRequest,
    BreachRecord,
    Case,
    CaseDraft,
    CaseEntry,
    CaseEntryVersion,
    CaseStatus,
    Document,
    ServiceSetting,
    Student,
    StudentProfile,
    utcnow,
)
from shared.models.access import OPEN_STATUSES as ACCESS_OPEN_STATUSES
from shared.models.access import AccessRequest
from shared.models.consent import retention_override
from shared.passwords import hash_password

SETTING = "retention_years"
PLACEHOLDER_EMAIL = "anonymised@records.invalid"
# Clear-text columns naming people other than staff, wherever they appear in a case's rows.
PERSONAL_COLUMNS = frozenset({
    "recipient_name", "recipient_role", "recipient_contact", "typed_name", "location",
    "full_name", "preferred_name", "pronouns", "crsid", "phone", "faculty", "course", "year_of_study",
    "safe_channels", "deadline", "meeting_preference",
})


def retention_years() -> int:
    row = db.session.get(ServiceSetting, SETTING)
    return int(row.value) if row else current_app.config["RETENTION_YEARS_DEFAULT"]


def set_retention_years(admin, years: int) -> None:
    from shared.errors import ValidationFailed

    if not 1 <= years <= 50:
        raise ValidationFailed("Enter a number of years between 1 and 50.")
    row = db.session.get(ServiceSetting, SETTING)
    if row is None:
        row = ServiceSetting(key=SETTING, value=str(years))
        db.session.add(row)
    row.value, row.updated_at, row.updated_by_id = str(years), utcnow(), admin.id
    audit.record(admin, "settings.retention_changed", ("service_settings", SETTING), years=years)
    db.session.commit()


def cutoff(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    years = retention_years()
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


@dataclass(frozen=True)
class Decision:
    case_id: int
    reference: str
    closed_at: datetime | None
    action: str  # anonymise | hold
    reason: str


def holds_for_case(case: Case, now: datetime | None = None) -> list[str]:
    """Why this case must be kept for now (empty: nothing holds it)."""
    now = now or utcnow()
    reasons = []
    if case.status != CaseStatus.CLOSED.value:
        reasons.append("The case is still open.")
    breach = db.session.scalar(
        select(BreachRecord.id).where(
            BreachRecord.student_id == case.student_id,
            or_(BreachRecord.case_id == case.id, BreachRecord.case_id.is_(None)),
        ).limit(1)
    )
    if breach is not None:
        reasons.append("A breach-of-confidentiality record concerns this case: breach records are kept.")
    row = db.session.execute(
        select(AccessRequest.reference).where(
            AccessRequest.student_id == case.student_id,
            or_(AccessRequest.case_id == case.id, AccessRequest.case_id.is_(None)),
            or_(AccessRequest.status.in_(ACCESS_OPEN_STATUSES), AccessRequest.download_expires_at > now),
        ).limit(1)
    ).first()
    if row is not None:
        reasons.append(f"An access request ({row[0]}) by the student is not finished.")
    return reasons


def plan(now: datetime | None = None) -> list[Decision]:
    """Every case past the retention period (closed before the cut-off, or open and opened before it)."""
    now = now or utcnow()
    limit = cutoff(now)
    due = db.session.scalars(
        select(Case).where(
            Case.anonymised_at.is_(None),
            or_(
                (Case.status == CaseStatus.CLOSED.value) & (Case.closed_at <= limit),
                (Case.status != CaseStatus.CLOSED.value) & (Case.opened_at <= limit),
            ),
        ).order_by(Case.id)
    ).all()
    decisions = []
    for case in due:
        reasons = holds_for_case(case, now)
        decisions.append(Decision(
            case.id, case.reference, case.closed_at,
            "hold" if reasons else "anonymise", " ".join(reasons) or f"Closed more than {retention_years()} years ago.",
        ))
    return decisions


def placeholder_student() -> Student:
    student = db.session.scalar(select(Student).where(Student.email == PLACEHOLDER_EMAIL))
    if student is None:
        student = Student(email=PLACEHOLDER_EMAIL, password_hash=hash_password(secrets.token_urlsafe(32)))
        db.session.add(student)
        db.session.flush()
    return student


def _month(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _case_rows(case: Case):
    """Every row that belongs to the case: any mapped model with a case_id column, plus entry versions."""
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if cls not in (Case, AuditEvent) and "case_id" in mapper.columns:  # the log is handled apart
            yield from db.session.scalars(select(cls).where(mapper.columns["case_id"] == case.id))
    yield from db.session.scalars(
        select(CaseEntryVersion).join(CaseEntry).where(CaseEntry.case_id == case.id)
    )
    yield from db.session.scalars(  # the advice given on a breach consultation about the case
        select(BreachConsultation).join(BreachConsultationRequest, BreachConsultation.request_id == BreachConsultationRequest.id)
        .where(BreachConsultationRequest.case_id == case.id)
    )


_FIELDS_BY_CLASS: dict = {}


def _fields(cls):
    if not _FIELDS_BY_CLASS:
        for f in encrypted_fields():
            _FIELDS_BY_CLASS.setdefault(f.model, []).append(f)
    return _FIELDS_BY_CLASS.get(cls, [])


def _blank(row) -> None:
    """Remove every encrypted value and every personal clear-text column of a row."""
    for f in _fields(type(row)):
        setattr(row, f.name, None if f.column.nullable else "")
    for column in type(row).__mapper__.columns:
        if column.key in PERSONAL_COLUMNS and getattr(row, column.key) is not None:
            setattr(row, column.key, None if column.nullable else "")


def anonymise_case(case: Case, placeholder: Student) -> None:
    """In the caller's transaction."""
    for row in list(_case_rows(case)):
        _blank(row)
        if isinstance(row, Document) and row.deleted_at is None:
            documents.remove_files([row])
            row.deleted_at = utcnow()
        if hasattr(row, "student_id") and row.student_id is not None:
            row.student_id = placeholder.id
    _blank(case)
    opened = case.opened_at
    case.opened_at = _month(opened)
    if case.first_response_at is not None:  # keep the time to first response, which statistics report
        case.first_response_at = case.opened_at + (case.first_response_at - opened)
    case.closed_at = _month(case.closed_at)
    case.student_id = placeholder.id
    case.anonymised_at = utcnow()


def _student_is_spent(student: Student, limit: datetime) -> bool:
    """No case left, nothing holding them, and no sign-in within the retention period."""
    from shared.models import LoginSession

    if db.session.scalar(select(Case.id).where(Case.student_id == student.id).limit(1)) is not None:
        return False
    if db.session.scalar(select(BreachRecord.id).where(BreachRecord.student_id == student.id).limit(1)):
        return False
    recent = db.session.scalar(
        select(LoginSession.id).where(LoginSession.student_id == student.id, LoginSession.created_at > limit).limit(1)
    )
    return recent is None and student.created_at <= limit


def erase_student_account(student: Student) -> None:
    """The account itself: no email, no usable password, no profile or draft. In the caller's transaction."""
    sessions.end_all(student, "erased")
    student.email = f"erased-{student.id}@records.invalid"
    student.password_hash = hash_password(secrets.token_urlsafe(32))
    profile = db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == student.id))
    if profile is not None:
        _blank(profile)
        profile.college_code = None
        profile.may_leave_message = False
    draft = db.session.scalar(select(CaseDraft).where(CaseDraft.student_id == student.id))
    if draft is not None:
        db.session.delete(draft)
    for mapper in Base.registry.mappers:  # rows about the student that belong to no case (consents for all)
        cls = mapper.class_
        if "student_id" in mapper.columns and cls not in (
            Case, StudentProfile, CaseDraft, BreachRecord, AuditEvent
        ):
            for row in db.session.scalars(select(cls).where(mapper.columns["student_id"] == student.id)):
                if "case_id" not in mapper.columns or row.case_id is None:
                    _blank(row)


def depersonalise_audit(case_ids: list[int], student_ids: list[int], actor) -> int:
    conditions = []
    if case_ids:
        conditions.append(AuditEvent.case_id.in_(case_ids))
    if student_ids:
        conditions.append(AuditEvent.student_id.in_(student_ids))
    if not conditions:
        return 0
    changed = audit.depersonalise(or_(*conditions))
    audit.record(actor, "audit.depersonalised", None, events=changed, cases=len(case_ids), students=len(student_ids))
    return changed


@retention_override()
def run(*, dry_run: bool = False, now: datetime | None = None, actor="system") -> list[Decision]:
    now = now or utcnow()
    decisions = plan(now)
    if dry_run:
        audit.record(actor, "retention.dry_run", None, due=sum(d.action == "anonymise" for d in decisions),
                     held=sum(d.action == "hold" for d in decisions))
        db.session.commit()
        return decisions
    placeholder = placeholder_student()
    db.session.commit()
    done, students = [], set()
    for decision in decisions:
        if decision.action != "anonymise":
            continue
        case = db.session.get(Case, decision.case_id)
        students.add(case.student_id)
        anonymise_case(case, placeholder)
        audit.record(actor, "retention.case_anonymised", case, case_id=case.id)
        db.session.commit()  # one case per transaction: an interrupted run resumes where it stopped
        done.append(case.id)
    erased = []
    for student_id in sorted(students - {placeholder.id}):
        student = db.session.get(Student, student_id)
        if student is not None and _student_is_spent(student, cutoff(now)):
            erase_student_account(student)
            audit.record(actor, "retention.student_erased", student)
            erased.append(student_id)
    depersonalise_audit(done, erased, actor)
    audit.record(actor, "retention.run", None, anonymised=len(done), held=sum(d.action == "hold" for d in decisions),
                 students_erased=len(erased))
    db.session.commit()
    return decisions


def due_soon(days: int = 90) -> int:
    """How many closed cases will fall due within `days` (for the admin page)."""
    limit = cutoff(utcnow() + timedelta(days=days))
    return len(db.session.scalars(select(Case.id).where(
        Case.anonymised_at.is_(None), Case.status == CaseStatus.CLOSED.value, Case.closed_at <= limit
    )).all())

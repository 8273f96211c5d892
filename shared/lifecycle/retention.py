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

from shared.audit import log as audit
from shared.casework import documents
from shared.lifecycle.keyrotation import encrypted_fields
from shared.models import (
    AuditEvent,
    Base,
    BreachConsultation,
    BreachConsultationRequest,
    BreachGround,
    BreachRecord,
    Case,
    CaseDraft,
    CaseEntry,
    CaseEntryVersion,
    CaseStatus,
    ConflictDecision,
    Document,
    LoginSession,
    PossibleConflict,
    ServiceSetting,
    Student,
    StudentProfile,
    utcnow,
)
from shared.models.access import OPEN_STATUSES as ACCESS_OPEN_STATUSES
from shared.models.access import AccessRequest
from shared.models.consent import retention_override
from shared.platform import blobs
from shared.platform.errors import ValidationFailed
from shared.platform.extensions import db
from shared.platform.passwords import hash_password
from shared.security import sessions

SETTING = "retention_years"
PLACEHOLDER_EMAIL = "anonymised@records.invalid"
# Clear-text columns naming people other than staff, wherever they appear in a case's rows.
PERSONAL_COLUMNS = frozenset({
    "recipient_name", "recipient_role", "recipient_contact", "typed_name", "location",
    "full_name", "preferred_name", "pronouns", "crsid", "phone", "faculty", "course", "year_of_study",
    "safe_channels", "deadline", "meeting_preference",
    "email_key", "name_key",  # a person involved's keyed hashes: an anonymised case names nobody, so matches nobody
})


def retention_years() -> int:
    row = db.session.get(ServiceSetting, SETTING)
    return int(row.value) if row else current_app.config["RETENTION_YEARS_DEFAULT"]


def set_retention_years(admin, years: int) -> None:
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
    silent: bool = False  # held only silently: kept apart from the student, as if anonymised (see keep_apart)


@dataclass(frozen=True)
class Hold:
    """Why a case must be kept. A silent hold is kept without the student being told (or able to infer) it:
    a breach record on the terrorism ground (tipping off is an offence). The reason is for staff only."""

    reason: str
    silent: bool = False


SILENT_BREACH = ("A breach-of-confidentiality record on the terrorism ground concerns this case: it is kept, "
                 "and the student must never be told or able to tell (tipping off).")


def case_holds(case: Case, now: datetime | None = None) -> list[Hold]:
    """Why this case must be kept for now (empty: nothing holds it)."""
    now = now or utcnow()
    holds = []
    if case.status != CaseStatus.CLOSED.value:
        holds.append(Hold("The case is still open."))
    grounds = set(db.session.scalars(
        select(BreachRecord.ground).where(
            BreachRecord.student_id == case.student_id,
            or_(BreachRecord.case_id == case.id, BreachRecord.case_id.is_(None)),
        ).distinct()
    ))
    if grounds - {BreachGround.TERRORISM.value}:
        holds.append(Hold("A breach-of-confidentiality record concerns this case: breach records are kept."))
    if BreachGround.TERRORISM.value in grounds:
        holds.append(Hold(SILENT_BREACH, silent=True))
    row = db.session.execute(
        select(AccessRequest.reference).where(
            AccessRequest.student_id == case.student_id,
            or_(AccessRequest.case_id == case.id, AccessRequest.case_id.is_(None)),
            or_(AccessRequest.status.in_(ACCESS_OPEN_STATUSES), AccessRequest.download_expires_at > now),
        ).limit(1)
    ).first()
    if row is not None:
        holds.append(Hold(f"An access request ({row[0]}) by the student is not finished."))
    return holds


def only_silent(holds: list[Hold]) -> bool:
    """Held, but only for reasons the student must never learn: they are told what erasure would tell them."""
    return bool(holds) and all(h.silent for h in holds)


def holds_for_case(case: Case, now: datetime | None = None) -> list[str]:
    """Why this case must be kept for now, every reason (for staff)."""
    return [h.reason for h in case_holds(case, now)]


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
        holds = case_holds(case, now)
        decisions.append(Decision(
            case.id, case.reference, case.closed_at, "hold" if holds else "anonymise",
            " ".join(h.reason for h in holds) or f"Closed more than {retention_years()} years ago.",
            silent=only_silent(holds) and not is_holder(case.student_id),
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
    yield from db.session.scalars(  # the decisions on a conflict between this case and another
        select(ConflictDecision).join(PossibleConflict, ConflictDecision.conflict_id == PossibleConflict.id)
        .where(or_(PossibleConflict.case_a_id == case.id, PossibleConflict.case_b_id == case.id))
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


def _move_rows(case: Case, to: Student, *, blank: bool) -> None:
    """Every row of the case to another student (blanked first if `blank`), in the caller's transaction."""
    for row in list(_case_rows(case)):
        if blank:
            _blank(row)
            if isinstance(row, Document) and row.deleted_at is None:
                documents.remove_files([row])
                row.deleted_at = utcnow()
        if hasattr(row, "student_id") and row.student_id is not None:
            row.student_id = to.id
    case.student_id = to.id


def anonymise_case(case: Case, placeholder: Student) -> None:
    """In the caller's transaction."""
    _move_rows(case, placeholder, blank=True)
    _blank(case)
    opened = case.opened_at
    case.opened_at = _month(opened)
    if case.first_response_at is not None:  # keep the time to first response, which statistics report
        case.first_response_at = case.opened_at + (case.first_response_at - opened)
    case.closed_at = _month(case.closed_at)
    case.anonymised_at = utcnow()


HOLDER_EMAIL = "kept-{}@records.invalid"


def is_holder(student_id: int) -> bool:
    email = db.session.scalar(select(Student.email).where(Student.id == student_id)) or ""
    return email.startswith("kept-") and email.endswith("@records.invalid")


def kept_records_holder(student: Student) -> Student:
    """An account nobody can sign in to that holds a student's silently kept cases, with a copy of their
    profile so staff still see whose they are. In the caller's transaction."""
    holder = Student(email=HOLDER_EMAIL.format(secrets.token_hex(8)),
                     password_hash=hash_password(secrets.token_urlsafe(32)))
    db.session.add(holder)
    db.session.flush()
    profile = db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == student.id))
    if profile is not None:
        copy = StudentProfile(student_id=holder.id)
        for attr in StudentProfile.__mapper__.column_attrs:
            if attr.key not in ("id", "uid", "student_id", "updated_at") and not attr.key.startswith("_"):
                setattr(copy, attr.key, getattr(profile, attr.key))
        db.session.add(copy)
        db.session.flush()
        for f in _fields(StudentProfile):
            setattr(copy, f.name, getattr(profile, f.name))
    return holder


def keep_apart(case: Case, holder: Student) -> None:
    """A case that must be kept, silently: out of the student's reach exactly as if it had been anonymised
    (every student-facing query is scoped to the student), intact for staff under the holder. Caller commits."""
    _move_rows(case, holder, blank=False)


def _student_is_spent(student: Student, limit: datetime) -> bool:
    """No case left, nothing holding them, and no sign-in within the retention period."""
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
    store = blobs.store()
    for req in db.session.scalars(select(AccessRequest).where(
        AccessRequest.student_id == student.id, AccessRequest.pdf_path.is_not(None)
    )):
        store.delete(req.pdf_path)  # a stored copy of their records goes with the account
        req.pdf_path = None
    for mapper in Base.registry.mappers:  # rows about the student that belong to no case (consents for all)
        cls = mapper.class_
        if "student_id" in mapper.columns and cls not in (
            Case, StudentProfile, CaseDraft, BreachRecord, AuditEvent
        ):
            for row in db.session.scalars(select(cls).where(mapper.columns["student_id"] == student.id)):
                if "case_id" not in mapper.columns or row.case_id is None:
                    _blank(row)


def depersonalise_audit(case_ids: list[int], student_ids: list[int], actor, kept_case_ids=()) -> int:
    """Unlink the audit events of these cases and students from the student, except those about the cases
    kept (silently), whose trail stays with the record."""
    conditions = []
    if case_ids:
        conditions.append(AuditEvent.case_id.in_(case_ids))
    if student_ids:
        conditions.append(AuditEvent.student_id.in_(student_ids))
    if not conditions:
        return 0
    condition = or_(*conditions)
    if kept_case_ids:
        condition = condition & (AuditEvent.case_id.is_(None) | AuditEvent.case_id.not_in(list(kept_case_ids)))
    changed = audit.depersonalise(condition)
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
    done, kept, students, holders = [], [], set(), {}
    for decision in decisions:
        if decision.silent:  # kept, but out of the student's reach exactly as an anonymised case would be
            case = db.session.get(Case, decision.case_id)
            owner = db.session.get(Student, case.student_id)
            if owner.id not in holders:
                holders[owner.id] = kept_records_holder(owner)
            keep_apart(case, holders[owner.id])
            audit.record(actor, "retention.case_kept", case, case_id=case.id, holder_id=holders[owner.id].id)
            db.session.commit()
            students.add(owner.id)
            kept.append(case.id)
            continue
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
    depersonalise_audit(done, erased, actor, kept_case_ids=kept)
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

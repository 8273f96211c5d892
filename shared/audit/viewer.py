"""Reading the audit log: filters for the administrator and the manager, the CSV export, and the answer to
"who has looked at this student's record?" in one query.

Looking at the log about a student is itself recorded, like any other view of their data.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select

from shared.audit import log as audit
from shared.models import AuditEvent, Case, Staff, Student
from shared.platform.errors import InvalidAnswers
from shared.platform.extensions import db
from shared.platform.forms import record_number
from shared.security.accounts import student_with_email

PAGE_SIZE = 100
VIEW_ACTION_ENDINGS = (".viewed", ".downloaded")  # reading a record, opening a document


@dataclass
class Filters:
    student_id: int | None = None
    case_id: int | None = None
    staff_id: int | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def any(self) -> bool:
        return any(v not in (None, "") for v in vars(self).values())


def find_student(value: str | None) -> int | None:
    """A student given by number or email address (the staff member typed it)."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        student_id = record_number(value)
    else:
        student = student_with_email(value)
        student_id = student.id if student is not None else None
    if student_id is None or db.session.get(Student, student_id) is None:
        raise InvalidAnswers({"student": "No student matches that email address or number."})
    return student_id


def find_case(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    case_id = record_number(value) if value.isdigit() else db.session.scalar(
        select(Case.id).where(func.upper(Case.reference) == value.upper())
    )
    if case_id is None or db.session.get(Case, case_id) is None:
        raise InvalidAnswers({"case": "No case matches that reference or number."})
    return case_id


def _query(filters: Filters):
    stmt = select(AuditEvent)
    if filters.student_id:
        stmt = stmt.where(AuditEvent.student_id == filters.student_id)
    if filters.case_id:
        stmt = stmt.where(AuditEvent.case_id == filters.case_id)
    if filters.staff_id:
        stmt = stmt.where(AuditEvent.actor_kind == "staff", AuditEvent.actor_id == filters.staff_id)
    if filters.action:
        stmt = stmt.where(AuditEvent.action.startswith(filters.action.strip(), autoescape=True))
    if filters.date_from:
        stmt = stmt.where(AuditEvent.at >= datetime.combine(filters.date_from, time.min, UTC))
    if filters.date_to:
        stmt = stmt.where(AuditEvent.at < datetime.combine(filters.date_to + timedelta(days=1), time.min, UTC))
    return stmt


def _record_reading(reader: Staff, filters: Filters, how: str) -> None:
    audit.record(reader, f"audit.{how}", None, student_id=filters.student_id, case_id=filters.case_id,
                 staff=filters.staff_id, filter_action=(filters.action or None))
    db.session.commit()


def search(reader: Staff, filters: Filters, page: int = 1) -> tuple[list[AuditEvent], bool]:
    """A page of events, newest first; and whether there is another page."""
    _record_reading(reader, filters, "searched")
    rows = db.session.scalars(
        _query(filters).order_by(AuditEvent.seq.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@dataclass(frozen=True)
class Looker:
    staff_id: int
    name: str
    job_title: str
    views: int
    first: datetime
    last: datetime


def who_looked(reader: Staff, student_id: int) -> list[Looker]:
    """Every member of staff who has viewed anything of this student's, with how often and when: one
    grouped query over the indexed student_id column."""
    audit.record(reader, "audit.who_looked", None, student_id=student_id)
    db.session.commit()
    rows = db.session.execute(
        select(Staff.id, Staff.name, Staff.job_title, func.count(AuditEvent.id), func.min(AuditEvent.at),
               func.max(AuditEvent.at))
        .join(Staff, (AuditEvent.actor_kind == "staff") & (AuditEvent.actor_id == Staff.id))
        .where(AuditEvent.student_id == student_id, or_(*(AuditEvent.action.endswith(e) for e in VIEW_ACTION_ENDINGS)))
        .group_by(Staff.id, Staff.name, Staff.job_title)
        .order_by(func.max(AuditEvent.at).desc())
    ).all()
    return [Looker(*row) for row in rows]


CSV_COLUMNS = ["seq", "at", "actor_kind", "actor_id", "actor_name", "action", "subject_kind", "subject_id",
               "student_id", "case_id", "details"]


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # no formula injection


def export_csv(reader: Staff, filters: Filters) -> str:
    _record_reading(reader, filters, "exported")
    names = dict(db.session.execute(select(Staff.id, Staff.name)).all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in db.session.scalars(_query(filters).order_by(AuditEvent.seq).execution_options(yield_per=1000)):
        actor_name = names.get(e.actor_id) if e.actor_kind == "staff" else ""
        writer.writerow([safe_cell(v) for v in (
            e.seq, e.at.isoformat(timespec="seconds"), e.actor_kind, e.actor_id, actor_name, e.action,
            e.subject_kind, e.subject_id, e.student_id, e.case_id,
            ";".join(f"{k}={v}" for k, v in sorted((e.details or {}).items())),
        )])
    return out.getvalue()


def staff_names() -> dict[int, str]:
    return dict(db.session.execute(select(Staff.id, Staff.name)).all())

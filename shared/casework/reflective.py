"""Reflective practice: flagging a case for the team's agenda, the agenda, and marking an item discussed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shared.casework import wall
from shared.casework.cases import SHORT_REASON, audit_case, case_for_staff, record_view
from shared.models import (
    Case,
    ReflectiveFlag,
    Staff,
    utcnow,
)
from shared.platform.answers import required_text
from shared.platform.errors import NotFound, ServiceError
from shared.platform.extensions import db
from shared.security.authz import can_view_all_cases


class AlreadyFlagged(ServiceError):
    message = "This case is already on the reflective practice agenda."


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
    audit_case(staff, "reflective.flagged", case, flag)
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
    record_view(staff, "reflective.agenda_viewed")
    rows = db.session.execute(
        select(ReflectiveFlag, Case, Staff)
        .join(Case, Case.id == ReflectiveFlag.case_id)
        .join(Staff, Staff.id == ReflectiveFlag.flagged_by_id)
        .where(ReflectiveFlag.discussed_at.is_(None))
        .order_by(ReflectiveFlag.flagged_at)
    ).all()
    walled = wall.walled_case_ids(staff)
    return [AgendaItem(f, c, s) for f, c, s in rows if c.id not in walled]


def mark_discussed(staff: Staff, flag_id: int) -> ReflectiveFlag:
    if not can_view_all_cases(staff):
        raise NotFound()
    flag = db.session.get(ReflectiveFlag, flag_id)
    if flag is None:
        raise NotFound()
    case = db.session.get(Case, flag.case_id)
    wall.refuse_if_walled(staff, case)
    if flag.discussed_at is None:
        flag.discussed_at = utcnow()
        audit_case(staff, "reflective.discussed", case, flag)
        db.session.commit()
    return flag


"""The ethical wall between two students on opposite sides of one matter.

Once an officer or the manager has decided that two cases conflict (advise with different advisers, or
refer one side elsewhere), an adviser on one side cannot open, search, list or see on the agenda the other
side's case: to them it does not exist. An adviser is on a side if the case is assigned to them, or they
have written in its record, sent its student a message or taken one of its appointments. The manager is
on neither side: they supervise both, and every view they make across a wall says so in the audit log.

Cases assigned to the adviser themselves are never walled from them: the decision and the allocation
rules (below and in `record.assign`) keep the two sides with different advisers.
"""

from __future__ import annotations

from sqlalchemy import or_, select, union

from shared.audit import log as audit
from shared.models import Appointment, Case, CaseEntry, Message, PossibleConflict, StaffRole
from shared.models.conflicts import WALLING
from shared.platform.errors import NotFound
from shared.platform.extensions import db


def supervises_walls(staff) -> bool:
    return staff.role == StaffRole.MANAGER.value


def _walled_pairs(case_id: int | None = None) -> list[tuple[int, int]]:
    stmt = select(PossibleConflict.case_a_id, PossibleConflict.case_b_id).where(PossibleConflict.outcome.in_(WALLING))
    if case_id is not None:
        stmt = stmt.where(or_(PossibleConflict.case_a_id == case_id, PossibleConflict.case_b_id == case_id))
    return [tuple(row) for row in db.session.execute(stmt)]


def sides_of(staff_id: int, case_ids: set[int]) -> tuple[set[int], set[int]]:
    """(the cases among `case_ids` assigned to this staff member, those they have worked on in any way)."""
    assigned = set(db.session.scalars(
        select(Case.id).where(Case.id.in_(case_ids), Case.assigned_to_id == staff_id)
    ))
    worked = set(db.session.scalars(union(
        select(CaseEntry.case_id).where(CaseEntry.case_id.in_(case_ids), CaseEntry.author_id == staff_id),
        select(Message.case_id).where(Message.case_id.in_(case_ids), Message.staff_id == staff_id),
        select(Appointment.case_id).where(Appointment.case_id.in_(case_ids), Appointment.officer_id == staff_id),
    )))
    return assigned, assigned | worked


def _walled(staff_id: int, pairs: list[tuple[int, int]]) -> frozenset[int]:
    if not pairs:
        return frozenset()
    assigned, on_side = sides_of(staff_id, {c for pair in pairs for c in pair})
    walled = {b for a, b in pairs if a in on_side} | {a for a, b in pairs if b in on_side}
    return frozenset(walled - assigned)


def walled_case_ids(staff) -> frozenset[int]:
    """Every case this staff member may not reach. Empty (one small query) while no wall stands."""
    if supervises_walls(staff):
        return frozenset()
    return _walled(staff.id, _walled_pairs())


def is_walled(staff, case: Case) -> bool:
    if supervises_walls(staff):
        return False
    return case.id in _walled(staff.id, _walled_pairs(case.id))


def walled_students(staff) -> frozenset[int]:
    """The students one of whose cases is walled from this staff member (their access requests hold it)."""
    walled = walled_case_ids(staff)
    if not walled:
        return frozenset()
    return frozenset(db.session.scalars(select(Case.student_id).where(Case.id.in_(walled))))


def walls_student(staff, student_id: int) -> bool:
    return student_id in walled_students(staff)


def is_walled_for_officer(officer_id: int, case: Case) -> bool:
    """Would assigning this case to this officer put them on both sides of a wall?"""
    pairs = _walled_pairs(case.id)
    if not pairs:
        return False
    others = {a if b == case.id else b for a, b in pairs}
    _assigned, on_side = sides_of(officer_id, others)
    return bool(on_side)


def behind_wall(case_id: int) -> bool:
    """Is this case one side of a wall (for the manager's notice that they see it as supervisor)?"""
    return bool(_walled_pairs(case_id))


def refuse_if_walled(staff, case: Case) -> None:
    """Behind the wall a case is not found, exactly like no case at all; the attempt is audited."""
    if is_walled(staff, case):
        audit.record_view(staff, "wall.refused", case, student_id=case.student_id, case_id=case.id)
        raise NotFound()

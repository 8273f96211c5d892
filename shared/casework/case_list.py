"""The staff case list: its filters and sorting, the list queries, and the officer's dashboard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache

from sqlalchemy import bindparam, func, literal, literal_column, or_, select, union_all

from shared.casework import reference_data, wall
from shared.casework.cases import (
    OPEN,
    STAFF_STATUS,
    area_groups,
    college_choices,
    record_view,
    today_local,
)
from shared.models import (
    Case,
    Staff,
    Student,
    StudentProfile,
)
from shared.platform.answers import clean_text
from shared.platform.errors import NotFound
from shared.platform.extensions import db
from shared.platform.forms import record_number
from shared.security.authz import can_view_all_cases

PAGE_SIZE = 25
COUNT_LIMIT = 1000  # the case list counts this far, then says 'more than'
DASHBOARD_LIMIT = 20


REFERENCE_RE = re.compile(r"^ADV-\d{4}-\d{4,}$")


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
    walled = wall.walled_case_ids(staff)
    if walled:  # behind an ethical wall: as if those cases did not exist
        shape.append("walled")
        params["walled"] = sorted(walled)
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
    "walled": lambda: Case.id.not_in(bindparam("walled", expanding=True)),
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
    record_view(staff, "cases.listed", page=page)
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
    walled = wall.walled_case_ids(staff)
    board = Dashboard(*([r for r in _case_rows(stmt, params) if r.case.id not in walled]
                        for stmt in _dashboard_statements()))
    record_view(staff, "dashboard.viewed")  # once read, before it is shown (as the case list)
    return board


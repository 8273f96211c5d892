"""Statistics about the service's work, from aggregate queries only.

Every figure here comes from a GROUP BY (or an aggregate) in the database: no case is loaded into Python.
The median is read from an index of the durations in order: the database returns at most the two middle
durations (ORDER BY ... OFFSET). Months are counted over ranges of a timestamp's index, one calendar month
(UTC) each, the same on SQLite and PostgreSQL. These are the exact counts staff see; anything that
leaves the service goes through `shared.statistics.publication`, which applies disclosure control first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, literal_column, select, tuple_

from shared.casework import reference_data
from shared.models import (
    BreachRecord,
    Case,
    Consent,
    Disclosure,
    ListItem,
    ListKind,
    PossibleConflict,
    Staff,
    utcnow,
)
from shared.models.access import AccessRequest
from shared.models.statistics_indexes import DaysBetween
from shared.platform.errors import ServiceError
from shared.platform.extensions import db

NOT_RECORDED = "Not recorded"
OTHER_AREA_GROUP = "Other"
AREA_GROUPS = (("academic", "Academic"), ("welfare", "Welfare"))
AGE_BANDS = (  # open cases by how long they have been open
    ("Under 1 month", 0, 30),
    ("1 to 3 months", 30, 91),
    ("3 to 6 months", 91, 182),
    ("6 to 12 months", 182, 365),
    ("Over 12 months", 365, None),
)


# --- filters ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Whole calendar months only: `first_month` and `last_month` are the first day of their month."""

    first_month: date | None = None
    last_month: date | None = None
    area_code: str | None = None

    def __post_init__(self):
        for value in (self.first_month, self.last_month):
            if value is not None and value.day != 1:
                raise ValueError("statistics filters are whole months")
        if self.first_month and self.last_month and self.first_month > self.last_month:
            raise ServiceError("The first month must not be after the last month.")

    @property
    def start(self) -> datetime | None:
        return datetime(self.first_month.year, self.first_month.month, 1, tzinfo=UTC) if self.first_month else None

    @property
    def end(self) -> datetime | None:
        """Exclusive: the first moment after the last month."""
        if not self.last_month:
            return None
        return next_month(datetime(self.last_month.year, self.last_month.month, 1, tzinfo=UTC))

    def describe(self) -> dict:
        """For the audit log and the report heading: short codes only."""
        return {
            "from_month": self.first_month.strftime("%Y-%m") if self.first_month else "start",
            "to_month": self.last_month.strftime("%Y-%m") if self.last_month else "latest",
            "area": self.area_code or "all",
        }


def next_month(moment: date | datetime):
    """The first of the month after `moment`'s, of the same type (a datetime keeps its time of day)."""
    return moment.replace(year=moment.year + (moment.month == 12), month=moment.month % 12 + 1, day=1)


def _in_range(column, filters: Filters) -> list:
    conditions = [column.is_not(None)]
    if filters.start:
        conditions.append(column >= filters.start)
    if filters.end:
        conditions.append(column < filters.end)
    return conditions


def _case_conditions(column, filters: Filters, *, area: bool = True) -> list:
    conditions = _in_range(column, filters)
    if area and filters.area_code:
        conditions.append(Case.area_code == filters.area_code)
    return conditions


# --- dialect-neutral SQL pieces -----------------------------------------------------------------------


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def month_bucket(column):
    """The calendar month (UTC) of a timestamp, computed by the database, with no bound parameter so that
    it can be grouped. PostgreSQL: date_trunc (a timestamp; see `month_key`). SQLite stores these columns
    as ISO text ('YYYY-MM-DD HH:MM:SS.ffffff', SQLAlchemy's fixed format), so the month is its first seven
    characters: far cheaper than strftime over 100,000 rows."""
    if _dialect() == "postgresql":
        return func.date_trunc(literal_column("'month'"), column)
    return func.substr(column, literal_column("1"), literal_column("7"))


def month_key(bucket) -> str:
    """'YYYY-MM' for a month bucket from either database."""
    return bucket if isinstance(bucket, str) else bucket.strftime("%Y-%m")


def monthly(column, filters: Filters, *, extra=(), joins=()) -> dict[str, int]:
    """{'YYYY-MM': count} of rows of column's table with `column` in the filters' range and matching the
    `extra` conditions (an area; `joins` bring its table), months with none left out.

    Each month is counted over its range of `column`, all months in one statement: with an index on the
    column (or leading with it) every count is a short range scan, far cheaper than bucketing every row
    and grouping. The months run from the first to the last value of `column` in the range (a min and a
    max read from the index's ends); with `extra` conditions some may be empty, and are left out as a
    GROUP BY would leave them out. With `joins` (consents about one area) it is that GROUP BY."""
    table = column.table
    in_range = _in_range(column, filters)
    if joins:  # a count per month would repeat the join each month: one GROUP BY instead
        bucket = month_bucket(column)
        stmt = select(bucket, func.count()).where(*in_range, *extra)
        for target, on in joins:
            stmt = stmt.join(target, on)
        return {month_key(b): n for b, n in db.session.execute(stmt.group_by(bucket))}
    first, last = db.session.execute(select(
        select(func.min(column)).select_from(table).where(*in_range).scalar_subquery(),
        select(func.max(column)).select_from(table).where(*in_range).scalar_subquery(),
    )).one()
    if first is None:
        return {}
    months = [datetime(first.year, first.month, 1, tzinfo=UTC)]
    while next_month(months[-1]) <= last:
        months.append(next_month(months[-1]))
    counts = [select(func.count()).select_from(table).where(*extra, column >= start, column < next_month(start))
              .scalar_subquery() for start in months]
    out = {}
    for at in range(0, len(counts), MONTHS_PER_STATEMENT):
        values = db.session.execute(select(*counts[at:at + MONTHS_PER_STATEMENT])).one()
        out.update({month.strftime("%Y-%m"): n for month, n in zip(
            months[at:at + MONTHS_PER_STATEMENT], values, strict=True) if n})
    return out


MONTHS_PER_STATEMENT = 120  # ten years a statement: well within any limit on bound parameters


def days_between(start, end):
    """Elapsed days (fractional) between two timestamps, computed by the database: the expression the
    duration indexes hold (shared.models.statistics_indexes)."""
    return DaysBetween(start, end)


# --- the building blocks ------------------------------------------------------------------------------


def counts_by(key, conditions: list) -> dict:
    """{key value: count} for cases matching `conditions`: one GROUP BY."""
    stmt = select(key, func.count()).select_from(Case).where(*conditions).group_by(key)
    return {value: count for value, count in db.session.execute(stmt)}


def monthly_counts(column, filters: Filters) -> dict[str, int]:
    return monthly(column, filters, extra=[Case.area_code == filters.area_code] if filters.area_code else [])


@dataclass(frozen=True)
class Duration:
    cases: int
    median_days: float | None
    mean_days: float | None


def duration(start, end, conditions: list, *, index: str | None) -> Duration:
    """Median and mean days between two timestamps: an aggregate for the count and mean, then the middle
    one or two durations (ORDER BY ... OFFSET). With `index`, the durations' expression index, both walk
    it in order: no duration is computed per case and nothing is sorted. The median is the middle two
    averaged when the count is even; on PostgreSQL as percentile_cont(0.5) interpolates (a + (b - a) / 2),
    on SQLite as (a + b) / 2, each the value these pages gave before the index. SQLite is told the index
    (INDEXED BY): left to itself it prefers a covering index and sorts. One area's cases are fewer: there
    (index None) its (area, date) index and a sort of those few is cheaper than the whole duration index."""
    days = days_between(start, end)
    where = [*conditions, end.is_not(None), start.is_not(None)]

    def from_index(stmt):
        stmt = stmt.select_from(Case).where(*where)
        return stmt.with_hint(Case, f"INDEXED BY {index}", "sqlite") if index else stmt

    n, mean = db.session.execute(from_index(select(func.count(), func.avg(days)))).one()
    if not n:
        return Duration(0, None, None)
    middle = [float(d) for d in db.session.scalars(
        from_index(select(days)).order_by(days).offset((n - 1) // 2).limit(2 - n % 2))]
    if _dialect() == "postgresql":
        median = middle[0] + (middle[-1] - middle[0]) * 0.5 if len(middle) == 2 else middle[0]
    else:
        median = sum(middle) / len(middle)
    return Duration(n, median, float(mean))


def labels(kind: ListKind) -> list[tuple[str, str]]:
    """(code, label) of a service list in its order, retired items included (old cases keep them). From the
    worker's copy of the lists (shared.casework.reference_data), so the tables cost no query for their labels."""
    return [(item.code, item.label) for item in reference_data.list_items() if item.kind == kind.value]


def area_choices() -> list[tuple[str, str]]:
    return [(item.code, item.label) for item in reference_data.list_items()
            if item.kind == ListKind.AREA.value and item.active]


# --- tables -------------------------------------------------------------------------------------------


@dataclass
class Breakdown:
    """A table of counts: labelled rows, one or more additive columns (a row total when more than one)."""

    key: str
    title: str
    row_heading: str
    columns: list[str]
    rows: list[tuple[str, list[int]]] = field(default_factory=list)
    # Labels that are not items of a service list (typed by people, or codes no longer listed): staff see
    # them, a publishable output never prints them (shared.statistics.publication counts them as Other).
    unlisted: frozenset[str] = frozenset()
    additive: bool = True  # False when the columns are not parts of one whole (given / withdrawn)
    note: str = ""

    @property
    def counts(self) -> list[list[int]]:
        return [values for _, values in self.rows]

    @property
    def total(self) -> int:
        return sum(sum(values) for _, values in self.rows)


def _listed_rows(counts: dict, kind: ListKind, width: int = 1) -> tuple[list[tuple[str, list]], frozenset[str]]:
    """Every item of a service list, in list order (zeros included), then any value not listed (alphabetically),
    then 'Not recorded'; and the labels of the rows that are not list items. `counts` maps a code to a count,
    or to a list of counts (one per column)."""
    rows, seen = [], set()
    zero = [0] * width

    def cells(value):
        return list(value) if isinstance(value, list) else [value]

    for code, label in labels(kind):
        rows.append((label, cells(counts.get(code, zero))))
        seen.add(code)
    unlisted = sorted((c for c in counts if c is not None and c not in seen), key=lambda c: str(c).lower())
    rows += [(str(code), cells(counts[code])) for code in unlisted]
    if counts.get(None):
        rows.append((NOT_RECORDED, cells(counts[None])))
    return rows, frozenset(str(c) for c in unlisted)


def _typed_codes(counts: dict, kind: ListKind) -> dict:
    """Typed values (faculty, year of study) by the list item they name: a value matches an item whose label or
    code it spells, ignoring case and spacing. Anything else stays as typed (unlisted); blanks are None."""
    items = {}
    for code, label in labels(kind):
        items.setdefault(_spelling(label), code)
        items.setdefault(_spelling(code), code)
    out: dict = {}
    for value, count in counts.items():
        text = " ".join((value or "").split())
        key = items.get(_spelling(text), text) if text else None
        out[key] = out.get(key, 0) + count
    return out


def _spelling(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).casefold()


def _breakdown(key: str, title: str, row_heading: str, counts: dict, kind: ListKind, *, typed: bool = False) -> Breakdown:
    rows, unlisted = _listed_rows(_typed_codes(counts, kind) if typed else counts, kind)
    return Breakdown(key, title, row_heading, ["Cases"], rows, unlisted=unlisted)


def month_label(bucket: str) -> str:
    return datetime.strptime(bucket, "%Y-%m").strftime("%b %Y")


def _months(counts: dict[str, int], filters: Filters) -> list[tuple[str, list[int]]]:
    """Every month of the range, empty months included, so that a missing month is never a hidden one."""
    keys = sorted(k for k in counts if k)
    first = filters.first_month or (datetime.strptime(keys[0], "%Y-%m").date() if keys else None)
    last = filters.last_month or (datetime.strptime(keys[-1], "%Y-%m").date() if keys else None)
    if first is None or last is None:
        return []
    rows, month = [], datetime(first.year, first.month, 1, tzinfo=UTC)
    while month.date() <= last:
        bucket = month.strftime("%Y-%m")
        rows.append((month_label(bucket), [counts.get(bucket, 0)]))
        month = next_month(month)
    return rows


def grouped_counts(sets: dict[str, tuple], conditions: list) -> dict[str, dict]:
    """Counts of the cases matching `conditions`, grouped several ways: {set name: {key: count}}, the key
    being the value for a one-column set and a tuple otherwise.

    PostgreSQL: one scan, GROUP BY GROUPING SETS, each row's set told by GROUPING(). SQLite has no grouping
    sets; there each set is its own GROUP BY, which reads one of the statistics indexes in order.
    """
    if _dialect() != "postgresql":
        out = {}
        for name, cols in sets.items():
            stmt = select(*cols, func.count()).select_from(Case).where(*conditions).group_by(*cols)
            out[name] = {(row[0] if len(cols) == 1 else tuple(row[:-1])): row[-1] for row in db.session.execute(stmt)}
        return out
    columns: list = []
    for cols in sets.values():
        columns += [c for c in cols if not any(c is seen for seen in columns)]

    def index(col) -> int:
        return next(i for i, seen in enumerate(columns) if seen is col)

    width = len(columns)
    stmt = (
        select(*columns, *[func.grouping(c) for c in columns], func.count())
        .select_from(Case)
        .where(*conditions)
        .group_by(func.grouping_sets(*[tuple_(*cols) for cols in sets.values()]))
    )
    set_of = {frozenset(index(c) for c in cols): name for name, cols in sets.items()}
    out = {name: {} for name in sets}
    for row in db.session.execute(stmt):
        name = set_of[frozenset(i for i in range(width) if row[width + i] == 0)]
        cols = sets[name]
        key = row[index(cols[0])] if len(cols) == 1 else tuple(row[index(c)] for c in cols)
        out[name][key] = row[-1]
    return out


def case_breakdowns(filters: Filters) -> list[Breakdown]:
    """The tables about cases; the same ones, protected, make the publishable report."""
    opened = grouped_counts({
        "college_area": (Case.college_code, Case.area_code),
        "faculty": (Case.faculty,),
        "year": (Case.year_of_study,),
        "contact": (Case.contact_method,),
    }, _case_conditions(Case.opened_at, filters))
    closed = grouped_counts({"outcome": (Case.outcome_code,)}, _case_conditions(Case.closed_at, filters))
    by_area: dict = {}
    for (_, area), count in opened["college_area"].items():
        by_area[area] = by_area.get(area, 0) + count
    (college_rows, unlisted_colleges), other_group = _college_by_area_group(opened["college_area"])
    return [
        Breakdown("opened_by_month", "Cases opened, by month", "Month", ["Cases opened"],
                  _months(monthly_counts(Case.opened_at, filters), filters)),
        Breakdown("closed_by_month", "Cases closed, by month", "Month", ["Cases closed"],
                  _months(monthly_counts(Case.closed_at, filters), filters)),
        _breakdown("by_area", "Cases opened, by area of concern", "Area of concern", by_area, ListKind.AREA),
        Breakdown("by_college", "Cases opened, by college and kind of concern", "College",
                  [label for _, label in AREA_GROUPS] + ([OTHER_AREA_GROUP] if other_group else []),
                  college_rows, unlisted=unlisted_colleges),
        _breakdown("by_faculty", "Cases opened, by faculty", "Faculty", opened["faculty"], ListKind.FACULTY, typed=True),
        _breakdown("by_year", "Cases opened, by year of study", "Year of study", opened["year"], ListKind.YEAR_OF_STUDY,
                   typed=True),
        _breakdown("by_contact_method", "Cases opened, by how the student contacted the service", "Contact method",
                   opened["contact"], ListKind.CONTACT_METHOD),
        _breakdown("by_outcome", "Cases closed, by outcome", "Outcome", closed["outcome"], ListKind.OUTCOME),
    ]


def _college_by_area_group(college_area: dict) -> tuple[tuple[list[tuple[str, list[int]]], frozenset[str]], bool]:
    """College x kind of concern (academic, welfare; 'Other' only if an area has no group), from the
    (college, area) counts: areas are put in their groups per counted group, not per case."""
    area_groups = {item.code: item.group for item in reference_data.list_items() if item.kind == ListKind.AREA.value}
    groups = [code for code, _ in AREA_GROUPS]
    by_college: dict = {}
    other = False
    for (college, area), count in college_area.items():
        group = area_groups.get(area)
        if group not in groups:
            group, other = None, True
        cell = by_college.setdefault(college, {})
        cell[group] = cell.get(group, 0) + count
    columns = groups + ([None] if other else [])
    counts = {college: [cell.get(g, 0) for g in columns] for college, cell in by_college.items()}
    return _listed_rows(counts, ListKind.COLLEGE, len(columns)), other


def response_times(filters: Filters) -> dict[str, Duration]:
    whole = not filters.area_code
    return {
        "first_response": duration(Case.opened_at, Case.first_response_at, _case_conditions(Case.opened_at, filters),
                                   index="ix_cases_first_response_days" if whole else None),
        "closure": duration(Case.opened_at, Case.closed_at, _case_conditions(Case.closed_at, filters),
                            index="ix_cases_closure_days" if whole else None),
    }


def open_cases_by_age(filters: Filters, now: datetime | None = None) -> Breakdown:
    """Cases open now (area filter only: 'now' has no date range), by how long they have been open."""
    now = now or utcnow()
    conditions = [Case.closed_at.is_(None)]
    if filters.area_code:
        conditions.append(Case.area_code == filters.area_code)
    counts = []
    for _, low, high in AGE_BANDS:  # each band a range of opening times: a short scan of an index
        band = [Case.opened_at <= now - timedelta(days=low)]
        if high is not None:
            band.append(Case.opened_at > now - timedelta(days=high))
        counts.append(select(func.count()).select_from(Case).where(*conditions, *band).scalar_subquery())
    values = db.session.execute(select(*counts)).one()
    return Breakdown("open_by_age", "Open cases, by how long they have been open", "Open for", ["Open cases"],
                     [(label, [int(v)]) for (label, _, _), v in zip(AGE_BANDS, values, strict=True)])


def workload(filters: Filters) -> Breakdown:
    """Per officer: cases open now and cases closed in the period. Managers and the administrator only."""
    open_now = counts_by(Case.assigned_to_id, [Case.closed_at.is_(None), *(
        [Case.area_code == filters.area_code] if filters.area_code else [])])
    closed = counts_by(Case.assigned_to_id, _case_conditions(Case.closed_at, filters))
    staff = db.session.execute(select(Staff.id, Staff.name).order_by(Staff.name)).all()
    rows = [(name, [open_now.get(sid, 0), closed.get(sid, 0)]) for sid, name in staff
            if open_now.get(sid) or closed.get(sid)]
    if open_now.get(None) or closed.get(None):
        rows.append(("Not assigned", [open_now.get(None, 0), closed.get(None, 0)]))
    return Breakdown("workload", "Workload, by officer", "Officer", ["Open now", "Closed in period"], rows,
                     additive=False, note="Open now ignores the date range.")


def _ledger_monthly(column, filters: Filters, case_id) -> dict[str, int]:
    if filters.area_code:
        return monthly(column, filters, extra=[Case.area_code == filters.area_code],
                       joins=[(Case, Case.id == case_id)])
    return monthly(column, filters)


def consents(filters: Filters) -> Breakdown:
    given = _ledger_monthly(Consent.granted_at, filters, Consent.case_id)
    withdrawn = _ledger_monthly(Consent.withdrawn_at, filters, Consent.case_id)
    months = sorted(set(given) | set(withdrawn))
    return Breakdown(
        "consents", "Consents given and withdrawn, by month", "Month", ["Given", "Withdrawn"],
        [(month_label(m), [given.get(m, 0), withdrawn.get(m, 0)]) for m in months], additive=False,
        note="Given and withdrawn are separate counts: a consent given and withdrawn counts in both."
        + (" With an area chosen, consents covering all of a student's cases are not counted." if filters.area_code else ""),
    )


BASIS_LABELS = {
    None: "Consent of the student",
    "safety": "Breach: serious and imminent risk to safety",
    "terrorism": "Breach: required by law (terrorism)",
}


def disclosures_by_basis(filters: Filters) -> Breakdown:
    stmt = (
        select(BreachRecord.ground, func.count())
        .select_from(Disclosure)
        .outerjoin(BreachRecord, BreachRecord.id == Disclosure.breach_record_id)
        .where(*_in_range(Disclosure.disclosed_at, filters))
    )
    if filters.area_code:
        stmt = stmt.join(Case, Case.id == Disclosure.case_id).where(Case.area_code == filters.area_code)
    counts = {ground: n for ground, n in db.session.execute(stmt.group_by(BreachRecord.ground))}
    return Breakdown("disclosures", "Disclosures, by basis", "Basis", ["Disclosures"],
                     [(label, [counts.get(ground, 0)]) for ground, label in BASIS_LABELS.items()])


def access_requests(filters: Filters) -> Breakdown:
    """Access requests by month received: answered by the deadline, answered late, still open. Internal only."""
    answered_at = func.coalesce(AccessRequest.released_at, AccessRequest.refused_at)
    bucket = month_bucket(AccessRequest.received_at)
    on_time = case((and_(answered_at.is_not(None), func.date(answered_at) <= AccessRequest.due_on), 1), else_=0)
    late = case((and_(answered_at.is_not(None), func.date(answered_at) > AccessRequest.due_on), 1), else_=0)
    still_open = case((answered_at.is_(None), 1), else_=0)
    stmt = (
        select(bucket, func.sum(on_time), func.sum(late), func.sum(still_open))
        .where(*_in_range(AccessRequest.received_at, filters))
        .group_by(bucket)
    )
    rows = sorted((month_key(b), [int(a or 0), int(c or 0), int(d or 0)]) for b, a, c, d in db.session.execute(stmt))
    return Breakdown(
        "access_requests", "Access requests, by month received", "Month",
        ["Answered by the deadline", "Answered late", "Still open"],
        [(month_label(m), values) for m, values in rows],
        note="Counts requests for a copy of records; the deadline includes pauses and any extension."
        + (" Not filtered by area of concern." if filters.area_code else ""),
    )


CONFLICT_LABELS = {
    "no_conflict": "No conflict found",
    "different_advisers": "Advised by different advisers",
    "refer_elsewhere": "One student referred elsewhere",
}


def conflicts_handled(filters: Filters) -> Breakdown:
    """Possible conflicts of interest decided in the period, by their latest decision."""
    stmt = select(PossibleConflict.outcome, func.count()).where(
        PossibleConflict.outcome.is_not(None), *_in_range(PossibleConflict.decided_at, filters))
    if filters.area_code:
        stmt = stmt.join(Case, Case.id == PossibleConflict.case_a_id).where(Case.area_code == filters.area_code)
    counts = dict(db.session.execute(stmt.group_by(PossibleConflict.outcome)).all())
    return Breakdown("conflicts", "Possible conflicts of interest handled, by decision", "Decision", ["Conflicts"],
                     [(label, [counts.get(code, 0)]) for code, label in CONFLICT_LABELS.items()],
                     note="Counted in the month of the latest decision.")


@dataclass
class InternalReport:
    filters: Filters
    cases: list[Breakdown]
    times: dict[str, Duration]
    open_by_age: Breakdown
    consents: Breakdown
    disclosures: Breakdown
    access_requests: Breakdown
    workload: Breakdown | None
    conflicts: Breakdown | None = None


_CACHE = "statistics:"


def internal_report(filters: Filters, *, include_workload: bool, now: datetime | None = None) -> InternalReport:
    """Everything the statistics page shows staff, exactly. Workload only for managers and the administrator.

    Kept by each worker for STATS_CACHE_SECONDS per set of filters (0: computed every time): at 100,000
    cases the aggregates take longer than a page should. A change written through this worker's session
    clears the copies at once; another worker's change shows within those seconds, and so do the ages of
    open cases. An explicit `now` is never cached."""
    if now is not None:
        return _compute_internal_report(filters, include_workload=include_workload, now=now)
    return reference_data.kept(
        f"{_CACHE}{filters!r}:{include_workload}",
        lambda: _compute_internal_report(filters, include_workload=include_workload),
        current_app.config.get("STATS_CACHE_SECONDS", 60),
    )


# What the internal report is computed from: a write to any of these through this worker forgets its copies.
reference_data.forget_on_write(_CACHE, Case, Consent, Disclosure, BreachRecord, AccessRequest, ListItem, Staff,
                               PossibleConflict)


def _compute_internal_report(filters: Filters, *, include_workload: bool, now: datetime | None = None) -> InternalReport:
    return InternalReport(
        filters=filters,
        cases=case_breakdowns(filters),
        times=response_times(filters),
        open_by_age=open_cases_by_age(filters, now),
        consents=consents(filters),
        disclosures=disclosures_by_basis(filters),
        access_requests=access_requests(filters),
        workload=workload(filters) if include_workload else None,
        conflicts=conflicts_handled(filters),
    )

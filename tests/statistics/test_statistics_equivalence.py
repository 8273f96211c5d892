"""The statistics read from indexes (months as ranges, durations from expression indexes) give exactly what
counting the cases one by one gives, on a seeded mix of cases, including times on the edges of months."""

from __future__ import annotations

import random
import statistics as pystats
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.statistics import queries as statistics
from shared.statistics.differencing import DisclosureRisk, check_differencing
from shared.statistics.queries import AGE_BANDS, Filters, month_label
from tests.factories_stats import add_cases, add_consent, student_with_profile

AREAS = ("housing", "appeals", "complaints")
FILTERS = (
    Filters(),
    Filters(date(2025, 11, 1), date(2026, 2, 1)),
    Filters(None, date(2025, 12, 1), "housing"),
    Filters(date(2026, 1, 1), None, "appeals"),
    Filters(date(2026, 1, 1), date(2026, 1, 1), "complaints"),
)
NOW = datetime(2026, 4, 20, 9, 30, tzinfo=UTC)


def _seed() -> list[dict]:
    """Fictional cases over seven months, some opened or closed on the first or last microsecond of a
    month; returns what each case was given, for counting by hand."""
    rnd = random.Random(20261129)
    edges = [datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC) - timedelta(microseconds=1),
             datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)]
    cases = []
    for i in range(160):
        opened = edges[i] if i < len(edges) else datetime(2025, 10, 1, tzinfo=UTC) + timedelta(
            seconds=rnd.randrange(0, 200 * 86400))
        responded = timedelta(hours=rnd.choice([1, 2, 2, 5, 30, 49]), seconds=rnd.randrange(0, 90)) \
            if rnd.random() < 0.85 else None
        closed = None
        if rnd.random() < 0.7:
            closed = timedelta(days=rnd.randrange(0, 60), seconds=rnd.randrange(0, 86400))
            if i % 17 == 0:  # closed on the first moment of the next month
                first = datetime(opened.year + (opened.month == 12), opened.month % 12 + 1, 1, tzinfo=UTC)
                closed = first - opened
        case = dict(opened=opened, responded_after=responded, closed_after=closed, area=rnd.choice(AREAS),
                    outcome="resolved" if closed else None)
        add_cases(1, **case)
        cases.append(case)
    return cases


def _in(moment, filters: Filters) -> bool:
    return moment is not None and (filters.start is None or moment >= filters.start) and (
        filters.end is None or moment < filters.end)


def _expected_months(moments: list[datetime], filters: Filters) -> dict[str, list[int]]:
    counts: dict[str, int] = {}
    for m in moments:
        counts[f"{m.year:04d}-{m.month:02d}"] = counts.get(f"{m.year:04d}-{m.month:02d}", 0) + 1
    if not counts and not (filters.first_month and filters.last_month):
        return {}
    first = filters.first_month or datetime.strptime(min(counts), "%Y-%m").date()
    last = filters.last_month or datetime.strptime(max(counts), "%Y-%m").date()
    rows, (y, mo) = {}, (first.year, first.month)
    while (y, mo) <= (last.year, last.month):
        rows[month_label(f"{y:04d}-{mo:02d}")] = [counts.get(f"{y:04d}-{mo:02d}", 0)]
        y, mo = y + (mo == 12), mo % 12 + 1
    return rows


def _median(values: list[float]) -> float | None:
    return pystats.median(values) if values else None


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "-".join(f.describe().values()))
def test_statistics_match_counting_the_cases_one_by_one(db, filters):
    cases = _seed()
    mine = [c for c in cases if not filters.area_code or c["area"] == filters.area_code]
    opened = [c for c in mine if _in(c["opened"], filters)]
    closed = [c for c in mine if c["closed_after"] and _in(c["opened"] + c["closed_after"], filters)]

    tables = {b.key: dict(b.rows) for b in statistics.case_breakdowns(filters)}
    assert tables["opened_by_month"] == _expected_months([c["opened"] for c in opened], filters)
    assert tables["closed_by_month"] == _expected_months([c["opened"] + c["closed_after"] for c in closed], filters)

    times = statistics.response_times(filters)
    responded = [c["responded_after"].total_seconds() / 86400 for c in opened if c["responded_after"]]
    to_close = [c["closed_after"].total_seconds() / 86400 for c in closed]
    for got, days in ((times["first_response"], responded), (times["closure"], to_close)):
        assert got.cases == len(days)
        # the database computes days from stored timestamps (julianday on SQLite): equal to a few
        # millionths of a second, far below the tenth of a day the page shows
        assert got.median_days == pytest.approx(_median(days), abs=1e-7)
        assert got.mean_days == pytest.approx(pystats.fmean(days) if days else None, abs=1e-7)

    open_now = [c for c in mine if not c["closed_after"]]
    ages = dict(statistics.open_cases_by_age(filters, NOW).rows)
    for label, low, high in AGE_BANDS:
        expected = sum(1 for c in open_now if c["opened"] <= NOW - timedelta(days=low)
                       and (high is None or c["opened"] > NOW - timedelta(days=high)))
        assert ages[label] == [expected], label

    # the differencing check reads the same month counts: refused or allowed exactly as by hand
    refused = _refused_by_hand(cases, filters, threshold=10)
    if refused:
        with pytest.raises(DisclosureRisk):
            check_differencing(filters, 10)
    else:
        check_differencing(filters, 10)


def _refused_by_hand(cases, filters: Filters, threshold: int) -> bool:
    for when in ("opened", "closed"):
        def moment(c, when=when):
            if when == "opened":
                return c["opened"]
            return c["opened"] + c["closed_after"] if c["closed_after"] else None

        everyone = [c for c in cases if _in(moment(c), filters)]
        mine = [c for c in everyone if not filters.area_code or c["area"] == filters.area_code]
        months: dict[str, int] = {}
        for c in mine:
            key = f"{moment(c).year}-{moment(c).month:02d}"
            months[key] = months.get(key, 0) + 1
        if when == "opened" and len(mine) < threshold:
            return True
        if months and (months[min(months)] < threshold or months[max(months)] < threshold):
            return True
        if filters.area_code and 0 < len(everyone) - len(mine) < threshold:
            return True
    return False


def test_consents_by_month_match_counting_them_one_by_one(db):
    student = student_with_profile()
    rnd = random.Random(7)
    given, withdrawn = [], []
    for i in range(40):
        granted = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(microseconds=1) if i == 0 else (
            datetime(2025, 11, 1, tzinfo=UTC) + timedelta(seconds=rnd.randrange(0, 120 * 86400)))
        gone = granted + timedelta(days=rnd.randrange(1, 40)) if i % 3 == 0 else None
        add_consent(student, granted=granted, withdrawn=gone)
        given.append(granted)
        withdrawn += [gone] if gone else []
    for filters in (Filters(), Filters(date(2025, 12, 1), date(2026, 1, 1))):
        def by_month(moments, filters=filters):
            out: dict[str, int] = {}
            for m in moments:
                if _in(m, filters):
                    out[month_label(f"{m.year:04d}-{m.month:02d}")] = out.get(month_label(
                        f"{m.year:04d}-{m.month:02d}"), 0) + 1
            return out

        rows = dict(statistics.consents(filters).rows)
        g, w = by_month(given), by_month(withdrawn)
        months = sorted(set(g) | set(w), key=lambda label: datetime.strptime(label, "%b %Y"))
        assert list(rows) == months
        assert rows == {m: [g.get(m, 0), w.get(m, 0)] for m in months}

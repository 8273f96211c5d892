"""Statistics from aggregate queries: exact counts for staff, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shared.statistics import queries as statistics
from shared.statistics.differencing import DisclosureRisk, check_differencing
from shared.statistics.queries import Filters
from tests.factories_stats import add_cases, add_consent, add_disclosure, when

MARCH_TO_MAY = Filters(date(2026, 3, 1), date(2026, 5, 1))


def _table(report_cases, key):
    return {label: values for label, values in next(b for b in report_cases if b.key == key).rows}


def test_cases_are_counted_by_month_area_college_and_outcome(db):
    add_cases(3, opened=when(2026, 3), area="housing", college="trinity")
    add_cases(2, opened=when(2026, 4), area="appeals", college="girton", closed_after=timedelta(days=20),
              outcome="resolved")
    add_cases(4, opened=when(2026, 1), area="housing")  # outside the range
    tables = statistics.case_breakdowns(MARCH_TO_MAY)
    assert _table(tables, "opened_by_month") == {"Mar 2026": [3], "Apr 2026": [2], "May 2026": [0]}
    assert _table(tables, "closed_by_month") == {"Mar 2026": [0], "Apr 2026": [2], "May 2026": [0]}
    areas = _table(tables, "by_area")
    assert areas["Housing"] == [3] and areas["Academic appeals"] == [2] and areas["Exams and assessment"] == [0]
    colleges = _table(tables, "by_college")
    assert colleges["Trinity"] == [0, 3] and colleges["Girton"] == [2, 0]  # academic, welfare
    assert _table(tables, "by_outcome")["Resolved in the student's favour"] == [2]


def test_area_filter_narrows_every_case_table(db):
    add_cases(3, opened=when(2026, 3), area="housing")
    add_cases(2, opened=when(2026, 3), area="appeals")
    tables = statistics.case_breakdowns(Filters(date(2026, 3, 1), date(2026, 3, 1), "appeals"))
    assert _table(tables, "opened_by_month") == {"Mar 2026": [2]}


def test_median_time_to_first_response_and_closure(db):
    for days in (1, 2, 10):
        add_cases(1, opened=when(2026, 3), responded_after=timedelta(days=days))
    add_cases(1, opened=when(2026, 3), closed_after=timedelta(days=4))
    add_cases(1, opened=when(2026, 3), closed_after=timedelta(days=8))
    times = statistics.response_times(MARCH_TO_MAY)
    assert times["first_response"].cases == 3
    assert times["first_response"].median_days == pytest.approx(2)
    assert times["first_response"].mean_days == pytest.approx(13 / 3)
    assert times["closure"].median_days == pytest.approx(6)  # even count: the middle two averaged


def test_open_cases_by_age_and_workload_per_officer(db, officer):
    now = when(2026, 6, 15)
    add_cases(2, opened=now - timedelta(days=5), officer=officer)
    add_cases(1, opened=now - timedelta(days=100))
    add_cases(1, opened=now - timedelta(days=400), closed_after=timedelta(days=1))  # closed: not open
    ages = {label: v for label, v in statistics.open_cases_by_age(Filters(), now).rows}
    assert ages["Under 1 month"] == [2] and ages["3 to 6 months"] == [1] and ages["Over 12 months"] == [0]
    load = {label: v for label, v in statistics.workload(Filters()).rows}
    assert load[officer.name] == [2, 0] and load["Not assigned"] == [1, 1]


def test_consents_and_disclosures_by_basis(db, officer):
    from tests.factories_stats import student_with_profile

    student = student_with_profile()
    consent = add_consent(student, granted=when(2026, 3), withdrawn=when(2026, 4))
    add_consent(student, granted=when(2026, 4))
    add_disclosure(student, officer, at=when(2026, 3, 20), consent=consent)
    add_disclosure(student, officer, at=when(2026, 4, 2), ground="safety")
    consents = {label: v for label, v in statistics.consents(MARCH_TO_MAY).rows}
    assert consents == {"Mar 2026": [1, 0], "Apr 2026": [1, 1]}
    basis = {label: v for label, v in statistics.disclosures_by_basis(MARCH_TO_MAY).rows}
    assert basis["Consent of the student"] == [1]
    assert basis["Breach: serious and imminent risk to safety"] == [1]
    assert basis["Breach: required by law (terrorism)"] == [0]


# --- differencing ----------------------------------------------------------------------------------


def test_a_period_whose_edge_month_has_few_cases_is_refused(db):
    add_cases(12, opened=when(2026, 3))
    add_cases(12, opened=when(2026, 4))
    add_cases(2, opened=when(2026, 5))
    check_differencing(Filters(date(2026, 3, 1), date(2026, 4, 1)), 10)  # fine
    with pytest.raises(DisclosureRisk, match="May 2026"):
        check_differencing(MARCH_TO_MAY, 10)


def test_an_area_whose_complement_is_small_is_refused(db):
    add_cases(20, opened=when(2026, 3), area="housing")
    add_cases(3, opened=when(2026, 3), area="appeals")
    with pytest.raises(DisclosureRisk, match="other areas"):
        check_differencing(Filters(date(2026, 3, 1), date(2026, 3, 1), "housing"), 10)
    with pytest.raises(DisclosureRisk, match="Fewer than 10"):
        check_differencing(Filters(date(2026, 3, 1), date(2026, 3, 1), "appeals"), 10)


def test_access_requests_are_counted_by_deadline_met_late_or_open(db, student):
    from tests.factories_access import make_request

    on_time = make_request(student, received_at=when(2026, 3))
    on_time.released_at = when(2026, 3) + timedelta(days=10)
    late = make_request(student, received_at=when(2026, 3))
    late.released_at = when(2026, 3) + timedelta(days=60)
    make_request(student, received_at=when(2026, 4))
    refused = make_request(student, received_at=when(2026, 4))
    refused.refused_at = when(2026, 4) + timedelta(days=3)
    make_request(student, received_at=when(2026, 1))  # outside the range
    db.session.commit()
    table = dict(statistics.access_requests(MARCH_TO_MAY).rows)
    assert table == {"Mar 2026": [1, 1, 0], "Apr 2026": [1, 0, 1]}

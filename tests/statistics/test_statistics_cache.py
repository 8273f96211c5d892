"""Each worker keeps a computed statistics page for STATS_CACHE_SECONDS (shared/statistics/queries.py): a change
written through the worker shows at once, one made underneath it (another worker) within those seconds,
and the publishable report is always computed afresh."""

from __future__ import annotations

import re

from sqlalchemy import update

from shared.casework import reference_data
from shared.models import Case
from tests.factories_stats import add_cases, student_with_profile, when

MARCH = "/staff/statistics?first_month=2026-03&last_month=2026-03&area="


def _opened_in_march(html: str) -> int:
    """The 'Cases opened, by month' row for March 2026 on the page."""
    section = html[html.index("Cases opened, by month"):]
    return int(re.search(r"Mar 2026</t[hd]>\s*<td[^>]*>\s*(\d+)", section).group(1))


def test_cases_added_through_this_worker_show_at_once(officer_browser, db):
    student = student_with_profile()
    add_cases(12, student=student, opened=when(2026, 3))
    assert _opened_in_march(officer_browser.get(MARCH).get_data(as_text=True)) == 12
    add_cases(3, student=student, opened=when(2026, 3))  # a bulk insert through the session
    assert _opened_in_march(officer_browser.get(MARCH).get_data(as_text=True)) == 15


def test_a_change_made_elsewhere_shows_within_the_cache_time(app, officer_browser, db, monkeypatch):
    clock = [reference_data.time.monotonic()]
    monkeypatch.setattr(reference_data.time, "monotonic", lambda: clock[0])
    student = student_with_profile()
    add_cases(12, student=student, opened=when(2026, 3))
    assert _opened_in_march(officer_browser.get(MARCH).get_data(as_text=True)) == 12
    with db.engine.begin() as conn:  # underneath the worker's session, as another worker would
        conn.execute(update(Case.__table__).where(Case.id == db.session.scalar(Case.__table__.select()
                     .with_only_columns(Case.id).limit(1))).values(opened_at=when(2026, 4)))
    assert _opened_in_march(officer_browser.get(MARCH).get_data(as_text=True)) == 12  # the worker's copy
    clock[0] += app.config["STATS_CACHE_SECONDS"] + 1
    assert _opened_in_march(officer_browser.get(MARCH).get_data(as_text=True)) == 11


def test_each_set_of_filters_has_its_own_copy(officer_browser, db):
    student = student_with_profile()
    add_cases(12, student=student, opened=when(2026, 3), area="housing")
    add_cases(2, student=student, opened=when(2026, 3), area="exams")
    assert _opened_in_march(officer_browser.get(MARCH).get_data(as_text=True)) == 14
    assert _opened_in_march(officer_browser.get(MARCH.replace("area=", "area=exams")).get_data(as_text=True)) == 2

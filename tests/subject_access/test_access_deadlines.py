"""The ICO's clock: one calendar month from receipt (the last day of the month when the date does not
exist), paused while the service waits, extendable by up to two months within the first month."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.subject_access.deadlines import (
    add_months,
    days_left,
    due_date,
    first_month_ends,
    may_extend,
    one_month_after,
    paused_days,
)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@pytest.mark.parametrize("received, due", [
    (date(2026, 9, 3), date(2026, 10, 3)),  # the ICO's own example
    (date(2026, 1, 31), date(2026, 2, 28)),
    (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
    (date(2026, 1, 29), date(2026, 2, 28)),
    (date(2028, 1, 29), date(2028, 2, 29)),
    (date(2026, 1, 28), date(2026, 2, 28)),
    (date(2026, 3, 31), date(2026, 4, 30)),
    (date(2026, 8, 31), date(2026, 9, 30)),
    (date(2026, 10, 31), date(2026, 11, 30)),
    (date(2026, 12, 31), date(2027, 1, 31)),  # across the year
    (date(2026, 12, 15), date(2027, 1, 15)),
    (date(2026, 2, 28), date(2026, 3, 28)),  # not the end of March: the same date
    (date(2028, 2, 29), date(2028, 3, 29)),
    (date(2026, 4, 30), date(2026, 5, 30)),
])
def test_one_calendar_month_from_receipt(received, due):
    assert one_month_after(received) == due


@pytest.mark.parametrize("received, months, due", [
    (date(2026, 1, 31), 3, date(2026, 4, 30)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2027, 11, 30), 3, date(2028, 2, 29)),
    (date(2026, 10, 31), 2, date(2026, 12, 31)),
])
def test_extended_deadlines_count_calendar_months_from_receipt(received, months, due):
    assert due_date(received, (), months - 1, today=received) == due


@given(days, st.integers(min_value=0, max_value=36))
def test_add_months_lands_in_the_right_month_on_the_same_day_or_the_months_last(start, months):
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last)


@given(days, days)
def test_a_later_receipt_is_never_due_earlier(a, b):
    first, second = sorted((a, b))
    assert one_month_after(first) <= one_month_after(second)


@given(days, st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30)), max_size=4), st.integers(0, 2))
def test_pauses_move_the_due_date_by_their_length(received, spans, extension):
    pauses, cursor = [], received
    for gap, length in spans:
        start = cursor + timedelta(days=gap)
        pauses.append((start, start + timedelta(days=length)))
        cursor = start + timedelta(days=length)
    total = sum(length for _gap, length in spans)
    assert paused_days(pauses, cursor) == total
    assert due_date(received, pauses, extension, today=cursor) == add_months(received, 1 + extension) + timedelta(days=total)


def test_an_open_pause_keeps_moving_the_due_date_until_the_clock_restarts():
    received = date(2026, 1, 31)
    pauses = [(date(2026, 2, 10), None)]
    assert due_date(received, pauses, today=date(2026, 2, 10)) == date(2026, 2, 28)
    assert due_date(received, pauses, today=date(2026, 2, 20)) == date(2026, 3, 10)
    assert due_date(received, [(date(2026, 2, 10), date(2026, 2, 20))], today=date(2026, 6, 1)) == date(2026, 3, 10)


def test_extension_is_at_most_two_months_and_only_within_the_first_month():
    received = date(2026, 1, 31)
    assert first_month_ends(received, (), today=received) == date(2026, 2, 28)
    assert may_extend(received, (), 0, 2, date(2026, 2, 28))
    assert not may_extend(received, (), 0, 2, date(2026, 3, 1))
    assert not may_extend(received, (), 0, 3, date(2026, 2, 1))
    assert may_extend(received, (), 1, 1, date(2026, 2, 1))
    assert not may_extend(received, (), 2, 1, date(2026, 2, 1))
    assert not may_extend(received, (), 0, 0, date(2026, 2, 1))
    # a pause within the first month lengthens it, so an extension is still possible later
    assert may_extend(received, [(date(2026, 2, 1), date(2026, 2, 8))], 0, 1, date(2026, 3, 7))
    with pytest.raises(ValueError):
        due_date(received, (), 3, today=received)


def test_days_left_counts_down_and_goes_negative_when_overdue():
    assert days_left(date(2026, 3, 1), date(2026, 2, 27)) == 2
    assert days_left(date(2026, 3, 1), date(2026, 3, 1)) == 0
    assert days_left(date(2026, 3, 1), date(2026, 3, 4)) == -3

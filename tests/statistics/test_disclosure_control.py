"""Statistical disclosure control: no published figure lets anyone identify a student or a case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.statistics.disclosure_control import (
    PRIMARY,
    SECONDARY,
    SMALL_GROUP,
    Policy,
    average,
    month_of,
    percentage,
    protect,
    round_count,
)

POLICY = Policy()


# --- rounding, percentages, averages, months --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(0, 0), (1, 0), (2, 0), (3, 5), (5, 5), (7, 5), (8, 10), (12, 10), (13, 15), (2.5, 5), (7.5, 10), (101, 100)],
)
def test_counts_round_to_the_nearest_five_with_halves_up(raw, shown):
    assert round_count(raw) == shown


def test_threshold_is_configurable_but_never_below_five():
    assert Policy(threshold=5).threshold == 5
    assert Policy(threshold=20).threshold == 20
    with pytest.raises(ValueError, match="at least 5"):
        Policy(threshold=4)


def test_percentages_of_small_denominators_are_suppressed():
    assert percentage(5, 22, POLICY) is None
    assert percentage(5, 23, POLICY) == 22
    assert percentage(11, 40, POLICY) == 28  # 27.5 rounds up
    assert percentage(12, 40, POLICY, numerator_suppressed=True) is None


def test_averages_over_seven_or_fewer_cases_are_suppressed():
    assert average(4.26, 7, POLICY) is None
    assert average(4.26, 8, POLICY) == 4.3
    assert average(None, 100, POLICY) is None


def test_time_is_never_finer_than_a_month():
    assert month_of(datetime(2026, 3, 17, 14, 5, tzinfo=UTC)) == "2026-03"


# --- crafted tables ---------------------------------------------------------------------------------


def test_a_small_count_is_suppressed_and_so_is_a_partner_so_the_total_cannot_give_it_back():
    # one column: colleges; one college had 3 cases, the total would give it back.
    table = protect([[3], [40], [52], [18]], POLICY)
    assert table.suppressed[(0, 0)] == PRIMARY
    assert table.suppressed[(3, 0)] == SECONDARY  # the smallest other cell
    assert table.cell(1, 0) == 40 and table.cell(2, 0) == 50
    assert table.grand_total() == 115  # 113 rounded on its own


def test_a_group_with_one_case_hides_its_zeros_too():
    # rows: colleges; columns: academic, welfare. The first college had 1 case, about welfare.
    table = protect([[0, 1], [20, 15], [30, 25], [12, 14]], POLICY)
    for pos in [(0, 0), (0, 1), (0, 2)]:
        assert pos in table.suppressed, pos
    assert table.suppressed[(0, 0)] == SMALL_GROUP
    # neither column lets the cell be worked out from the column total
    assert sum(1 for i in range(4) if (i, 0) in table.suppressed) >= 2
    assert sum(1 for i in range(4) if (i, 1) in table.suppressed) >= 2


def test_published_cells_are_rounded_and_totals_are_rounded_from_unrounded_data():
    table = protect([[11, 12], [13, 14]], POLICY)
    assert not table.suppressed
    assert [table.cell(0, 0), table.cell(0, 1), table.cell(1, 0), table.cell(1, 1)] == [10, 10, 15, 15]
    assert table.row_total(0) == 25  # 23 -> 25, not 10 + 10
    assert table.grand_total() == 50


def test_zeros_in_large_groups_are_published():
    table = protect([[0], [25], [30]], POLICY)
    assert table.cell(0, 0) == 0
    assert not table.suppressed


# --- properties -------------------------------------------------------------------------------------


def _alternative_exists(table, target) -> bool:
    """The attacker: knows every published cell's exact (unrounded!) value and every total relation;
    searches for another non-negative table that differs in `target` (a zero: that is larger).
    A change that keeps every equation true can always be made of steps of one, so each hidden cell is
    searched within one of its true value."""
    hidden = sorted(table.suppressed)
    lines = table.lines()
    domains = {}
    for pos in hidden:
        v = table.raw[pos]
        domains[pos] = [x for x in (v, v - 1, v + 1) if x >= 0]
    raw_target = table.raw[target]
    domains[target] = [x for x in (raw_target - 1, raw_target + 1) if x >= 0]
    line_members = [([*cells], total) for cells, total in lines]

    def consistent(assign):
        for cells, total in line_members:
            members = [*cells, total]
            if any(p in table.suppressed and p not in assign for p in members):
                continue
            value = lambda p: assign[p] if p in assign else table.raw[p]  # noqa: E731
            if sum(value(p) for p in cells) != value(total):
                return False
        return True

    order = [target] + [p for p in hidden if p != target]

    def search(k, assign):
        if k == len(order):
            return True
        pos = order[k]
        for x in domains[pos]:
            assign[pos] = x
            if consistent(assign) and search(k + 1, assign):
                return True
            del assign[pos]
        return False

    return search(0, {})


tables = st.integers(min_value=1, max_value=4).flatmap(
    lambda rows: st.integers(min_value=1, max_value=4).flatmap(
        lambda cols: st.lists(
            st.lists(
                st.one_of(st.integers(0, 12), st.integers(0, 60)), min_size=cols, max_size=cols
            ),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=tables, threshold=st.integers(5, 12))
def test_no_published_cell_is_ever_below_the_threshold(counts, threshold):
    policy = Policy(threshold=threshold)
    table = protect(counts, policy)
    for pos, raw in table.raw.items():
        if 0 < raw < threshold:
            assert pos in table.suppressed
            assert table.published(pos) is None
        if pos not in table.suppressed:
            assert table.published(pos) == round_count(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=tables, threshold=st.integers(5, 12))
def test_no_suppressed_cell_can_be_recovered_from_the_totals(counts, threshold):
    table = protect(counts, Policy(threshold=threshold))
    for cells, total in table.lines():
        hidden = [p for p in (*cells, total) if p in table.suppressed]
        assert len(hidden) != 1, "a line with one hidden cell gives it back"
    for pos in table.suppressed:
        assert _alternative_exists(table, pos), f"{pos} can be worked out from {counts}"


@settings(max_examples=200, deadline=None)
@given(counts=tables)
def test_zeros_in_a_small_group_are_never_shown(counts):
    table = protect(counts, POLICY)
    for cells, total in table.lines():
        if 0 < table.raw[total] < POLICY.threshold:
            assert all(p in table.suppressed for p in cells)


def test_secondary_suppression_prefers_the_smallest_inner_cell():
    table = protect([[4, 50, 11, 30], [20, 20, 20, 20], [20, 20, 20, 20]], POLICY)
    assert table.suppressed[(0, 0)] == PRIMARY
    assert table.suppressed[(0, 2)] == SECONDARY


def test_two_hidden_cells_per_line_is_not_enough_on_its_own():
    # [[0, 0], [3, 39]]: with 3 and its partners hidden two to a line, the zeros of the first row
    # and the non-negativity of counts would still pin the 3. The exact check hides more.
    table = protect([[0, 0], [3, 39]], POLICY)
    for pos in table.suppressed:
        assert _alternative_exists(table, pos), pos

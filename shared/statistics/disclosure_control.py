"""Statistical disclosure control: what may leave the service as published statistics.

Pure functions over tables of counts; nothing here touches the database. The rules:

- Primary suppression: a count from 1 to threshold-1 is never published (threshold 10 by default,
  configurable, never below 5).
- Zeros: a zero is published only where it cannot reveal anything. In a row or column whose total is
  itself below the threshold (a small group, such as a college with one case), every cell is suppressed,
  zeros included, so that the position of the zeros does not show where the few people are.
- Secondary suppression: a table is published with its row and column totals, and every total line
  (row, column, the totals row and the totals column) is an equation. A suppressed cell must never be
  recoverable from the published cells and totals, even by someone who knew the published counts exactly
  before rounding. So, first, no line may contain exactly one suppressed cell; then each suppressed cell
  is checked exactly (see `_movable`): there must be another table of non-negative counts, equal in every
  published cell, in which that cell has another value (for a suppressed zero: a larger value). More
  cells are suppressed until that holds.
- Rounding: every published count is rounded to the nearest 5 (HESA: 0, 1 and 2 show as 0, halves round
  up). Totals are computed from the unrounded counts and rounded on their own, so they may not add up.
- Percentages are suppressed when the denominator is below 22.5 (or the numerator is suppressed);
  averages and medians over 7 or fewer cases are suppressed.
- Time is never finer than a month (`month_of`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

MINIMUM_THRESHOLD = 5
DEFAULT_THRESHOLD = 10
SUPPRESSED_MARK = "[c]"  # ONS style: "confidential"

PRIMARY = "primary"  # a small count
SMALL_GROUP = "small group"  # a zero (or any cell) in a row or column whose total is small
SECONDARY = "secondary"  # suppressed so that another suppressed cell cannot be worked out


@dataclass(frozen=True)
class Policy:
    """The disclosure-control settings. `threshold` below 5 is refused."""

    threshold: int = DEFAULT_THRESHOLD
    rounding_base: int = 5
    min_percentage_denominator: Decimal = Decimal("22.5")
    max_cases_for_hidden_average: int = 7  # averages over this many cases or fewer are suppressed

    def __post_init__(self):
        if not isinstance(self.threshold, int) or self.threshold < MINIMUM_THRESHOLD:
            raise ValueError(f"the suppression threshold must be a whole number of at least {MINIMUM_THRESHOLD}")
        if self.rounding_base < 1:
            raise ValueError("the rounding base must be at least 1")

    def methods_note(self) -> str:
        return (
            f"Counts from 1 to {self.threshold - 1} are not shown ({SUPPRESSED_MARK}), nor are other cells "
            "from which such a count could be worked out, including zeros in small groups. All other counts "
            f"are rounded to the nearest {self.rounding_base} (0, 1 and 2 show as 0); totals are calculated "
            "from unrounded figures and rounded separately, so they may not equal the sum of their parts. "
            f"Percentages of fewer than {self.min_percentage_denominator} cases and averages or medians of "
            f"{self.max_cases_for_hidden_average} or fewer cases are not shown. Dates are given by calendar "
            "month (UTC)."
        )


def round_count(value: int | float | Decimal, base: int = 5) -> int:
    """Round to the nearest `base`, halves up (HESA): with base 5, 0-2 -> 0, 3-7 -> 5, 8-12 -> 10."""
    if value < 0:
        raise ValueError("counts are never negative")
    quotient = (Decimal(str(value)) / base).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(quotient) * base


def percentage(numerator: int, denominator: int, policy: Policy, *, numerator_suppressed: bool = False) -> int | None:
    """A whole-number percentage from unrounded counts, or None when it must not be published."""
    if numerator_suppressed or denominator < policy.min_percentage_denominator or denominator <= 0:
        return None
    return int((Decimal(100 * numerator) / denominator).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def average(value: float | None, cases: int, policy: Policy) -> float | None:
    """An average or median may be published only if it is over more than 7 cases (rounded to 0.1)."""
    if value is None or cases <= policy.max_cases_for_hidden_average:
        return None
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def month_of(moment: date | datetime) -> str:
    """Time is never published finer than a calendar month."""
    return f"{moment.year:04d}-{moment.month:02d}"


# --- tables -------------------------------------------------------------------------------------------

Position = tuple[int, int]


@dataclass
class ProtectedTable:
    """A table after disclosure control, in the extended grid: interior cells plus any totals.

    `rows` x `cols` are the interior dimensions. Totals exist along an axis when it has more than one
    entry: `has_row_totals` (a total column at index `cols`) when there is more than one column, and
    `has_col_totals` (a totals row at index `rows`) when there is more than one row.
    """

    rows: int
    cols: int
    has_row_totals: bool
    has_col_totals: bool
    raw: dict[Position, int]
    suppressed: dict[Position, str] = field(default_factory=dict)
    rounding_base: int = 5

    def published(self, pos: Position) -> int | None:
        """The value that may be written out: None if suppressed, else the rounded count."""
        if pos in self.suppressed:
            return None
        return round_count(self.raw[pos], self.rounding_base)

    @property
    def total_col(self) -> int | None:
        return self.cols if self.has_row_totals else None

    @property
    def total_row(self) -> int | None:
        return self.rows if self.has_col_totals else None

    def cell(self, i: int, j: int) -> int | None:
        return self.published((i, j))

    def row_total(self, i: int) -> int | None:
        return self.published((i, self.cols)) if self.has_row_totals else None

    def col_total(self, j: int) -> int | None:
        return self.published((self.rows, j)) if self.has_col_totals else None

    def grand_total(self) -> int | None:
        if self.has_row_totals and self.has_col_totals:
            return self.published((self.rows, self.cols))
        if self.has_col_totals:
            return self.published((self.rows, 0))
        if self.has_row_totals:
            return self.published((0, self.cols))
        return self.published((0, 0)) if self.rows and self.cols else None

    # the structure the checks share
    def is_margin(self, pos: Position) -> bool:
        i, j = pos
        return (self.has_row_totals and j == self.cols) or (self.has_col_totals and i == self.rows)

    def is_grand(self, pos: Position) -> bool:
        i, j = pos
        return self.has_row_totals and self.has_col_totals and i == self.rows and j == self.cols

    def lines(self) -> list[tuple[list[Position], Position]]:
        """Each additive relation as (cells, total cell): the cells add up to the total."""
        n_rows = self.rows + (1 if self.has_col_totals else 0)
        n_cols = self.cols + (1 if self.has_row_totals else 0)
        out = []
        if self.has_row_totals:
            for i in range(n_rows):
                out.append(([(i, j) for j in range(self.cols)], (i, self.cols)))
        if self.has_col_totals:
            for j in range(n_cols):
                out.append(([(i, j) for i in range(self.rows)], (self.rows, j)))
        return out


def protect(counts: Sequence[Sequence[int]], policy: Policy) -> ProtectedTable:
    """Apply primary, small-group and secondary suppression to a table of counts (rows of columns)."""
    rows = len(counts)
    cols = len(counts[0]) if rows else 0
    if any(len(r) != cols for r in counts):
        raise ValueError("every row must have the same number of columns")
    if any(int(v) != v or v < 0 for r in counts for v in r):
        raise ValueError("counts must be non-negative whole numbers")
    table = ProtectedTable(rows, cols, has_row_totals=cols > 1, has_col_totals=rows > 1, raw={},
                           rounding_base=policy.rounding_base)
    for i in range(rows):
        for j in range(cols):
            table.raw[(i, j)] = int(counts[i][j])
    for i in range(rows):
        if table.has_row_totals:
            table.raw[(i, cols)] = sum(table.raw[(i, j)] for j in range(cols))
    if table.has_col_totals:
        for j in range(cols + (1 if table.has_row_totals else 0)):
            table.raw[(rows, j)] = sum(table.raw[(i, j)] for i in range(rows))
    if not table.raw:
        return table

    t = policy.threshold
    for pos, value in table.raw.items():
        if 0 < value < t:
            table.suppressed[pos] = PRIMARY
    # A small group: a line whose total is small shows nothing, zeros included.
    for cells, total in table.lines():
        if table.suppressed.get(total) == PRIMARY:
            for pos in cells:
                table.suppressed.setdefault(pos, SMALL_GROUP)
    _secondary(table)
    return table


def _partner_key(table: ProtectedTable, pos: Position):
    value = table.raw[pos]
    return (table.is_grand(pos), table.is_margin(pos), value == 0, value, pos)


def _secondary(table: ProtectedTable) -> None:
    lines = table.lines()
    while True:
        added = False
        for cells, total in lines:
            members = [*cells, total]
            hidden = [p for p in members if p in table.suppressed]
            if len(hidden) == 1:
                candidates = [p for p in members if p not in table.suppressed]
                table.suppressed[min(candidates, key=lambda p: _partner_key(table, p))] = SECONDARY
                added = True
        if added:
            continue
        pinned = [p for p in sorted(table.suppressed) if not _movable(table, p)]
        if not pinned:
            return
        target = pinned[0]
        near = [p for cells, total in lines if target in (*cells, total) for p in (*cells, total)]
        candidates = [p for p in near if p not in table.suppressed] or [
            p for p in table.raw if p not in table.suppressed
        ]
        if not candidates:
            return  # everything is suppressed already
        table.suppressed[min(candidates, key=lambda p: _partner_key(table, p))] = SECONDARY


def _endpoints(table: ProtectedTable, pos: Position) -> tuple[object, object]:
    i, j = pos
    left = ("r", i) if table.has_row_totals else "free"
    right = ("c", j) if table.has_col_totals else "free"
    return left, right


def _directions(table: ProtectedTable, pos: Position) -> list[tuple[object, object]]:
    """The ways a suppressed cell may change without going below zero, as directed edges.

    With h = g for inner cells and the grand total and h = -g for the other totals, every line sums to
    zero, so a change that keeps every line true is a circulation on the graph whose nodes are the lines
    (a 'free' node stands for a missing line) and whose edges are the suppressed cells; left-to-right
    means h grows. A zero may only grow.
    """
    left, right = _endpoints(table, pos)
    if table.raw[pos] > 0:
        return [(left, right), (right, left)]
    grows_left_to_right = not table.is_margin(pos) or table.is_grand(pos)
    return [(left, right)] if grows_left_to_right else [(right, left)]


def _movable(table: ProtectedTable, pos: Position) -> bool:
    """True if another non-negative table with the same published cells gives this cell another value.

    By conformal decomposition, such a table exists iff a directed cycle through this cell exists in the
    graph of the other suppressed cells, each used only in a direction it may move.
    """
    graph: dict[object, list[object]] = {}
    for other in table.suppressed:
        if other == pos:
            continue
        for a, b in _directions(table, other):
            graph.setdefault(a, []).append(b)
    for a, b in _directions(table, pos):
        if a == b:
            return True
        seen, queue = {b}, deque([b])
        while queue:
            node = queue.popleft()
            if node == a:
                return True
            for nxt in graph.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return False

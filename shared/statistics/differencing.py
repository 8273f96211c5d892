"""The differencing check for publishable reports: two reports whose ranges or areas differ by only a few
cases could be compared to reveal those cases, so such filters are refused before anything is published
(the suppression and rounding of each table is disclosure_control's)."""

from __future__ import annotations

from shared.models import Case
from shared.platform.errors import ServiceError
from shared.statistics.queries import Filters, area_choices, month_label, monthly_counts


class DisclosureRisk(ServiceError):
    """These filters would let two published reports be compared to reveal a small group."""

    message = "These filters cannot be used for a publishable report."


def check_differencing(filters: Filters, threshold: int) -> None:
    """Refuse filters whose published tables could be compared with another report to reveal a small group.

    Two reports differ by whole months at the edges of their ranges, or by the cases outside the chosen
    area. So, for cases opened and cases closed: the range must hold at least `threshold` cases; its
    first and last months that have any cases must each hold at least `threshold` (then every leading or
    trailing run of months does); and the cases in the range outside the chosen area must be none or at
    least `threshold`.
    """
    area_label = dict(area_choices()).get(filters.area_code, filters.area_code)
    for column, verb in ((Case.opened_at, "opened"), (Case.closed_at, "closed")):
        monthly = monthly_counts(column, filters)
        months = sorted(m for m, n in monthly.items() if n)
        total = sum(monthly.values())
        what = f"cases {verb}" + (f" about {area_label}" if filters.area_code else "")
        if column is Case.opened_at and total < threshold:
            raise DisclosureRisk(
                f"Fewer than {threshold} {what} match these filters, so nothing could be published. "
                "Choose a longer period or all areas."
            )
        for edge in {months[0], months[-1]} if months else ():
            if monthly[edge] < threshold:
                raise DisclosureRisk(
                    f"Fewer than {threshold} {what} in {month_label(edge)}, at the edge of the period. Comparing "
                    "this report with one for a slightly different period could reveal those few cases. "
                    "Move the start or end of the period, or choose all areas."
                )
        if filters.area_code:
            everyone = sum(monthly_counts(column, Filters(filters.first_month, filters.last_month)).values())
            rest = everyone - total
            if 0 < rest < threshold:
                raise DisclosureRisk(
                    f"Fewer than {threshold} cases {verb} in this period were about other areas. Comparing this "
                    "report with one for all areas could reveal those few cases. Choose all areas, or another period."
                )

"""The ICO's clock for a subject access request, as pure functions of dates (no database, no app).

- One calendar month from the day of receipt: the same date next month, or, when that date does not
  exist (31 January -> February), the last day of that month.
- The clock stops while the service waits for clarification or proof of identity: each pause moves the
  due date on by its length in days. A pause still open counts up to `today`.
- A complex request may be extended by up to two further months (so up to three calendar months from
  receipt), with a recorded reason, and only while the first month (as moved by pauses) is still running:
  the student must be told within it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from shared.platform import clock

MAX_EXTENSION_MONTHS = 2
SERVICE_TZ = clock.SERVICE_TZ

Pause = tuple[date, date | None]  # (started_on, ended_on or None while still paused)


add_months = clock.add_months


def one_month_after(received_on: date) -> date:
    return add_months(received_on, 1)


def paused_days(pauses: Iterable[Pause], today: date) -> int:
    """Days the clock stood still. A pause ended the day it started costs nothing."""
    total = 0
    for started, ended in pauses:
        end = ended if ended is not None else max(today, started)
        total += max(0, (end - started).days)
    return total


def due_date(received_on: date, pauses: Iterable[Pause] = (), extension_months: int = 0, *, today: date | None = None) -> date:
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise ValueError("an extension is at most two further months")
    return add_months(received_on, 1 + extension_months) + timedelta(days=paused_days(pauses, today or service_today()))


def first_month_ends(received_on: date, pauses: Iterable[Pause] = (), *, today: date | None = None) -> date:
    """The last day on which an extension may be made and the student told of it."""
    return due_date(received_on, pauses, 0, today=today)


def may_extend(received_on: date, pauses: Iterable[Pause], already: int, more: int, on: date) -> bool:
    return 1 <= more and already + more <= MAX_EXTENSION_MONTHS and on <= first_month_ends(received_on, pauses, today=on)


def days_left(due_on: date, today: date) -> int:
    """Negative once overdue."""
    return (due_on - today).days


# The ICO's days are the service's days (shared.platform.clock).
service_date = clock.service_date
service_today = clock.today

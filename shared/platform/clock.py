"""The service's one clock: its time zone, "today", and every way a day or a moment is written.

Times are stored in UTC; people read them on the service's own clock (the UK's, with its summer time),
and the ICO's days for a subject access request are the same days. Every module that shows or counts
days takes them from here, so that a list, a PDF, an email and a deadline never disagree.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

SERVICE_TZ = ZoneInfo("Europe/London")


def local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(SERVICE_TZ) if moment else None


def service_date(moment: datetime) -> date:
    """The calendar date, on the service's clock, of an aware moment."""
    return moment.astimezone(SERVICE_TZ).date()


def today() -> date:
    return service_date(datetime.now(UTC))


def add_months(start: date, months: int) -> date:
    """The same date `months` later; the last day of that month when the date does not exist."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def local_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SERVICE_TZ).astimezone(UTC)


def format_day(day: date | datetime) -> str:
    """A day in words, as letters and records give it: "4 December 2026"."""
    if isinstance(day, datetime):
        day = service_date(day)
    return f"{day.day} {day:%B %Y}"


def format_moment(moment: datetime) -> str:
    """A moment in words: "4 December 2026 at 14:05"."""
    at = moment.astimezone(SERVICE_TZ)
    return f"{at.day} {at:%B %Y} at {at:%H:%M}"


def short_day(value: date | datetime | None) -> str:
    """A day as lists and tables show it: "07 Mar 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = service_date(value)
    return value.strftime("%d %b %Y")

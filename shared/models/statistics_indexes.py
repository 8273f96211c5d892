"""Indexes that let the statistics' GROUP BY queries read an index instead of the cases table.

Without a date range, each breakdown reads its own (column, date) index in order; with a date range, the
two wide covering indexes are scanned over the range instead. The table itself (with its encrypted text)
is never read. Declared here rather than in casework.py so the statistics own them.

The two duration indexes hold the days from opening to first response (and to closure) as an expression,
in order: the median is read by walking the index to its middle, and the mean sums stored values, instead
of computing the difference for every case and sorting them all. `DaysBetween` is the one expression that
both the indexes and the queries use, so that the database can match them (SQLite and PostgreSQL match an
expression index only on the same expression).
"""

from sqlalchemy import Float, Index, text
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from shared.models.casework import Case
from shared.models.consent import Consent


class DaysBetween(FunctionElement):
    """Elapsed days (fractional) from `start` to `end`, computed by the database: julianday on SQLite,
    the epoch seconds of the interval / 86400 on PostgreSQL (double precision, as before)."""

    type = Float()
    name = "days_between"
    inherit_cache = True


@compiles(DaysBetween)
def _days_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


@compiles(DaysBetween, "postgresql")
def _days_postgresql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(epoch FROM {end} - {start}) / CAST(86400.0 AS FLOAT))"


def _sqlite_from_hint(self, table, text):
    """SQLAlchemy's SQLite dialect ignores `Select.with_hint`; render it after the table name, so that
    `with_hint(Case, "INDEXED BY ix", "sqlite")` works. Only the statistics use it (see `duration`)."""
    return text


SQLiteCompiler.get_from_hint_text = _sqlite_from_hint

FIRST_RESPONSE_DAYS = DaysBetween(Case.opened_at, Case.first_response_at)
CLOSURE_DAYS = DaysBetween(Case.opened_at, Case.closed_at)
_RESPONDED = text("first_response_at IS NOT NULL")
_CLOSED = text("closed_at IS NOT NULL")

STATISTICS_INDEXES = (
    Index("ix_cases_college_area_opened", Case.college_code, Case.area_code, Case.opened_at),
    Index("ix_cases_faculty_opened", Case.faculty, Case.opened_at),
    Index("ix_cases_year_opened", Case.year_of_study, Case.opened_at),
    Index("ix_cases_contact_opened", Case.contact_method, Case.opened_at),
    Index("ix_cases_outcome_closed", Case.outcome_code, Case.closed_at),
    # a date range: one covering range scan serves every breakdown of the cases opened (or closed) in it
    Index("ix_cases_opened_cover", Case.opened_at, Case.first_response_at, Case.area_code, Case.college_code,
          Case.faculty, Case.year_of_study, Case.contact_method),
    Index("ix_cases_closed_cover", Case.closed_at, Case.opened_at, Case.area_code, Case.outcome_code,
          Case.assigned_to_id),
    Index("ix_cases_assigned_closed", Case.assigned_to_id, Case.closed_at),
    # Durations in order, with the filters' columns (PostgreSQL also needs the other timestamp to read the
    # index alone).
    Index("ix_cases_first_response_days", FIRST_RESPONSE_DAYS, Case.opened_at, Case.area_code,
          sqlite_where=_RESPONDED, postgresql_where=_RESPONDED, postgresql_include=["first_response_at"]),
    Index("ix_cases_closure_days", CLOSURE_DAYS, Case.closed_at, Case.area_code,
          sqlite_where=_CLOSED, postgresql_where=_CLOSED, postgresql_include=["opened_at"]),
    # One area's cases closed in each month, and its open cases by age (closed_at IS NULL, opened_at range)
    Index("ix_cases_area_closed", Case.area_code, Case.closed_at, Case.opened_at),
    # Consents given and withdrawn in each month, counted over a range of the index
    Index("ix_consents_granted", Consent.granted_at),
    Index("ix_consents_withdrawn", Consent.withdrawn_at),
)

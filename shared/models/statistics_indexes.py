"""Indexes that let the statistics' GROUP BY queries read an index instead of the cases table.

Without a date range, each breakdown reads its own (column, date) index in order; with a date range, the
two wide covering indexes are scanned over the range instead. The table itself (with its encrypted text)
is never read. Declared here rather than in casework.py so the statistics own them.
"""

from sqlalchemy import Index

from shared.models.casework import Case

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
)

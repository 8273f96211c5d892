"""statistics at scale: the durations (to first response, to closure) in expression indexes, an area's
closed cases by closing time, and consents by the times given and withdrawn

Revision ID: 0009_stats_durations
Revises: 0008_open_cases
Create Date: 2026-11-29 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_stats_durations'
down_revision = '0008_open_cases'
branch_labels = None
depends_on = None

# The expression the queries use (shared.models.statistics_indexes.DaysBetween), written out per database:
# an expression index serves only a query with the same expression.
DAYS = {
    "sqlite": "(julianday({end}) - julianday({start}))",
    "postgresql": "(EXTRACT(epoch FROM {end} - {start}) / CAST(86400.0 AS FLOAT))",
}


def upgrade():
    days = DAYS[op.get_bind().dialect.name]
    for name, end, include in (("ix_cases_first_response_days", "first_response_at", "first_response_at"),
                               ("ix_cases_closure_days", "closed_at", "opened_at")):
        where = sa.text(f"{end} IS NOT NULL")
        key = "opened_at" if end == "first_response_at" else "closed_at"
        op.create_index(name, "cases", [sa.text(days.format(start="opened_at", end=end)), key, "area_code"],
                        unique=False, sqlite_where=where, postgresql_where=where, postgresql_include=[include])
    op.create_index('ix_cases_area_closed', 'cases', ['area_code', 'closed_at', 'opened_at'], unique=False)
    op.create_index('ix_consents_granted', 'consents', ['granted_at'], unique=False)
    op.create_index('ix_consents_withdrawn', 'consents', ['withdrawn_at'], unique=False)


def downgrade():
    op.drop_index('ix_consents_withdrawn', table_name='consents')
    op.drop_index('ix_consents_granted', table_name='consents')
    op.drop_index('ix_cases_area_closed', table_name='cases')
    op.drop_index('ix_cases_closure_days', table_name='cases')
    op.drop_index('ix_cases_first_response_days', table_name='cases')

"""case lists at scale: partial indexes for the dashboard's open cases; status and area, and opening time
with the id (a late page's ids from the index alone), for the list

Revision ID: 0008_open_cases
Revises: 0004_consent
Create Date: 2026-11-29 05:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_open_cases'
down_revision = '0004_consent'
branch_labels = None
depends_on = None

OPEN_CASE = sa.text("status != 'closed'")


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_open_officer_deadline', ['assigned_to_id', 'deadline', 'opened_at'],
                              unique=False, sqlite_where=OPEN_CASE, postgresql_where=OPEN_CASE)
        batch_op.create_index('ix_cases_status_area_opened', ['status', 'area_code', 'opened_at'], unique=False)
        batch_op.create_index('ix_cases_opened_id', ['opened_at', 'id'], unique=False)
        batch_op.drop_index('ix_cases_opened')
        batch_op.create_index('ix_cases_open_officer_opened', ['assigned_to_id', 'opened_at'],
                              unique=False, sqlite_where=OPEN_CASE, postgresql_where=OPEN_CASE)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_opened', ['opened_at'], unique=False)
        batch_op.drop_index('ix_cases_opened_id')
        batch_op.drop_index('ix_cases_status_area_opened')
        batch_op.drop_index('ix_cases_open_officer_opened')
        batch_op.drop_index('ix_cases_open_officer_deadline')

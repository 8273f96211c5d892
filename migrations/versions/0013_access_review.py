"""access requests: who reviewed the copy and when (release needs a review, and a second officer where
redactions were made); a request whose copy was discarded after the download period is 'expired'

Revision ID: 0013_access_review
Revises: 0012_breach_consultation
Create Date: 2026-12-03 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import shared.models.base


# revision identifiers, used by Alembic.
revision = '0013_access_review'
down_revision = '0012_breach_consultation'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reviewed_at', shared.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_access_requests_reviewed_by_id_staff'), 'staff',
                                    ['reviewed_by_id'], ['id'])
    # A released copy already deleted after its download period is now a state of its own.
    op.execute("UPDATE access_requests SET status = 'expired' "
               "WHERE status = 'released' AND pdf_path IS NULL AND ready_at IS NOT NULL")


def downgrade():
    op.execute("UPDATE access_requests SET status = 'released' WHERE status = 'expired'")
    op.execute("UPDATE access_requests SET status = 'received' WHERE status = 'reviewed'")
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_access_requests_reviewed_by_id_staff'), type_='foreignkey')
        batch_op.drop_column('reviewed_by_id')
        batch_op.drop_column('reviewed_at')

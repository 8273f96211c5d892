"""erasure requests: a note for staff only (what was kept without telling the student, and why)

Revision ID: 0011_erasure_staff_note
Revises: 0010_email_normal_form
Create Date: 2026-12-03 16:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_erasure_staff_note'
down_revision = '0010_email_normal_form'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('erasure_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_note_enc', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('erasure_requests', schema=None) as batch_op:
        batch_op.drop_column('staff_note_enc')

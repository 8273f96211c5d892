"""the outbox: every email is a row written in the same transaction as the work it tells of, delivered after
the commit and deleted once sent; a failed attempt is tried again later

Revision ID: 0019_outgoing_email
Revises: 0018_submission_keys
Create Date: 2026-12-04 02:00:00

"""
from alembic import op
import sqlalchemy as sa

import shared.models.base


# revision identifiers, used by Alembic.
revision = '0019_outgoing_email'
down_revision = '0018_submission_keys'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outgoing_emails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uid', sa.String(length=32), nullable=True),
        sa.Column('to_address', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body_enc', sa.Text(), nullable=False),
        sa.Column('created_at', shared.models.base.UTCDateTime(), nullable=False),
        sa.Column('next_attempt_at', shared.models.base.UTCDateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_at', shared.models.base.UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_emails')),
    )
    op.create_index('ix_outgoing_emails_due', 'outgoing_emails', ['next_attempt_at'], unique=False)


def downgrade():
    # Emails still waiting are lost with the table: run `flask --app wsgi send-mail` first.
    op.drop_index('ix_outgoing_emails_due', table_name='outgoing_emails')
    op.drop_table('outgoing_emails')

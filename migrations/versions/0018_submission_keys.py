"""submission keys: each form sent once, a repeat answered with the first outcome

Revision ID: 0018_submission_keys
Revises: 0017_conflicts
Create Date: 2026-12-04 02:40:00

"""
from alembic import op
import sqlalchemy as sa
import shared.models.base


# revision identifiers, used by Alembic.
revision = '0018_submission_keys'
down_revision = '0017_conflicts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('submission_keys',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('login_session_id', sa.Integer(), nullable=True),
    sa.Column('endpoint', sa.String(length=100), nullable=False),
    sa.Column('created_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['login_session_id'], ['login_sessions.id'], name=op.f('fk_submission_keys_login_session_id_login_sessions')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_submission_keys'))
    )
    with op.batch_alter_table('submission_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_keys_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_submission_keys_login_session_id'), ['login_session_id'], unique=False)



def downgrade():
    with op.batch_alter_table('submission_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_keys_login_session_id'))
        batch_op.drop_index(batch_op.f('ix_submission_keys_created_at'))

    op.drop_table('submission_keys')

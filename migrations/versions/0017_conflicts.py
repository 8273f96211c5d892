"""people involved in a case, possible conflicts between two students' cases and the decisions on them

Revision ID: 0017_conflicts
Revises: 0015_blob_store
Create Date: 2026-12-04 02:00:00

"""
from alembic import op
import sqlalchemy as sa
import shared.models.base


# revision identifiers, used by Alembic.
revision = '0017_conflicts'
down_revision = '0015_blob_store'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('people_involved',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=30), nullable=False),
    sa.Column('name_enc', sa.Text(), nullable=False),
    sa.Column('college_code', sa.String(length=60), nullable=True),
    sa.Column('organisation_enc', sa.Text(), nullable=True),
    sa.Column('email_enc', sa.Text(), nullable=True),
    sa.Column('email_key', sa.String(length=64), nullable=True),
    sa.Column('name_key', sa.String(length=64), nullable=True),
    sa.Column('added_by_student', sa.Boolean(), nullable=False),
    sa.Column('added_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('added_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_staff_id'], ['staff.id'], name=op.f('fk_people_involved_added_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_people_involved_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people_involved'))
    )
    with op.batch_alter_table('people_involved', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_involved_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_people_involved_email_key'), ['email_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_people_involved_name_key'), ['name_key'], unique=False)

    op.create_table('possible_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_a_id', sa.Integer(), nullable=False),
    sa.Column('case_b_id', sa.Integer(), nullable=False),
    sa.Column('matched_on', sa.String(length=20), nullable=False),
    sa.Column('found_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('decided_at', shared.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint('case_a_id < case_b_id', name=op.f('ck_possible_conflicts_conflict_pair_ordered')),
    sa.ForeignKeyConstraint(['case_a_id'], ['cases.id'], name=op.f('fk_possible_conflicts_case_a_id_cases')),
    sa.ForeignKeyConstraint(['case_b_id'], ['cases.id'], name=op.f('fk_possible_conflicts_case_b_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_possible_conflicts')),
    sa.UniqueConstraint('case_a_id', 'case_b_id', name='conflict_pair')
    )
    with op.batch_alter_table('possible_conflicts', schema=None) as batch_op:
        batch_op.create_index('ix_possible_conflicts_case_b', ['case_b_id'], unique=False)
        batch_op.create_index('ix_possible_conflicts_outcome', ['outcome'], unique=False)

    op.create_table('conflict_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=True),
    sa.Column('conflict_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('reason_enc', sa.Text(), nullable=False),
    sa.Column('referred_to_enc', sa.Text(), nullable=True),
    sa.Column('referred_case_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conflict_id'], ['possible_conflicts.id'], name=op.f('fk_conflict_decisions_conflict_id_possible_conflicts')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff.id'], name=op.f('fk_conflict_decisions_decided_by_id_staff')),
    sa.ForeignKeyConstraint(['referred_case_id'], ['cases.id'], name=op.f('fk_conflict_decisions_referred_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflict_decisions'))
    )
    with op.batch_alter_table('conflict_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflict_decisions_conflict_id'), ['conflict_id'], unique=False)



def downgrade():
    with op.batch_alter_table('conflict_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflict_decisions_conflict_id'))

    op.drop_table('conflict_decisions')
    with op.batch_alter_table('possible_conflicts', schema=None) as batch_op:
        batch_op.drop_index('ix_possible_conflicts_outcome')
        batch_op.drop_index('ix_possible_conflicts_case_b')

    op.drop_table('possible_conflicts')
    with op.batch_alter_table('people_involved', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_involved_name_key'))
        batch_op.drop_index(batch_op.f('ix_people_involved_email_key'))
        batch_op.drop_index(batch_op.f('ix_people_involved_case_id'))

    op.drop_table('people_involved')

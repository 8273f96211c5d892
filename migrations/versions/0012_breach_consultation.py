"""breach consultation as a two-person step: the consultation request (the officer's draft decision), the
consultees' advice given in their own sessions, and the breach record linking its request (with the reason
when decided before any advice, in danger to life)

Revision ID: 0012_breach_consultation
Revises: 0011_erasure_staff_note
Create Date: 2026-12-03 15:50:00

"""
from alembic import op
import sqlalchemy as sa
import shared.models.base


# revision identifiers, used by Alembic.
revision = '0012_breach_consultation'
down_revision = '0011_erasure_staff_note'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('breach_consultation_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=True),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.Column('ground', sa.String(length=20), nullable=False),
    sa.Column('situation_enc', sa.Text(), nullable=False),
    sa.Column('achieves_enc', sa.Text(), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('recipient_organisation', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('decided_at', shared.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("ground IN ('safety', 'terrorism')", name=op.f('ck_breach_consultation_requests_two_grounds_only')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('proceed', 'not_proceed')", name=op.f('ck_breach_consultation_requests_outcome_known')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_breach_consultation_requests_case_id_cases')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff.id'], name=op.f('fk_breach_consultation_requests_requested_by_id_staff')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_breach_consultation_requests_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breach_consultation_requests'))
    )
    with op.batch_alter_table('breach_consultation_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breach_consultation_requests_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_breach_consultation_requests_requested_by_id'), ['requested_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_breach_consultation_requests_student_id'), ['student_id'], unique=False)

    with op.batch_alter_table('breach_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('urgent_reason_enc', sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_breach_records_request_id'), ['request_id'])
        batch_op.create_foreign_key(batch_op.f('fk_breach_records_request_id_breach_consultation_requests'),
                                    'breach_consultation_requests', ['request_id'], ['id'])

    # Existing consultations stay with their breach record (self-declared then); new ones belong to a request.
    with op.batch_alter_table('breach_consultations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('asked_at', shared.models.base.UTCDateTime(), nullable=True))
        batch_op.alter_column('breach_record_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('advice_enc', existing_type=sa.Text(), nullable=True)
        batch_op.alter_column('consulted_at', existing_type=shared.models.base.UTCDateTime(), nullable=True)
        batch_op.create_index(batch_op.f('ix_breach_consultations_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_breach_consultations_officer_pending', ['officer_id', 'consulted_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_breach_consultations_request_id_breach_consultation_requests'),
                                    'breach_consultation_requests', ['request_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_breach_consultations_one_parent'),
                                         "(breach_record_id IS NULL) <> (request_id IS NULL)")


def downgrade():
    op.execute("DELETE FROM breach_consultations WHERE request_id IS NOT NULL")
    with op.batch_alter_table('breach_consultations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_breach_consultations_one_parent'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_breach_consultations_request_id_breach_consultation_requests'),
                                 type_='foreignkey')
        batch_op.drop_index('ix_breach_consultations_officer_pending')
        batch_op.drop_index(batch_op.f('ix_breach_consultations_request_id'))
        batch_op.alter_column('consulted_at', existing_type=shared.models.base.UTCDateTime(), nullable=False)
        batch_op.alter_column('advice_enc', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('breach_record_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('asked_at')
        batch_op.drop_column('request_id')
    with op.batch_alter_table('breach_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_breach_records_request_id_breach_consultation_requests'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_breach_records_request_id'), type_='unique')
        batch_op.drop_column('urgent_reason_enc')
        batch_op.drop_column('request_id')
    with op.batch_alter_table('breach_consultation_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breach_consultation_requests_student_id'))
        batch_op.drop_index(batch_op.f('ix_breach_consultation_requests_requested_by_id'))
        batch_op.drop_index(batch_op.f('ix_breach_consultation_requests_case_id'))
    op.drop_table('breach_consultation_requests')

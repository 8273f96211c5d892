"""independent file review: the manager's scheme and checklist, each quarter's sample (with its seed), the
reviews drawn, their findings per checklist item and the actions required of the adviser

Revision ID: 0020_file_review
Revises: 0019_outgoing_email
Create Date: 2026-12-04 02:00:00

"""
from alembic import op
import sqlalchemy as sa
import shared.models.base


# revision identifiers, used by Alembic.
revision = '0020_file_review'
down_revision = '0019_outgoing_email'
branch_labels = None
depends_on = None


DEFAULT_CHECKLIST = (
    "The advice given is recorded",
    "The action taken is recorded",
    "Consent is on file for every disclosure",
    "Deadlines were met",
    "Letters and documents are filed",
    "There is a closing summary (or, for an open case, a note of where it stands)",
)


def upgrade():
    checklist = op.create_table('review_checklist_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_checklist_items'))
    )
    op.create_table('review_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.String(length=7), nullable=False),
    sa.Column('seed', sa.String(length=40), nullable=False),
    sa.Column('files_per_adviser', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('second_reviewer_id', sa.Integer(), nullable=True),
    sa.Column('drawn_by_id', sa.Integer(), nullable=False),
    sa.Column('drawn_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['staff.id'], name=op.f('fk_review_samples_drawn_by_id_staff')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['staff.id'], name=op.f('fk_review_samples_reviewer_id_staff')),
    sa.ForeignKeyConstraint(['second_reviewer_id'], ['staff.id'], name=op.f('fk_review_samples_second_reviewer_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_samples')),
    sa.UniqueConstraint('quarter', name=op.f('uq_review_samples_quarter'))
    )
    schemes = op.create_table('review_schemes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('files_per_adviser', sa.Integer(), nullable=False),
    sa.Column('days_to_complete', sa.Integer(), nullable=False),
    sa.Column('updated_at', shared.models.base.UTCDateTime(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff.id'], name=op.f('fk_review_schemes_updated_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_schemes'))
    )
    op.create_table('file_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=True),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('adviser_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('drawn_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.Column('started_at', shared.models.base.UTCDateTime(), nullable=True),
    sa.Column('feedback_sent_at', shared.models.base.UTCDateTime(), nullable=True),
    sa.Column('closed_at', shared.models.base.UTCDateTime(), nullable=True),
    sa.Column('findings_enc', sa.Text(), nullable=True),
    sa.Column('closing_note_enc', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['adviser_id'], ['staff.id'], name=op.f('fk_file_reviews_adviser_id_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_file_reviews_case_id_cases')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['staff.id'], name=op.f('fk_file_reviews_reviewer_id_staff')),
    sa.ForeignKeyConstraint(['sample_id'], ['review_samples.id'], name=op.f('fk_file_reviews_sample_id_review_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_file_reviews')),
    sa.UniqueConstraint('sample_id', 'case_id', name='sample_case')
    )
    with op.batch_alter_table('file_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_file_reviews_adviser_quarter', ['adviser_id', 'quarter'], unique=False)
        batch_op.create_index(batch_op.f('ix_file_reviews_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_file_reviews_reviewer_status', ['reviewer_id', 'status'], unique=False)

    op.create_table('review_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=True),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('text_enc', sa.Text(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('created_at', shared.models.base.UTCDateTime(), nullable=False),
    sa.Column('done_at', shared.models.base.UTCDateTime(), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_review_actions_case_id_cases')),
    sa.ForeignKeyConstraint(['done_by_id'], ['staff.id'], name=op.f('fk_review_actions_done_by_id_staff')),
    sa.ForeignKeyConstraint(['review_id'], ['file_reviews.id'], name=op.f('fk_review_actions_review_id_file_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_actions'))
    )
    with op.batch_alter_table('review_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_actions_review_id'), ['review_id'], unique=False)

    op.create_table('review_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=True),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('note_enc', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_review_findings_case_id_cases')),
    sa.ForeignKeyConstraint(['item_id'], ['review_checklist_items.id'], name=op.f('fk_review_findings_item_id_review_checklist_items')),
    sa.ForeignKeyConstraint(['review_id'], ['file_reviews.id'], name=op.f('fk_review_findings_review_id_file_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_findings')),
    sa.UniqueConstraint('review_id', 'position', name='review_position')
    )
    with op.batch_alter_table('review_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_findings_review_id'), ['review_id'], unique=False)

    # The default scheme and checklist; the manager may change the numbers, the wording, and add items.
    op.bulk_insert(schemes, [{'id': 1, 'files_per_adviser': 2, 'days_to_complete': 30}])
    op.bulk_insert(checklist, [{'position': n, 'label': label, 'active': True} for n, label in enumerate(DEFAULT_CHECKLIST, 1)])


def downgrade():
    with op.batch_alter_table('review_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_findings_review_id'))

    op.drop_table('review_findings')
    with op.batch_alter_table('review_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_actions_review_id'))

    op.drop_table('review_actions')
    with op.batch_alter_table('file_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_file_reviews_reviewer_status')
        batch_op.drop_index(batch_op.f('ix_file_reviews_case_id'))
        batch_op.drop_index('ix_file_reviews_adviser_quarter')

    op.drop_table('file_reviews')
    op.drop_table('review_schemes')
    op.drop_table('review_samples')
    op.drop_table('review_checklist_items')

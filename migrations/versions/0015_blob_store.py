"""the blob store's database backend: every stored file (documents, copies of records) as a run of encrypted
chunks in the database, so that several hosts see the same files

Revision ID: 0015_blob_store
Revises: 0013_access_review
Create Date: 2026-12-03 19:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_blob_store'
down_revision = '0013_access_review'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'blob_chunks',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('name', 'seq', name=op.f('pk_blob_chunks')),
    )


def downgrade():
    # Files kept in the database are moved out first: `flask --app wsgi blobs move --to filesystem`.
    op.drop_table('blob_chunks')

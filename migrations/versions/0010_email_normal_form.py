"""email addresses in their one normal form (NFKC, case folded, the domain in IDNA's ASCII form), so the
lookups, uniqueness checks and rate-limit keys, which all go through shared.security.accounts.normalise_email, find
every stored account

Addresses were stored lower-cased through email_validator, which keeps a domain in Unicode and does not
fold compatibility forms or case beyond lower(): ASCII addresses (all the demo, seed and most real ones) are
already in the normal form and are not touched. A stored value that is not an address (an erased account's
placeholder) is left as it is. So is one whose normal form another account of the same kind already has:
it is named in the output for an administrator to sort out (until then it cannot be found by its address).

Revision ID: 0010_email_normal_form
Revises: 0009_stats_durations
Create Date: 2026-12-03 16:00:00

"""
import unicodedata

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

# revision identifiers, used by Alembic.
revision = '0010_email_normal_form'
down_revision = '0009_stats_durations'
branch_labels = None
depends_on = None


def _fold(text):
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _normal(stored):
    """shared.security.accounts.normalise_email as it was written with this migration (kept here, so the migration
    means the same thing whatever that function becomes)."""
    try:
        result = validate_email(_fold(stored.strip()), check_deliverability=False)
    except EmailNotValidError:
        return None
    email = f"{_fold(result.local_part)}@{result.ascii_domain}"
    return email if len(email) <= 254 else None


def upgrade():
    conn = op.get_bind()
    for name in ("students", "staff"):
        table = sa.table(name, sa.column("id", sa.Integer), sa.column("email", sa.String))
        rows = conn.execute(sa.select(table.c.id, table.c.email)).all()
        taken = {email for _, email in rows}
        for row_id, email in rows:
            normal = _normal(email)
            if normal is None or normal == email:
                continue
            if normal in taken:
                print(f"{name} {row_id}: its email's normal form is another account's; left as it was")
                continue
            conn.execute(sa.update(table).where(table.c.id == row_id).values(email=normal))
            taken.discard(email)
            taken.add(normal)


def downgrade():
    # The earlier spellings were the same addresses: nothing to undo.
    pass

"""The schema is made only by migrations, and the migrations match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.models import Base, ListItem


def test_migrations_match_the_models(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_migrations_seed_the_service_lists(db):
    kinds = {item.kind for item in db.session.query(ListItem)}
    assert {"college", "area", "outcome", "contact_method"} <= kinds

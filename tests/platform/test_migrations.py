"""The schema is made only by migrations, and the migrations match the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, inspect, text

from shared.models import Base, ListItem


def _expression_indexes() -> dict[str, str]:
    """The models' indexes on an expression, by name, with their table."""
    return {index.name: table.name for table in Base.metadata.tables.values() for index in table.indexes
            if any(not isinstance(e, Column) for e in index.expressions)}


def test_migrations_make_the_expression_indexes(db):
    """Autogenerate cannot compare an index on an expression on SQLite (it skips them with a warning), so
    their presence is checked by name on both databases; PostgreSQL also compares their definitions above."""
    expected = _expression_indexes()
    assert expected, "no expression index in the models: this test has nothing to check"
    with db.engine.connect() as conn:
        found = {name: table for table in set(expected.values())
                 for name in (i["name"] for i in inspect(conn).get_indexes(table))} \
            if db.engine.dialect.name != "sqlite" else dict(conn.execute(text(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")).all())
    assert {name: found.get(name) for name in expected} == expected


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_match_the_models(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_migrations_seed_the_service_lists(db):
    kinds = {item.kind for item in db.session.query(ListItem)}
    assert {"college", "area", "outcome", "contact_method"} <= kinds

"""The test database between tests: the reference rows the migrations seed (service lists, the first consent
wording...) snapshotted once and restored before every test, every other row removed, and the files a test's
blob store wrote deleted."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import text


def file_stores(test_root: Path) -> tuple[Path, ...]:
    """The folders where a filesystem blob store writes encrypted files for rows (documents; copies of
    records), which must be inside this run's temporary folder: the per-test cleanup empties them. (A database
    blob store's rows go with the other tables.)"""
    from shared.platform import blobs

    root = Path(current_app.instance_path)
    stores = tuple(root / folder for folder in blobs.FOLDERS)
    for folder in stores:
        assert folder.resolve().is_relative_to(test_root.resolve()), f"{folder} is not a test folder"
    return stores


def remove_stored_files(stores: tuple[Path, ...]) -> None:
    """The files the test wrote: their rows are gone with the database, so they would be orphans, seen by the
    next test that checks for orphans. Only files directly in the stores (as the app writes them)."""
    for folder in stores:
        if folder.is_dir() and not folder.is_symlink():
            for path in folder.iterdir():
                if path.is_file() or path.is_symlink():
                    path.unlink()


def snapshot_reference_data(db) -> dict:
    with db.engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(table.select())]
            for table in db.metadata.sorted_tables
            if table.name != "audit_head"
        }


def empty_database(db) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables) if t.name not in {"alembic_version"}]
    reference = current_app.extensions["test_reference_rows"]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(text("INSERT INTO audit_head (id, seq, last_mac) VALUES (1, 0, :g)"), {"g": "0" * 64})
        for table in db.metadata.sorted_tables:
            if reference.get(table.name):
                conn.execute(table.insert(), reference[table.name])
                if db.engine.dialect.name == "postgresql" and "id" in table.c:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM \"{table.name}\"))"
                    ))


MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrate(db, upgrade) -> None:
    """The test database at the latest migration. Under mutation testing every mutant starts its own test
    session (mutmut sets MUTANT_UNDER_TEST), so on SQLite a migrated file is made once for this set of
    migrations and copied in, instead of running every migration again for each mutant."""
    if not os.environ.get("MUTANT_UNDER_TEST") or db.engine.dialect.name != "sqlite":
        upgrade()
        return
    target = Path(db.engine.url.database)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(MIGRATIONS.rglob("*.py")))).hexdigest()[:16]
    template = Path(tempfile.gettempdir()) / f"advice-test-template-{digest}.sqlite"
    db.engine.dispose()
    if template.exists():
        shutil.copyfile(template, target)
        return
    upgrade()
    db.engine.dispose()  # the last connection closing checkpoints the WAL into the file
    partial = template.with_name(f"{template.name}.{os.getpid()}")
    shutil.copyfile(target, partial)
    os.replace(partial, template)

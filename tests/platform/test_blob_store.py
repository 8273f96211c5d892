"""The blob store: every stored file, on either backend, is encrypted in chunks bound to their place, streams
chunk by chunk, survives key rotation and backups, and moves between backends verified by digest."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from sqlalchemy import select

from shared.models import BlobChunk
from shared.platform import blobs
from shared.platform.crypto import encrypt_bytes, parse_keys

BIG = os.urandom(blobs.CHUNK * 2 + 12345)  # three chunks, the last a short one
CONTEXT = "documents.content.abc123"
NAME = "documents/abc123"


@pytest.fixture(params=blobs.BACKENDS)
def store(request, db):
    store = blobs.store_for(request.param)
    yield store
    db.session.rollback()
    for name in store.names():
        store.delete(name)
    db.session.commit()


def test_a_stored_file_streams_back_in_chunks_with_its_digest(store, db):
    stored = store.put(NAME, BIG, CONTEXT)
    db.session.commit()
    assert stored.size == len(BIG) and stored.sha256 == hashlib.sha256(BIG).hexdigest()
    chunks = list(store.open(NAME, CONTEXT))
    assert [len(c) for c in chunks] == [blobs.CHUNK, blobs.CHUNK, 12345]
    assert b"".join(chunks) == BIG
    assert BIG[:64] not in b"".join(store.export(NAME))  # encrypted
    assert store.names() == [NAME]


def test_a_file_does_not_open_under_another_objects_context(store, db):
    store.put(NAME, b"fictional letter", CONTEXT)
    with pytest.raises(blobs.BlobDamaged):
        store.read(NAME, "documents.content.other")


def test_a_file_cut_short_or_with_chunks_swapped_is_refused(db):
    store = blobs.DatabaseStore()
    store.put(NAME, BIG, CONTEXT)
    db.session.execute(BlobChunk.__table__.delete().where(BlobChunk.seq == 2))  # the last chunk gone
    with pytest.raises(blobs.BlobDamaged):
        store.read(NAME, CONTEXT)
    store.put(NAME, BIG, CONTEXT)
    rows = {r.seq: r.data for r in db.session.execute(select(BlobChunk.seq, BlobChunk.data))}
    db.session.execute(BlobChunk.__table__.update().where(BlobChunk.seq == 0).values(data=rows[1]))
    db.session.execute(BlobChunk.__table__.update().where(BlobChunk.seq == 1).values(data=rows[0]))
    with pytest.raises(blobs.BlobDamaged):
        store.read(NAME, CONTEXT)
    db.session.rollback()


def test_the_digest_is_checked_before_the_last_chunk_is_sent(store, db):
    store.put(NAME, BIG, CONTEXT)
    good = hashlib.sha256(BIG).hexdigest()
    assert b"".join(store.open_checked(NAME, CONTEXT, good)) == BIG
    sent = []
    with pytest.raises(blobs.BlobDamaged):
        for chunk in store.open_checked(NAME, CONTEXT, "0" * 64):
            sent.append(chunk)
    assert sum(map(len, sent)) < len(BIG)  # the end of the file never went out
    with pytest.raises(blobs.BlobMissing):
        store.open_checked("documents/nothere", CONTEXT)


def test_a_file_written_before_the_store_still_opens_and_rotates_into_chunks(store, db, app):
    legacy = encrypt_bytes(b"%PDF-1.4 fictional, one piece", CONTEXT)
    store.import_(NAME, blobs.reader([legacy]))
    assert store.read(NAME, CONTEXT) == b"%PDF-1.4 fictional, one piece"
    assert b"".join(store.export(NAME)) == legacy
    old = app.config["ENCRYPTION_KEYS"]
    app.extensions["encryption_keys"] = parse_keys(f"t9:{base64.urlsafe_b64encode(os.urandom(32)).decode()},{old}")
    try:
        assert store.rotate(NAME, CONTEXT)
        assert store.key_ids(NAME) == {"t9"} and not store.rotate(NAME, CONTEXT)
        assert store.read(NAME, CONTEXT) == b"%PDF-1.4 fictional, one piece"
    finally:
        app.extensions["encryption_keys"] = parse_keys(old)


def test_key_rotation_reseals_every_chunk(store, db, app):
    store.put(NAME, BIG, CONTEXT)
    db.session.commit()
    old = app.config["ENCRYPTION_KEYS"]
    app.extensions["encryption_keys"] = parse_keys(f"t9:{base64.urlsafe_b64encode(os.urandom(32)).decode()},{old}")
    try:
        assert store.key_ids(NAME) == {"t1"}
        assert store.rotate(NAME, CONTEXT)
        db.session.commit()
        assert store.key_ids(NAME) == {"t9"}
        app.extensions["encryption_keys"] = [(k, v) for k, v in app.extensions["encryption_keys"] if k == "t9"]
        assert store.read(NAME, CONTEXT) == BIG  # opens without the old key
    finally:
        app.extensions["encryption_keys"] = parse_keys(old)


def test_moving_files_between_backends_is_verified_resumable_and_reversible(app, db):
    fs, database = blobs.FilesystemStore(app.instance_path), blobs.DatabaseStore()
    files = {f"documents/d{i}": os.urandom(1000 + i) for i in range(3)}
    for name, data in files.items():
        fs.put(name, data, f"ctx.{name}")
    fs.import_("access/c1.pdf.enc", blobs.reader([encrypt_bytes(b"%PDF old copy", "ctx.copy")]))  # one piece
    digests = {name: fs.digest(name) for name in fs.names()}

    # Interrupted after one file: that one is in the database and gone from the disk, the rest untouched.
    assert blobs.move(fs, database, limit=1).moved == 1
    assert len(database.names()) == 1 and len(fs.names()) == 3
    # A crash after the copy was committed but before the source was removed: the next run sees the
    # same digest in the target, and only removes the source.
    name = fs.names()[0]
    database.import_(name, blobs.reader(fs.export(name)))
    db.session.commit()
    result = blobs.move(fs, database)
    assert (result.moved, result.already) == (2, 1)
    assert fs.names() == [] and {n: database.digest(n) for n in database.names()} == digests
    for name, data in files.items():
        assert database.read(name, f"ctx.{name}") == data
    assert database.read("access/c1.pdf.enc", "ctx.copy") == b"%PDF old copy"

    result = app.test_cli_runner().invoke(args=["blobs", "move", "--to", "filesystem"])
    assert result.exit_code == 0, result.output
    assert "Moved 4 files" in result.output and "0 left in the database backend" in result.output
    db.session.rollback()
    assert database.names() == [] and {n: fs.digest(n) for n in fs.names()} == digests


def test_a_move_whose_copy_does_not_match_keeps_the_source(app, db, monkeypatch):
    fs, database = blobs.FilesystemStore(app.instance_path), blobs.DatabaseStore()
    fs.put("documents/d1", b"fictional", "ctx")
    monkeypatch.setattr(database, "digest", lambda name: "0" * 64)
    with pytest.raises(blobs.BlobDamaged):
        blobs.move(fs, database)
    assert fs.names() == ["documents/d1"] and database.names() == []
    fs.delete("documents/d1")


def test_the_backend_follows_the_database_unless_chosen(monkeypatch):
    from shared.platform.config import ConfigurationError, _choose_blob_backend

    for uri, chosen, expected in (("sqlite:///x.db", "", "filesystem"),
                                  ("postgresql+psycopg://h/db", "", "database"),
                                  ("postgresql+psycopg://h/db", "filesystem", "filesystem")):
        config = {"SQLALCHEMY_DATABASE_URI": uri, "BLOB_BACKEND": chosen}
        _choose_blob_backend(config)
        assert config["BLOB_BACKEND"] == expected
    with pytest.raises(ConfigurationError):
        _choose_blob_backend({"SQLALCHEMY_DATABASE_URI": "sqlite://", "BLOB_BACKEND": "s3"})


def test_a_backup_taken_on_one_backend_restores_every_file_into_the_other(app, db, student, tmp_path):
    from shared.lifecycle import backup
    from tests.factories_staffsec import make_document
    from tests.support.database import empty_database

    docs = [make_document(student, None, data=os.urandom(blobs.CHUNK + 10)), make_document(student, None)]
    digests = {d.uid: d.sha256 for d in docs}
    used = app.config["BLOB_BACKEND"]
    other = "database" if used == "filesystem" else "filesystem"
    archive = tmp_path / "backup.enc"
    summary = backup.create(archive)
    assert summary.files == summary.documents == 2
    db.session.rollback()
    empty_database(db)
    for uid in digests:
        blobs.store_for(used).delete(f"documents/{uid}")
    db.session.commit()
    app.config["BLOB_BACKEND"] = other
    try:
        backup.restore(archive)
        store = blobs.store()
        for uid, sha in digests.items():
            data = store.read(f"documents/{uid}", f"documents.content.{uid}")
            assert hashlib.sha256(data).hexdigest() == sha
    finally:
        for name in blobs.store().names():
            blobs.store().delete(name)
        db.session.commit()
        app.config["BLOB_BACKEND"] = used


def test_a_backup_keeps_text_that_looks_like_line_ends_quotes_or_escapes(app, db, tmp_path):
    from shared.lifecycle import backup
    from shared.models import Staff
    from tests.factories import make_staff
    from tests.support.database import empty_database

    awkward = 'O\'Brien "Q" \\ back\u2028slash\nnew line\x01\x02, tab\there'
    make_staff(email="awkward.name@example.ac.uk", name=awkward)
    archive = tmp_path / "backup.enc"
    backup.create(archive)
    db.session.rollback()
    empty_database(db)
    backup.restore(archive)
    assert db.session.scalar(select(Staff.name).where(Staff.email == "awkward.name@example.ac.uk")) == awkward


def test_rows_in_postgresqls_copy_format_read_back_as_the_same_values(db):
    """A PostgreSQL archive restored into SQLite: its COPY lines are decoded row by row."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL to write the COPY lines")
    from shared.lifecycle.backup import copy_rows
    from shared.models import AuditEvent, Staff
    from tests.factories import make_staff

    awkward = 'O\'Brien "Q" \\ back\u2028slash\nnew line\x01, tab\there \\N'
    staff = make_staff(email="copy.format@example.ac.uk", name=awkward)
    from shared.audit import log as audit

    audit.record(staff, "test.copy_format", staff, note_id=7)
    db.session.commit()
    for model in (Staff, AuditEvent):
        table = model.__table__
        columns = list(table.columns)
        driver = db.session.connection().connection.driver_connection
        names = ", ".join(f'"{c.name}"' for c in columns)
        with driver.cursor() as cursor, cursor.copy(f'COPY (SELECT {names} FROM "{table.name}" ORDER BY id) TO STDOUT') as copy:
            data = b"".join(bytes(b) for b in copy)
        expected = [dict(r._mapping) for r in db.session.execute(table.select().order_by(table.c.id))]
        assert copy_rows(columns, data) == expected, model.__name__
    db.session.rollback()


def test_no_table_refers_to_itself_so_a_backup_may_keep_each_tables_own_order():
    """Backups copy each table in PostgreSQL's own order (no sort, as pg_dump): restore inserts parents before
    children table by table, which is enough only while no table has a foreign key to itself."""
    from shared.models import Base

    assert [t.name for t in Base.metadata.sorted_tables for fk in t.foreign_keys if fk.column.table is t] == []

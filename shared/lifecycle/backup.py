"""Encrypted backups: one archive holding every table's rows and every stored file.

`create` dumps every table through SQLAlchemy's metadata, parents before children (foreign-key order),
so the same archive restores into SQLite or PostgreSQL. The archive is a tar stream cut into 1 MiB chunks,
each encrypted with AES-GCM under the newest ENCRYPTION_KEYS key and bound to the archive's id, its
position and whether it is the last, so a chunk cannot be altered, reordered, dropped or the archive cut
short without restore refusing it. Stored files (documents, copies of records) are copied from the blob
store as they are kept (already encrypted), in the form both backends share, so an archive taken with one
backend restores into the other. Restoring needs the same ENCRYPTION_KEYS and AUDIT_HMAC_KEY: keep those in
the secret store, not beside the backups.

Both directions stream: rows are read in batches through a server-side cursor and files chunk by chunk, and
restore writes each part as it is read, in one transaction it rolls back (removing any files it wrote to a
filesystem store) if any part of the archive does not open or the counts do not match its manifest. So
memory stays bounded whatever the size of the database.

`restore` only writes into an empty, migrated instance at the same schema revision.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import struct
import tarfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, LargeBinary, func, select, text

from shared.models import Base, BlobChunk, UTCDateTime
from shared.platform import blobs
from shared.platform.crypto import DecryptionError, decrypt_bytes, encrypt_bytes
from shared.platform.extensions import db

MAGIC = b"ADVICE-BACKUP-1\n"
CHUNK = 1024 * 1024
ROWS_PER_MEMBER = 1000
MEMBER_BYTES = 1024 * 1024  # PostgreSQL's rows are cut into members of about this size


class BackupError(Exception):
    pass


# --- the encrypted container ------------------------------------------------------------------------


class _EncryptingWriter(io.RawIOBase):
    def __init__(self, out):
        self.out, self.buffer, self.index = out, bytearray(), 0
        self.archive_id = secrets.token_hex(16)
        out.write(MAGIC + self.archive_id.encode() + b"\n")

    def writable(self):
        return True

    def write(self, data):
        self.buffer += data
        while len(self.buffer) > CHUNK:
            self._emit(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]
        return len(data)

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        blob = encrypt_bytes(chunk, f"backup.{self.archive_id}.{self.index}.{int(last)}")
        self.out.write(struct.pack(">I", len(blob)) + blob)
        self.index += 1

    def finish(self):
        self._emit(bytes(self.buffer), last=True)
        self.buffer.clear()


def _decrypted_chunks(fh):
    header = fh.readline()
    if header != MAGIC:
        raise BackupError("This is not an Advice Service backup archive.")
    archive_id = fh.readline().strip().decode()
    index = 0
    while True:
        size = fh.read(4)
        if len(size) < 4:
            raise BackupError("The archive is incomplete: it ends before its last part.")
        blob = fh.read(struct.unpack(">I", size)[0])
        for last in (0, 1):
            try:
                chunk = decrypt_bytes(blob, f"backup.{archive_id}.{index}.{last}")
            except DecryptionError:
                continue
            yield chunk
            if last:
                if fh.read(1):
                    raise BackupError("The archive has data after its last part.")
                return
            break
        else:
            raise BackupError(f"Part {index} of the archive cannot be opened: wrong key, or it was altered.")
        index += 1


class _DecryptingReader(io.RawIOBase):
    def __init__(self, fh):
        self.chunks, self.buffer = _decrypted_chunks(fh), bytearray()

    def readable(self):
        return True

    def readinto(self, target):
        while not self.buffer:
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self.buffer))
        target[:n] = self.buffer[:n]
        del self.buffer[:n]
        return n


# --- rows as JSON -----------------------------------------------------------------------------------------


def _encode(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _utc_moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)  # PostgreSQL's own JSON of a UTC column has no offset: it is UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _binary(value: str) -> bytes:  # PostgreSQL's hex form, or our base64
    return bytes.fromhex(value[2:]) if value.startswith("\\x") else base64.b64decode(value)


def _decoder(column):
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _utc_moment
    if isinstance(kind, DateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, LargeBinary):
        return _binary
    return None


def tables():
    """Every table, parents before children; the blob store's chunks travel as files, not rows."""
    return [t for t in Base.metadata.sorted_tables if t is not BlobChunk.__table__]


def _schema_revision() -> str | None:
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 (an unmigrated database)
        db.session.rollback()
        return None


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    tar.addfile(info, io.BytesIO(data))


def _add_stream(tar: tarfile.TarFile, name: str, size: int, stream) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o600
    tar.addfile(info, stream)


@dataclass
class Summary:
    tables: dict = field(default_factory=dict)
    documents: int = 0  # uploaded documents among the files
    files: int = 0  # every stored file (documents, copies of records)
    revision: str | None = None


def _count_file(summary: Summary, name: str) -> None:
    summary.files += 1
    summary.documents += name.startswith("documents/")


def _snapshot() -> None:
    """On PostgreSQL the whole archive reads one snapshot of the database (rows and files agree)."""
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def create(path: str | Path) -> Summary:
    """Write one encrypted archive of the whole database and every stored file to `path`."""
    _snapshot()
    summary = Summary(revision=_schema_revision())
    store = blobs.store()
    path = Path(path)
    with open(path, "wb") as out:
        path.chmod(0o600)
        writer = _EncryptingWriter(out)
        with tarfile.open(fileobj=writer, mode="w|") as tar:
            _add(tar, "header.json", json.dumps({"format": 2, "revision": summary.revision}).encode())
            dump = _dump_with_copy if db.engine.dialect.name == "postgresql" else _dump_through_rows
            for table in tables():
                summary.tables[table.name] = dump(tar, table)
            for name in store.names():
                _add_stream(tar, f"blobs/{name}", store.export_size(name), blobs.reader(store.export(name)))
                _count_file(summary, name)
            manifest = {"format": 2, "revision": summary.revision, "tables": summary.tables,
                        "documents": summary.documents, "files": summary.files}
            _add(tar, "manifest.json", json.dumps(manifest).encode())
        writer.finish()
    db.session.rollback()  # end the long read
    return summary


def _dump_through_rows(tar: tarfile.TarFile, table) -> int:
    """A table's rows as JSON lines, read in batches (SQLite)."""
    pk = list(table.primary_key.columns)
    part, rows, count = 0, [], 0
    result = db.session.execute(table.select().order_by(*pk).execution_options(yield_per=1000))
    for row in result.mappings():
        rows.append(json.dumps({k: _encode(v) for k, v in row.items()}, sort_keys=True))
        count += 1
        if len(rows) >= ROWS_PER_MEMBER:
            _add(tar, f"tables/{table.name}/{part:06d}.jsonl", "\n".join(rows).encode())
            part, rows = part + 1, []
    result.close()
    if rows:
        _add(tar, f"tables/{table.name}/{part:06d}.jsonl", "\n".join(rows).encode())
    return count


def _dump_with_copy(tar: tarfile.TarFile, table) -> int:
    """A table's rows in PostgreSQL's own COPY text format (what pg_dump writes), in the transaction's
    snapshot, without a Python step per row: first the column names, then the lines cut into members of
    about MEMBER_BYTES (1 MiB). Restore reads them back with COPY into PostgreSQL, or line by line into SQLite."""
    quote = db.engine.dialect.identifier_preparer.quote
    columns = [c.name for c in table.columns]
    # In the table's own order, as pg_dump reads it (no sort): no table refers to itself, so parents before
    # children between tables is all a restore needs.
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) TO STDOUT"
    _add(tar, f"tables/{table.name}/columns.json", json.dumps(columns).encode())
    driver = db.session.connection().connection.driver_connection
    part, count, buffer = 0, 0, bytearray()

    def emit(data: bytes) -> None:
        nonlocal part, count
        _add(tar, f"tables/{table.name}/{part:06d}.copy", data)
        part, count = part + 1, count + data.count(b"\n")

    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for block in copy:
            buffer += block
            if len(buffer) >= MEMBER_BYTES:
                cut = buffer.rfind(b"\n") + 1
                emit(bytes(buffer[:cut]))
                del buffer[:cut]
    if buffer:
        emit(bytes(buffer))
    return count


# COPY's text format: a tab between fields, \N for NULL, and these escapes (plus octal and hex ones).
_COPY_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")
_COPY_CHARS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _copy_unescape(match: re.Match) -> str:
    code = match.group(1)
    if code[0] == "x" and len(code) > 1:
        return chr(int(code[1:], 16))
    if code.isdigit():
        return chr(int(code, 8))
    return _COPY_CHARS.get(code, code)


def _copy_value(column, text: str):
    """A COPY text field as the value SQLAlchemy binds for `column`."""
    kind = column.type
    if isinstance(kind, Boolean):
        return text == "t"
    if isinstance(kind, Integer):
        return int(text)
    if isinstance(kind, Float):
        return float(text)
    if isinstance(kind, JSON):
        return json.loads(text)
    if isinstance(kind, LargeBinary):
        return _binary(text)
    decoder = _decoder(column)
    return decoder(text) if decoder else text


def copy_rows(columns: list, data: bytes) -> list[dict]:
    """Lines in COPY text format as rows of values for `columns` (a PostgreSQL archive restored elsewhere)."""
    rows = []
    for line in data.decode().split("\n"):
        if line:
            fields = line.split("\t")
            rows.append({c.name: None if f == "\\N" else _copy_value(c, _COPY_ESCAPE.sub(_copy_unescape, f))
                         for c, f in zip(columns, fields, strict=True)})
    return rows


def _check_empty() -> None:
    counts = {
        name: db.session.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
        for name in ("students", "staff", "audit_events")
    }
    if any(counts.values()):
        raise BackupError("Restore only into an empty instance: this one already has accounts or an audit log.")


def _reset_sequences(table) -> None:
    if db.engine.dialect.name != "postgresql" or "id" not in table.c:
        return
    if not getattr(table.c.id, "autoincrement", False) or table.c.id.type.python_type is not int:
        return
    # Table names come from our own metadata, never from input.
    sql = (
        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
        f"COALESCE((SELECT max(id) FROM \"{table.name}\"), 0) + 1, false)"
    )
    db.session.execute(text(sql))


def _check_revision(archived: str | None, revision: str | None) -> None:
    if archived != revision:
        raise BackupError(
            f"The archive is at schema revision {archived}, this instance at {revision}: "
            "run `flask db upgrade` to the same revision first."
        )


def _file_name(member_name: str) -> str | None:
    """The blob store name of an archived file (`documents/<uid>` in archives made before the store)."""
    if member_name.startswith("blobs/"):
        name = member_name[len("blobs/"):]
    elif member_name.startswith("documents/") and member_name[10:].isalnum():
        name = member_name
    else:
        return None
    try:
        return blobs.check_name(name)
    except blobs.BlobMissing:
        return None


class _Restoring:
    """One restore's progress: what was written, to check against the manifest at the end."""

    def __init__(self, revision):
        self.revision, self.known = revision, {t.name: t for t in tables()}
        self.counts: dict[str, int] = {}
        self.summary = Summary(revision=revision)
        self.store = blobs.store()
        self.written: list[str] = []  # files written, removed again if the restore fails
        self.decoders = {name: {c.name: _decoder(c) for c in t.columns} for name, t in self.known.items()}
        self.copy_columns: dict[str, list[str]] = {}

    def rows(self, table_name: str, data: bytes) -> None:
        table = self.known.get(table_name)
        if table is None:
            raise BackupError(f"The archive has tables this instance does not: {table_name}.")
        decoders = self.decoders[table_name]
        batch = []
        for line in data.decode().split("\n"):  # not splitlines: a raw U+2028 in a value is not a line end
            if not line:
                continue
            row = json.loads(line)
            batch.append({k: (decoders[k](v) if v is not None and decoders[k] else v) for k, v in row.items()})
        if batch:
            db.session.execute(table.insert(), batch)
        self.counts[table_name] = self.counts.get(table_name, 0) + len(batch)

    def columns(self, table_name: str, data: bytes) -> None:
        if table_name not in self.known:
            raise BackupError(f"The archive has tables this instance does not: {table_name}.")
        names = json.loads(data)
        unknown = set(names) - set(self.known[table_name].c.keys())
        if unknown:
            raise BackupError(f"Table {table_name} has columns this instance does not: {', '.join(sorted(unknown))}.")
        self.copy_columns[table_name] = names

    def copied(self, table_name: str, data: bytes) -> None:
        """Lines in COPY text format: COPY'd straight in on PostgreSQL, decoded row by row elsewhere."""
        names = self.copy_columns.get(table_name)
        if names is None:
            raise BackupError(f"Table {table_name}: rows come before their columns.")
        table = self.known[table_name]
        if db.engine.dialect.name == "postgresql":
            quote = db.engine.dialect.identifier_preparer.quote
            driver = db.session.connection().connection.driver_connection
            sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
            with driver.cursor() as cursor, cursor.copy(sql) as copy:
                copy.write(data)
            self.counts[table_name] = self.counts.get(table_name, 0) + data.count(b"\n")
            return
        batch = copy_rows([table.c[n] for n in names], data)
        if batch:
            db.session.execute(table.insert(), batch)
        self.counts[table_name] = self.counts.get(table_name, 0) + len(batch)

    def file(self, name: str, stream) -> None:
        self.written.append(name)
        self.store.import_(name, stream)
        _count_file(self.summary, name)

    def finish(self, manifest: dict | None) -> Summary:
        if manifest is None:
            raise BackupError("The archive has no manifest: it is incomplete.")
        _check_revision(manifest["revision"], self.revision)
        unknown = set(manifest["tables"]) - set(self.known)
        if unknown:
            raise BackupError(f"The archive has tables this instance does not: {', '.join(sorted(unknown))}.")
        for name, table in self.known.items():
            count, expected = self.counts.get(name, 0), manifest["tables"].get(name, 0)
            if count != expected:
                raise BackupError(f"Table {name}: expected {expected} rows, read {count}.")
            _reset_sequences(table)
            self.summary.tables[name] = count
        expected_files = manifest.get("files", manifest.get("documents", 0))
        if self.summary.files != expected_files:
            raise BackupError(f"Expected {expected_files} files, read {self.summary.files}.")
        return self.summary

    def undo(self) -> None:
        db.session.rollback()
        if self.store.backend == "filesystem":
            for name in self.written:
                self.store.delete(name)


def restore(path: str | Path) -> Summary:
    """Read the archive once, writing each part as it comes, in one transaction: committed only when the
    whole archive opened and matched its manifest."""
    _check_empty()
    restoring = _Restoring(_schema_revision())
    try:
        for table in reversed(Base.metadata.sorted_tables):
            db.session.execute(table.delete())
        manifest = None
        with open(path, "rb") as fh, tarfile.open(fileobj=_DecryptingReader(fh), mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if member.name == "header.json":
                    _check_revision(json.loads(tar.extractfile(member).read())["revision"], restoring.revision)
                elif member.name == "manifest.json":
                    manifest = json.loads(tar.extractfile(member).read())
                elif member.name.startswith("tables/"):
                    table_name, data = member.name.split("/")[1], tar.extractfile(member).read()
                    if member.name.endswith("/columns.json"):
                        restoring.columns(table_name, data)
                    elif member.name.endswith(".copy"):
                        restoring.copied(table_name, data)
                    else:
                        restoring.rows(table_name, data)
                elif (name := _file_name(member.name)) is not None:
                    restoring.file(name, tar.extractfile(member))
        summary = restoring.finish(manifest)
    except (tarfile.TarError, blobs.BlobDamaged, ValueError) as exc:
        restoring.undo()
        raise BackupError(f"The archive cannot be read: {exc}") from exc
    except BaseException:
        restoring.undo()
        raise
    db.session.commit()
    return summary

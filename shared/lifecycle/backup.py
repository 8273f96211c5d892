"""Encrypted backups: one archive holding every table's rows and the documents folder.

`create` dumps every table through SQLAlchemy's metadata, parents before children (foreign-key order),
so the same archive restores into SQLite or PostgreSQL. The archive is a tar stream cut into 1 MiB chunks,
each encrypted with AES-GCM under the newest ENCRYPTION_KEYS key and bound to the archive's id, its
position and whether it is the last, so a chunk cannot be altered, reordered, dropped or the archive cut
short without restore refusing it. Documents are copied as they are stored (already encrypted).
Restoring needs the same ENCRYPTION_KEYS and AUDIT_HMAC_KEY: keep those in the secret store, not beside
the backups.

`restore` only writes into an empty, migrated instance at the same schema revision.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import struct
import tarfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Date, DateTime, LargeBinary, func, select, text

from shared.casework.documents import storage_dir as documents_dir
from shared.models import Base, UTCDateTime
from shared.platform.crypto import DecryptionError, decrypt_bytes, encrypt_bytes
from shared.platform.extensions import db

MAGIC = b"ADVICE-BACKUP-1\n"
CHUNK = 1024 * 1024
ROWS_PER_MEMBER = 5000


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


def _decoder(column):
    kind = column.type
    if isinstance(kind, UTCDateTime | DateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, LargeBinary):
        return base64.b64decode
    return None


def tables():
    return list(Base.metadata.sorted_tables)  # parents before children


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


@dataclass
class Summary:
    tables: dict = field(default_factory=dict)
    documents: int = 0
    revision: str | None = None


def create(path: str | Path) -> Summary:
    """Write one encrypted archive of the whole database and the documents folder to `path`."""
    summary = Summary(revision=_schema_revision())
    path = Path(path)
    with open(path, "wb") as out:
        writer = _EncryptingWriter(out)
        with tarfile.open(fileobj=writer, mode="w|") as tar:
            for table in tables():
                pk = list(table.primary_key.columns)
                part, rows, count = 0, [], 0
                result = db.session.execute(table.select().order_by(*pk).execution_options(yield_per=1000))
                for row in result.mappings():
                    rows.append(json.dumps({k: _encode(v) for k, v in row.items()}, sort_keys=True))
                    count += 1
                    if len(rows) >= ROWS_PER_MEMBER:
                        _add(tar, f"tables/{table.name}/{part:06d}.jsonl", "\n".join(rows).encode())
                        part, rows = part + 1, []
                if rows:
                    _add(tar, f"tables/{table.name}/{part:06d}.jsonl", "\n".join(rows).encode())
                summary.tables[table.name] = count
            folder = documents_dir()
            if folder.exists():
                for file in sorted(folder.iterdir()):
                    if file.is_file() and file.name.isalnum():
                        _add(tar, f"documents/{file.name}", file.read_bytes())
                        summary.documents += 1
            manifest = {"format": 1, "revision": summary.revision, "tables": summary.tables,
                        "documents": summary.documents}
            _add(tar, "manifest.json", json.dumps(manifest).encode())
        writer.finish()
    db.session.rollback()  # end the long read
    path.chmod(0o600)
    return summary


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


def restore(path: str | Path) -> Summary:
    """Read the archive once, check it whole, then replace the instance's rows and write its documents."""
    _check_empty()
    members: dict[str, list[bytes]] = {}
    files: dict[str, bytes] = {}
    manifest = None
    with open(path, "rb") as fh, tarfile.open(fileobj=_DecryptingReader(fh), mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
            elif member.name.startswith("tables/"):
                members.setdefault(member.name.split("/")[1], []).append(data)
            elif member.name.startswith("documents/") and member.name[10:].isalnum():
                files[member.name[10:]] = data
    if manifest is None:
        raise BackupError("The archive has no manifest: it is incomplete.")
    revision = _schema_revision()
    if manifest["revision"] != revision:
        raise BackupError(
            f"The archive is at schema revision {manifest['revision']}, this instance at {revision}: "
            "run `flask db upgrade` to the same revision first."
        )
    known = {t.name for t in tables()}
    unknown = set(manifest["tables"]) - known
    if unknown:
        raise BackupError(f"The archive has tables this instance does not: {', '.join(sorted(unknown))}.")
    summary = Summary(revision=revision, documents=len(files))
    for table in reversed(tables()):
        db.session.execute(table.delete())
    for table in tables():
        decoders = {c.name: _decoder(c) for c in table.columns}
        count = 0
        for data in members.get(table.name, []):
            batch = []
            for line in data.decode().splitlines():
                row = json.loads(line)
                batch.append({k: (decoders[k](v) if v is not None and decoders[k] else v) for k, v in row.items()})
            if batch:
                db.session.execute(table.insert(), batch)
                count += len(batch)
        if count != manifest["tables"].get(table.name, 0):
            db.session.rollback()
            raise BackupError(f"Table {table.name}: expected {manifest['tables'].get(table.name)} rows, read {count}.")
        _reset_sequences(table)
        summary.tables[table.name] = count
    folder = documents_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, data in files.items():
        target = folder / name
        target.write_bytes(data)
        target.chmod(0o600)
    db.session.commit()
    return summary

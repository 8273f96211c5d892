"""The blob store: every file the service keeps (uploaded documents, copies of records), encrypted, behind one
interface with two backends chosen by BLOB_BACKEND:

- `filesystem` — files under the instance folder (`<instance>/documents/<uid>`, `<instance>/access/...`): the
  embedded default, for `make run` and SQLite. One host only.
- `database` — the same bytes as rows of `blob_chunks` in the service's database: the default whenever
  DATABASE_URL is PostgreSQL, so that every web host and job worker sees the same files, and the database's
  own backups and replicas carry them.

A file is a run of chunks of at most CHUNK bytes, each sealed with AES-GCM (shared.platform.crypto) under the
caller's context (the object's own, e.g. `documents.content.<uid>`) plus the chunk's place and whether it is
the last, so chunks cannot be swapped between files, reordered, dropped or the file cut short unnoticed. Both
backends write and read chunk by chunk: a 20 MB download streams, never held whole. Files written before the
store were one sealed piece under the plain context; they still open (and key rotation rewrites them chunked).

The serialised form of a file is the same for both backends (MAGIC, then each sealed chunk with its length;
a one-piece file is its bytes as they are), so backups and `blobs move` copy ciphertext without opening it.

Database writes join the caller's transaction (a failed upload leaves no chunks); filesystem writes are
atomic renames, undone by the caller on failure (`delete`).
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import delete, func, select

from shared.models.blobs import BlobChunk
from shared.platform.crypto import DecryptionError, current_key_id, decrypt_bytes, encrypt_bytes, key_id_of
from shared.platform.extensions import db

CHUNK = 1024 * 1024
MAGIC = b"ADVICE-BLOB-1\n"
_LEN = struct.Struct(">I")
_NAME = re.compile(r"^[a-z]+/[A-Za-z0-9][A-Za-z0-9.]{0,150}$")
BACKENDS = ("filesystem", "database")
FOLDERS = ("documents", "access")  # what the service keeps; names are "<folder>/<file>"


class BlobMissing(Exception):
    """No such file in the store."""


class BlobDamaged(Exception):
    """The stored file does not open: altered, cut short, or under a key this instance does not have."""


@dataclass(frozen=True)
class Stored:
    size: int  # plaintext bytes
    sha256: str  # of the plaintext
    key_id: str


def check_name(name: str) -> str:
    if not _NAME.match(name or "") or ".." in name:
        raise BlobMissing(name)
    return name


def _context(context: str, index: int, last: bool) -> str:
    return f"{context}.{index}.{int(last)}"


def _pieces(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    """The plaintext as pieces of at most CHUNK bytes."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start : start + CHUNK])
        return
    buffer = bytearray()
    for part in data:
        buffer += part
        while len(buffer) >= CHUNK:
            yield bytes(buffer[:CHUNK])
            del buffer[:CHUNK]
    if buffer:
        yield bytes(buffer)


def _with_last(items: Iterable) -> Iterator[tuple]:
    """(item, is_last) for each item, looking one ahead."""
    it = iter(items)
    try:
        current = next(it)
    except StopIteration:
        return
    for following in it:
        yield current, False
        current = following
    yield current, True


class BlobStore:
    """The interface; a backend supplies the sealed-chunk layer (`_write`, `_sealed`, `delete`, `names`,
    `exists`)."""

    backend = ""

    # --- what a backend provides -------------------------------------------------------------------------

    def _write(self, name: str, sealed: Iterable[tuple[int, bytes]]) -> None:  # (seq, sealed chunk)
        raise NotImplementedError

    def _sealed(self, name: str) -> Iterator[tuple[int, bytes]]:  # in order; BlobMissing if absent
        raise NotImplementedError

    def delete(self, name: str) -> None:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def names(self) -> list[str]:
        raise NotImplementedError

    # --- shared by both ----------------------------------------------------------------------------------

    def put(self, name: str, data: bytes | Iterable[bytes], context: str) -> Stored:
        """Encrypt and store `data` (bytes, or pieces of any size) as `name`, replacing any file of that name."""
        check_name(name)
        digest, size = hashlib.sha256(), 0

        def sealed():
            nonlocal size
            pieces = _pieces(data)
            first = next(pieces, b"")  # an empty file is one empty, last chunk

            def all_pieces():
                yield first
                yield from pieces

            for index, (piece, last) in enumerate(_with_last(all_pieces())):
                digest.update(piece)
                size += len(piece)
                yield index, encrypt_bytes(piece, _context(context, index, last))

        self._write(name, sealed())
        return Stored(size, digest.hexdigest(), current_key_id())

    def open(self, name: str, context: str) -> Iterator[bytes]:
        """The plaintext, chunk by chunk. Raises BlobMissing at once if there is no such file; BlobDamaged
        (while iterating) if a chunk does not open or the file is cut short."""
        sealed = self._sealed(check_name(name))
        first = next(sealed, None)
        if first is None:
            raise BlobMissing(name)
        return self._opened(first, sealed, context)

    @staticmethod
    def _opened(first, sealed, context: str) -> Iterator[bytes]:
        seq, blob = first
        try:
            if seq == -1:  # written before the store: one piece under the plain context
                yield decrypt_bytes(blob, context)
                return
            for expected, ((seq, blob), at_end) in enumerate(_chain(first, sealed)):
                if seq != expected:
                    raise BlobDamaged("a chunk is missing")
                # The last chunk is sealed as the last: a file cut short, or with chunks added, does not open.
                yield decrypt_bytes(blob, _context(context, seq, at_end))
        except DecryptionError as exc:
            raise BlobDamaged(str(exc)) from exc

    def open_checked(self, name: str, context: str, sha256: str | None = None) -> Iterator[bytes]:
        """Like `open`, but the first chunk is opened before returning (a missing file, a wrong key or an
        altered first chunk raises here, before anything is sent), and with `sha256` the whole plaintext's
        digest is checked as the last chunk goes: a mismatch raises BlobDamaged instead of finishing."""
        chunks = self.open(name, context)
        first = next(chunks, b"")
        second = next(chunks, None)
        if second is None:  # one chunk (most files): checked whole before anything is sent
            if sha256 is not None and hashlib.sha256(first).hexdigest() != sha256:
                raise BlobDamaged("the file's digest is not the one recorded")
            return iter((first,))
        return _checked(first, _chain_plain(second, chunks), sha256)

    def read(self, name: str, context: str) -> bytes:
        """The whole plaintext (for what needs it whole: attaching a document to a copy of records)."""
        return b"".join(self.open(name, context))

    def key_ids(self, name: str) -> set[str]:
        return {kid for _, kid in self._sealed_heads(name)}

    def rotate(self, name: str, context: str) -> bool:
        """Re-encrypt `name` under the newest key if any chunk is under another (or it is one old piece)."""
        newest = current_key_id()
        chunks = list(self._sealed_heads(name))
        if chunks and all(seq >= 0 and kid == newest for seq, kid in chunks):
            return False
        self._rewrite(name, context)
        return True

    def _sealed_heads(self, name: str) -> Iterator[tuple[int, str]]:
        for seq, blob in self._sealed(check_name(name)):
            yield seq, key_id_of(blob)

    def _rewrite(self, name: str, context: str) -> None:
        self.put(name, self.open(name, context), context)

    # --- the serialised form (backups, moving between backends) ------------------------------------------

    def export(self, name: str) -> Iterator[bytes]:
        """The file's ciphertext in the serialised form, piece by piece, without opening it."""
        sealed = self._sealed(check_name(name))
        first = next(sealed, None)
        if first is None:
            raise BlobMissing(name)
        if first[0] == -1:
            yield first[1]
            return
        yield MAGIC
        for _, blob in _chain_plain(first, sealed):
            yield _LEN.pack(len(blob)) + blob

    def export_size(self, name: str) -> int:
        return sum(len(piece) for piece in self.export(name))

    def digest(self, name: str) -> str:
        """SHA-256 of the serialised form: equal in two stores means the same ciphertext."""
        h = hashlib.sha256()
        for piece in self.export(name):
            h.update(piece)
        return h.hexdigest()

    def import_(self, name: str, stream: BinaryIO) -> None:
        """Store a file from its serialised form, read from `stream` piece by piece."""
        check_name(name)
        head = stream.read(len(MAGIC))
        if head != MAGIC:  # one piece, as written before the store
            self._write(name, [(-1, head + stream.read())])
            return

        def sealed():
            index = 0
            while size := stream.read(_LEN.size):
                if len(size) < _LEN.size:
                    raise BlobDamaged("the file is cut short")
                blob = stream.read(_LEN.unpack(size)[0])
                yield index, blob
                index += 1

        self._write(name, sealed())


def _checked(first: bytes, rest: Iterator[bytes], sha256: str | None) -> Iterator[bytes]:
    """The chunks, the last held back until the digest of the whole is checked."""
    digest = hashlib.sha256()
    for chunk, last in _with_last(_chain_plain(first, rest)):
        digest.update(chunk)
        if last and sha256 is not None and digest.hexdigest() != sha256:
            raise BlobDamaged("the file's digest is not the one recorded")
        yield chunk


def _chain(first, rest) -> Iterator[tuple[tuple[int, bytes], bool]]:
    return _with_last(_chain_plain(first, rest))


def _chain_plain(first, rest):
    yield first
    yield from rest


class FilesystemStore(BlobStore):
    """Files under a folder (the instance folder), one file per blob in the serialised form."""

    backend = "filesystem"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def _write(self, name, sealed):
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.writing")
        try:
            with open(tmp, "wb") as fh:
                os.fchmod(fh.fileno(), 0o600)
                started = False
                for seq, blob in sealed:
                    if seq == -1:
                        fh.write(blob)
                        continue
                    if not started:
                        fh.write(MAGIC)
                        started = True
                    fh.write(_LEN.pack(len(blob)) + blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def _sealed(self, name):
        try:
            fh = open(self.path(name), "rb")  # noqa: SIM115 (closed by the generator)
        except (FileNotFoundError, NotADirectoryError):
            return iter(())
        return self._frames(fh)

    @staticmethod
    def _frames(fh) -> Iterator[tuple[int, bytes]]:
        with fh:
            head = fh.read(len(MAGIC))
            if head != MAGIC:
                yield -1, head + fh.read()
                return
            index = 0
            while size := fh.read(_LEN.size):
                if len(size) < _LEN.size:
                    raise BlobDamaged("the file is cut short")
                yield index, fh.read(_LEN.unpack(size)[0])
                index += 1

    def delete(self, name):
        self.path(name).unlink(missing_ok=True)

    def exists(self, name):
        return self.path(name).is_file()

    def names(self):
        out = []
        for folder in FOLDERS:
            directory = self.root / folder
            if directory.is_dir():
                for file in sorted(directory.iterdir()):
                    name = f"{folder}/{file.name}"
                    if file.is_file() and _NAME.match(name) and not file.name.endswith((".writing", ".tmp")):
                        out.append(name)
        return out


class DatabaseStore(BlobStore):
    """Rows of blob_chunks in the service's database, written and read one chunk at a time, in the caller's
    session (and so its transaction)."""

    backend = "database"

    def _write(self, name, sealed):
        db.session.execute(delete(BlobChunk).where(BlobChunk.name == name))
        for seq, blob in sealed:
            db.session.execute(BlobChunk.__table__.insert().values(name=name, seq=seq, data=blob))

    def _sealed(self, name):
        seqs = db.session.scalars(select(BlobChunk.seq).where(BlobChunk.name == name).order_by(BlobChunk.seq)).all()
        return self._rows(name, seqs)

    @staticmethod
    def _rows(name, seqs):
        for seq in seqs:  # one chunk per statement: never more than one in memory
            blob = db.session.scalar(select(BlobChunk.data).where(BlobChunk.name == name, BlobChunk.seq == seq))
            if blob is None:
                raise BlobDamaged("a chunk went missing while reading")
            yield seq, bytes(blob)

    def _sealed_heads(self, name):
        # The key id is in each chunk's first bytes: read those, not the chunks.
        rows = db.session.execute(
            select(BlobChunk.seq, func.substr(BlobChunk.data, 1, 48))
            .where(BlobChunk.name == check_name(name)).order_by(BlobChunk.seq)
        )
        for seq, head in rows:
            yield seq, key_id_of(bytes(head))

    def _rewrite(self, name, context):
        # Chunk by chunk in place: each chunk is re-sealed under the newest key with the same place.
        sealed = list(self._sealed_heads(name))
        if sealed and sealed[0][0] == -1:  # one old piece (bounded by the upload limit): read, then rewrite
            data = self.read(name, context)
            self.put(name, data, context)
            return
        newest = current_key_id()
        for index, ((seq, kid), last) in enumerate(_with_last(sealed)):
            if kid == newest:
                continue
            blob = db.session.scalar(select(BlobChunk.data).where(BlobChunk.name == name, BlobChunk.seq == seq))
            chunk_context = _context(context, index, last)
            try:
                plain = decrypt_bytes(bytes(blob), chunk_context)
            except DecryptionError as exc:
                raise BlobDamaged(str(exc)) from exc
            db.session.execute(
                BlobChunk.__table__.update()
                .where(BlobChunk.name == name, BlobChunk.seq == seq)
                .values(data=encrypt_bytes(plain, chunk_context))
            )

    def delete(self, name):
        db.session.execute(delete(BlobChunk).where(BlobChunk.name == check_name(name)))

    def exists(self, name):
        return db.session.scalar(select(BlobChunk.seq).where(BlobChunk.name == check_name(name)).limit(1)) is not None

    def names(self):
        return list(db.session.scalars(select(BlobChunk.name).distinct().order_by(BlobChunk.name)))

    def export_size(self, name):
        rows = db.session.execute(
            select(BlobChunk.seq, func.length(BlobChunk.data)).where(BlobChunk.name == check_name(name))
        ).all()
        if not rows:
            raise BlobMissing(name)
        if rows[0][0] == -1:
            return rows[0][1]
        return len(MAGIC) + sum(_LEN.size + length for _, length in rows)


def store_for(backend: str, app=None) -> BlobStore:
    app = app or current_app
    if backend == "database":
        return DatabaseStore()
    if backend == "filesystem":
        return FilesystemStore(app.instance_path)
    raise ValueError(f"BLOB_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")


def store() -> BlobStore:
    """The store this instance is configured with."""
    return store_for(current_app.config["BLOB_BACKEND"])


@dataclass
class Moved:
    moved: int = 0
    already: int = 0  # found in the target with the same digest (a resumed move), removed from the source


def move(source: BlobStore, target: BlobStore, *, limit: int | None = None) -> Moved:
    """Move every file from `source` to `target`, each verified by the digest of its ciphertext before the
    source copy is removed, one file per commit: interrupted, it is run again and carries on."""
    result = Moved()
    for name in source.names():
        if limit is not None and result.moved >= limit:
            break
        want = source.digest(name)
        if target.exists(name) and target.digest(name) == want:
            result.already += 1
        else:
            target.import_(name, _Reader(source.export(name)))
            if target.digest(name) != want:
                db.session.rollback()
                raise BlobDamaged(f"{name}: the copy's digest does not match; the source is kept")
            result.moved += 1
        db.session.commit()  # the database copy is kept before the source goes
        source.delete(name)
        db.session.commit()
    return result


class _Reader:
    """A file-like over an iterator of bytes (the serialised form)."""

    def __init__(self, pieces: Iterable[bytes]):
        self.pieces, self.buffer = iter(pieces), bytearray()

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buffer) < n:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.buffer += piece
        if n < 0:
            out, self.buffer = bytes(self.buffer), bytearray()
            return out
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out


def reader(pieces: Iterable[bytes]) -> _Reader:
    return _Reader(pieces)

"""Key rotation: re-encrypt every encrypted value and every encrypted file under the newest key.

Put a new key first in ENCRYPTION_KEYS (keep the old ones after it), then run
`flask --app wsgi keys rotate`. Fields are found generically: every `encrypted(...)` descriptor on every
mapped model. Files are the kinds registered in FILE_STORES (documents, copies of records), kept in the
blob store (shared.platform.blobs) whichever its backend; each file is re-sealed chunk by chunk. Work is
done in batches, each committed, walking each table by primary key, so the command can be interrupted and
run again: values already under the newest key are skipped. When `keys status` shows nothing under an old
key, that key can be removed from ENCRYPTION_KEYS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, func, not_, select, true, update

from shared.casework import documents
from shared.models import Base, Document
from shared.models.access import AccessRequest
from shared.platform import blobs
from shared.platform.crypto import PREFIX, current_key_id, decrypt_text, encrypt_text, encrypted
from shared.platform.extensions import db
from shared.subject_access.copy_store import pdf_context


@dataclass(frozen=True)
class EncryptedField:
    model: type
    name: str  # the Python attribute (plaintext)
    column: object  # the Column holding the ciphertext

    @property
    def label(self) -> str:
        return f"{self.model.__tablename__}.{self.name}"

    def context(self, uid: str) -> str:  # the same binding as shared.platform.crypto.encrypted._context
        return f"{self.model.__tablename__}.{self.name}.{uid}"


def encrypted_fields() -> list[EncryptedField]:
    """Every encrypted descriptor on every mapped class, found by looking, not by a hand-kept list."""
    found = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        for klass in cls.__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, encrypted) and (cls, name) not in found:
                    column = mapper.attrs[value.column].columns[0]
                    found[(cls, name)] = EncryptedField(cls, name, column)
    return sorted(found.values(), key=lambda f: f.label)


@dataclass(frozen=True)
class FileStore:
    """Encrypted files in the blob store belonging to rows of `model`."""

    name: str
    model: type
    blob: Callable[[object], str | None]  # the row's file's name in the blob store
    context: Callable[[object], str]
    key_attr: str | None = None  # a column recording the file's key id, kept up to date
    where: Callable[[], object] | None = None




FILE_STORES: list[FileStore] = [
    FileStore(
        name="documents",
        model=Document,
        blob=lambda d: documents.blob_name(d.uid),
        context=lambda d: documents.content_context(d.uid),
        key_attr="key_id",
        where=lambda: Document.deleted_at.is_(None),
    ),
    FileStore(
        name="copies of records",
        model=AccessRequest,
        blob=lambda r: r.pdf_path,
        context=pdf_context,
        key_attr="pdf_key_id",
        where=lambda: AccessRequest.pdf_path.is_not(None),
    ),
]


@dataclass
class Report:
    values: dict = field(default_factory=dict)  # label -> re-encrypted count
    files: dict = field(default_factory=dict)
    missing_files: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.values.values()) + sum(self.files.values())


def _newest_prefix() -> str:
    return f"{PREFIX}:{current_key_id()}:"


def _rotate_field(f: EncryptedField, batch: int, max_batches: int | None) -> tuple[int, int]:
    table = f.model.__table__
    pk = table.primary_key.columns.values()[0]
    keep = [c for c in table.columns if c.onupdate is not None]  # re-encrypting is not an update
    prefix = _newest_prefix()
    last, done, batches = None, 0, 0
    while max_batches is None or batches < max_batches:
        stmt = select(pk, table.c.uid, f.column, *keep).where(
            f.column.is_not(None), not_(f.column.startswith(prefix, autoescape=True))
        )
        if last is not None:
            stmt = stmt.where(pk > last)
        rows = db.session.execute(stmt.order_by(pk).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            context = f.context(row.uid)
            plain = decrypt_text(row[2], context)
            values = {f.column.key: encrypt_text(plain, context)}
            values.update({c.key: row._mapping[c] for c in keep})
            db.session.execute(update(table).where(pk == row[0]).values(values))
        db.session.commit()  # each batch is kept: an interruption loses at most one batch of work
        last, done, batches = rows[-1][0], done + len(rows), batches + 1
    return done, batches


def _rotate_files(store: FileStore, batch: int, report: Report) -> int:
    model = store.model
    pk = model.__mapper__.primary_key[0]
    newest = current_key_id()
    files = blobs.store()
    last, done = None, 0
    while True:
        stmt = select(model)
        conditions = [store.where()] if store.where else []
        if store.key_attr:
            column = getattr(model, store.key_attr)
            conditions.append((column != newest) | column.is_(None))
        if last is not None:
            conditions.append(pk > last)
        rows = db.session.scalars(stmt.where(and_(true(), *conditions)).order_by(pk).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            name = store.blob(row)
            if name is None or not files.exists(name):
                report.missing_files.append(f"{store.name}:{getattr(row, pk.key)}")
                continue
            # A crash after a file's rewrite but before the commit is harmless: each chunk names its own key.
            if files.rotate(name, store.context(row)):
                done += 1
            if store.key_attr:
                setattr(row, store.key_attr, newest)
        db.session.commit()
        last = getattr(rows[-1], pk.key)
    return done


def rotate(batch: int = 500, max_batches: int | None = None) -> Report:
    """Re-encrypt everything not yet under the newest key. `max_batches` (per field) is for tests that
    simulate an interruption."""
    report = Report()
    for f in encrypted_fields():
        done, _ = _rotate_field(f, batch, max_batches)
        if done:
            report.values[f.label] = done
    if max_batches is None:
        for store in FILE_STORES:
            done = _rotate_files(store, batch, report)
            if done:
                report.files[store.name] = done
    return report


def key_status() -> dict:
    """How many values and files are under each key id: {label: {kid: count}}."""
    out = {}
    for f in encrypted_fields():
        prefix_len = len(PREFIX) + 1
        rest = func.substr(f.column, prefix_len + 1, 40)
        counts = {}
        for (value,) in db.session.execute(select(rest).where(f.column.is_not(None))):
            kid = value.split(":", 1)[0]
            counts[kid] = counts.get(kid, 0) + 1
        if counts:
            out[f.label] = counts
    files = blobs.store()
    for store in FILE_STORES:
        counts = {}
        stmt = select(store.model)
        if store.where:
            stmt = stmt.where(store.where())
        for row in db.session.scalars(stmt):
            name = store.blob(row)
            if name is not None and files.exists(name):
                for kid in files.key_ids(name):  # a file half-rotated counts under both keys
                    counts[kid] = counts.get(kid, 0) + 1
        if counts:
            out[f"files:{store.name}"] = counts
    return out


def old_key_ids_in_use() -> set[str]:
    newest = current_key_id()
    return {kid for counts in key_status().values() for kid in counts if kid != newest}

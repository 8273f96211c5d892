"""Documents: uploads checked by their content, stored encrypted outside the web root, downloaded safely.

The type is decided from the bytes (magic numbers), never from the name or the browser's claim. A Word
.docx is a zip that holds word/document.xml; any other zip is refused, and so is a zip bomb (a listing that
promises more than we would ever unpack, or members that unpack to more than the listing says) and a zip
whose member names would unpack outside the folder they are unpacked into. Plain text that a browser
would take for a web page (markup) or a system for a program (#!) is refused too. The bytes are encrypted with the document's uid
as associated data and kept in the blob store (shared.platform.blobs) as `documents/<uid>`: in the database,
or in the instance folder (a folder the web server never serves). A download streams from the store chunk by
chunk and always gets a fixed name (`document-<id>.<ext>`), `attachment` and `no-store`.

Services here do not commit: callers add documents inside their own transaction (a case, a message), call
`remove_files` if that transaction fails, and audit the upload with the change it belongs to.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import or_, select

from shared.audit import log as audit
from shared.casework import wall
from shared.models import Case, Document, Staff, Student
from shared.platform import blobs
from shared.platform.crypto import new_uid
from shared.platform.errors import NotFound, ValidationFailed
from shared.platform.extensions import db
from shared.security.authz import can_view_all_cases

TYPE_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# content type -> download extension
TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    TYPE_DOCX: "docx",
    "application/msword": "doc",
    "text/plain": "txt",
}
ACCEPTED_DESCRIPTION = "PDF, an image (PNG, JPEG, GIF or WebP), a Word document (.docx or .doc) or plain text"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_ZIP_MAX_ENTRIES = 2000
_ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
_ZIP_MAX_RATIO = 200
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what Word writes
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
# Text a browser would sniff as a web page or an SVG image (a tag, a comment, <!DOCTYPE, <?xml), or a
# script with an interpreter line: refused, even though it is text.
_ACTIVE_TEXT = re.compile(r"\s*(<[a-zA-Z!?/]|#!)")
_TITLE_MAX = 200


class DocumentTooLarge(ValidationFailed):
    pass


class DocumentRefused(ValidationFailed):
    message = f"That file type is not accepted. Please send {ACCEPTED_DESCRIPTION}."


@dataclass(frozen=True)
class Upload:
    """A file as the service sees it: the name the person gave it and its bytes."""

    filename: str
    data: bytes


def max_upload_bytes() -> int:
    return current_app.config["MAX_UPLOAD_BYTES"]


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def limit_text() -> str:
    """The upload limit as people read it, e.g. "10 MB"."""
    return _megabytes(max_upload_bytes())


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {info.filename for info in infos}
            if not {"word/document.xml", "[Content_Types].xml"} <= names or not _listing_is_safe(infos):
                return False
            return all(_unpacks_as_listed(zf, info) for info in infos)
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
        return False


def _listing_is_safe(infos: list[zipfile.ZipInfo]) -> bool:
    """What the zip's directory promises, checked before anything is unpacked: not too many members, one
    of each name, none encrypted, a link or outside the folder, and no more unpacked than we would allow."""
    if len(infos) > _ZIP_MAX_ENTRIES or len({info.filename for info in infos}) != len(infos):
        return False
    total = 0
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in _ZIP_METHODS:  # encrypted, or an odd method
            return False
        if not _member_name_is_safe(info.orig_filename) or (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
            return False
        if info.file_size and (not info.compress_size or info.file_size / info.compress_size > _ZIP_MAX_RATIO):
            return False
        total += info.file_size
    return total <= _ZIP_MAX_UNCOMPRESSED


def _member_name_is_safe(name: str) -> bool:
    """A member name that unpacks inside the folder it is unpacked into: relative, forward slashes only,
    no drive letter, no '..' or empty part, no control character (a NUL would hide the rest of the name)."""
    if not name or name.startswith("/") or "\\" in name or ":" in name:
        return False
    if any(unicodedata.category(c) == "Cc" for c in name):
        return False
    return all(part not in ("", ".", "..") for part in name.removesuffix("/").split("/"))


def _unpacks_as_listed(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Unpack one member, never past its listed size, and check it is exactly that size: zipfile stops at
    the listed size and checks the CRC at the end, so a member that holds more (or less) than its listing
    says is refused. The listing was checked first, so this unpacks at most what we would allow."""
    left = info.file_size
    with zf.open(info) as member:
        while chunk := member.read(1024 * 1024):
            left -= len(chunk)
    return left == 0


def _is_text(data: bytes) -> bool:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if _ACTIVE_TEXT.match(text):
        return False
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text)


def detect_type(data: bytes) -> str | None:
    """The content type the bytes really are, or None if we do not accept them."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"PK\x03\x04"):
        return TYPE_DOCX if _is_docx(data) else None
    if data.startswith(_OLE_MAGIC):
        return "application/msword" if _WORD_STREAM in data else None
    if data and _is_text(data):
        return "text/plain"
    return None



def check(upload: Upload) -> str:
    """Refuse an empty, oversize or unaccepted file with a message that says what to do; else its type."""
    name = clean_title(upload.filename)
    limit = max_upload_bytes()
    if not upload.data:
        raise DocumentRefused(f"The file {name} is empty. Please choose the file again.")
    if len(upload.data) > limit:
        raise DocumentTooLarge(f"The file {name} is larger than {_megabytes(limit)}. Please send a smaller file.")
    content_type = detect_type(upload.data)
    if content_type is None:
        raise DocumentRefused(f"The file {name} is not a type we accept. Please send {ACCEPTED_DESCRIPTION}.")
    return content_type


def clean_title(filename: str) -> str:
    """The uploader's name for the file, for display only (escaped on output, never used as a path)."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:_TITLE_MAX] or "file"


def blob_name(uid: str) -> str:
    """The document's name in the blob store."""
    if not uid or not uid.isalnum():
        raise NotFound()
    return f"documents/{uid}"


def content_context(uid: str) -> str:
    return f"documents.content.{uid}"


def add(
    upload: Upload,
    *,
    student_id: int,
    case_id: int | None = None,
    message_id: int | None = None,
    staff: Staff | None = None,
) -> Document:
    """Check and store one upload in the caller's transaction (the caller audits and commits)."""
    content_type = check(upload)
    uid = new_uid()
    stored = blobs.store().put(blob_name(uid), upload.data, content_context(uid))
    document = Document(
        uid=uid,
        case_id=case_id,
        student_id=student_id,
        message_id=message_id,
        uploaded_by_student=staff is None,
        uploaded_by_staff_id=staff.id if staff else None,
        content_type=content_type,
        size_bytes=stored.size,
        sha256=stored.sha256,
        key_id=stored.key_id,
    )
    document.title = clean_title(upload.filename)
    db.session.add(document)
    return document


def remove_files(documents: list[Document]) -> None:
    """Undo the files of documents whose transaction failed, so no orphaned ciphertext is left behind."""
    store = blobs.store()
    for document in documents:
        store.delete(blob_name(document.uid))


def download_name(document: Document) -> str:
    return f"document-{document.id}.{TYPES.get(document.content_type, 'bin')}"


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    chunks: Iterator[bytes]  # the plaintext, streamed from the store
    size: int


def open_plaintext(document: Document) -> Iterator[bytes]:
    """The document's bytes, decrypted chunk by chunk, checked against its recorded digest as they go. A
    missing or unopenable file is NotFound here, before anything is sent. Callers audit the access."""
    if document.deleted_at is not None:
        raise NotFound()
    try:
        return blobs.store().open_checked(blob_name(document.uid), content_context(document.uid), document.sha256)
    except (blobs.BlobMissing, blobs.BlobDamaged) as exc:
        raise NotFound() from exc


def read_plaintext(document: Document) -> bytes:
    """The document's bytes, whole (for attaching it to a copy of records). Callers audit the access."""
    return b"".join(open_plaintext(document))


def _open(document: Document, actor) -> Download:
    chunks = open_plaintext(document)
    audit.record(
        actor, "document.downloaded", document, student_id=document.student_id, case_id=document.case_id
    )
    db.session.commit()
    return Download(download_name(document), document.content_type, chunks, document.size_bytes)


def student_visible():
    """What a student may open: what they sent, and what came with a message to them; never the officers'
    internal case documents (those come through an access request)."""
    return or_(Document.uploaded_by_student.is_(True), Document.message_id.is_not(None))


def download_for_student(student: Student, document_id: int) -> Download:
    document = db.session.scalar(
        select(Document).where(Document.id == document_id, Document.student_id == student.id, student_visible())
    )
    if document is None:
        raise NotFound()
    return _open(document, student)


def download_for_staff(staff: Staff, document_id: int) -> Download:
    if not can_view_all_cases(staff):
        raise NotFound()
    document = db.session.get(Document, document_id)
    if document is None:
        raise NotFound()
    if document.case_id is not None:
        wall.refuse_if_walled(staff, db.session.get(Case, document.case_id))
    return _open(document, staff)

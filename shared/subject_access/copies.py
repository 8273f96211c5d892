"""The copy of a student's records: rendering, encrypting and storing it (run by shared.subject_access.jobs,
never in a web request), the student's download, and discarding it after the download period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from shared.audit import log as audit
from shared.models import (
    AccessRequest,
    AccessStatus,
    Student,
    utcnow,
)
from shared.platform import blobs, mail
from shared.platform.crypto import new_uid
from shared.platform.errors import ServiceError
from shared.platform.extensions import db
from shared.subject_access.copy_store import copy_name, pdf_context
from shared.subject_access.deadlines import (
    service_date,
)
from shared.subject_access.reading import copy_contents, download_open, for_student, get_request, scope_label
from shared.subject_access.records import StudentRecord, format_day
from shared.subject_access.states import EXPIRE, RENDER, advance, check


class DownloadUnavailable(ServiceError):
    message = "This copy can no longer be downloaded. You can ask for a new copy of your records."


class StoredCopyDamaged(ServiceError):
    message = "The stored copy could not be opened. The Advice Service has been told; please ask them for a new copy."


def download(student: Student, request_id: int) -> tuple[str, Iterator[bytes], int | None]:
    """The decrypted PDF as it streams from the store (name, chunks, size), checked against its recorded
    SHA-256 as it goes (the last chunk is held back until it matches). Audited."""
    req = for_student(student, request_id)
    if req.status == AccessStatus.EXPIRED.value:
        raise DownloadUnavailable()
    if req.status != AccessStatus.RELEASED.value:
        raise DownloadUnavailable("This copy is not ready yet.")
    if not download_open(req):
        discard_copy(req)
        db.session.commit()
        raise DownloadUnavailable()
    try:
        chunks = blobs.store().open_checked(req.pdf_path, pdf_context(req), req.pdf_sha256)
    except (blobs.BlobMissing, blobs.BlobDamaged) as exc:
        current_app.logger.error("Access copy %s could not be opened: %s", req.id, type(exc).__name__)
        raise StoredCopyDamaged() from exc
    audit.record(student, "access.downloaded", req, student_id=student.id, case_id=req.case_id, sha256=req.pdf_sha256[:16])
    db.session.commit()
    return f"{req.reference}.pdf", chunks, None


def discard_copy(req: AccessRequest) -> None:
    """After the download period the stored copy is deleted: a new request makes a fresh one."""
    advance(req, EXPIRE)
    if req.pdf_path:
        blobs.store().delete(req.pdf_path)
        req.pdf_path = None
    audit.record("system", "access.copy_discarded", req, student_id=req.student_id)


def discard_expired() -> int:
    expired = db.session.scalars(select(AccessRequest).where(
        AccessRequest.status == AccessStatus.RELEASED.value, AccessRequest.pdf_path.is_not(None),
        AccessRequest.download_expires_at <= utcnow(),
    )).all()
    for req in expired:
        discard_copy(req)
    db.session.commit()
    return len(expired)


def render_context(req: AccessRequest, record: StudentRecord) -> dict:
    released = req.released_at or utcnow()
    return {
        "record": record,
        "sar": {
            "reference": req.reference,
            "received_on": format_day(req.received_on),
            "released_on": format_day(service_date(released)),
            "scope_label": scope_label(req),
        },
    }


def render_copy(request_id: int) -> None:
    """Render, encrypt and store the copy; mark it ready; tell the student. Commits."""
    from shared.platform.pdf import render_pdf

    req = get_request(request_id)
    check(req, RENDER)  # before any work: only a released request's copy is produced
    record = copy_contents(req, load_files=True)
    attachments = [
        (f"{d.item.heading[:80]}.pdf" if not d.item.heading.lower().endswith(".pdf") else d.item.heading[:80], d.pdf_bytes)
        for case in record.cases for d in case.documents if d.pdf_bytes
    ]
    pdf = render_pdf("records.html", render_context(req, record), title=f"Your records from the Advice Service ({req.reference})",
                     attachments=attachments)
    if not req.uid:
        req.uid = new_uid()
    name = copy_name(req)
    stored = blobs.store().put(name, pdf, pdf_context(req))
    del pdf
    now = utcnow()
    req.pdf_path, req.pdf_key_id, req.pdf_sha256 = name, stored.key_id, stored.sha256
    req.ready_at = now
    req.download_expires_at = now + timedelta(days=current_app.config["ACCESS_DOWNLOAD_DAYS"])
    advance(req, RENDER)
    audit.record("system", "access.copy_ready", req, student_id=req.student_id, case_id=req.case_id,
                 sha256=req.pdf_sha256[:16])
    mail.send(req.student.email, "access_ready", download_days=current_app.config["ACCESS_DOWNLOAD_DAYS"])
    db.session.commit()


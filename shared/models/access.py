"""Subject access requests: the student's request for a copy of their records, the reviewer's redaction
log kept with it, and the rendering job whose state lives here so that a crash can be retried.

The deadline arithmetic (ICO: one calendar month, paused while waiting, extendable by two) is in
`shared/subject_access/deadlines.py`; `due_on` is stored so the queue can be sorted by it, and recomputed by every service
that changes a date it depends on.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.accounts import Staff, Student
from shared.models.base import Base, UTCDateTime, utcnow
from shared.platform.crypto import encrypted


class AccessStatus(enum.StrEnum):
    """Where a request is. Which action leads from one to another is `shared.subject_access.states.TRANSITIONS`."""

    RECEIVED = "received"  # the clock is running; the copy is being prepared (and redacted)
    PAUSED = "paused"  # waiting for clarification or proof of identity: the clock is stopped
    REVIEWED = "reviewed"  # an officer has read the copy as it will be released; it may now be released
    REFUSED = "refused"  # manifestly unfounded or excessive, with the reason the student sees
    RELEASING = "releasing"  # released by an officer; the copy is being produced
    RELEASED = "released"  # the copy is ready to download
    EXPIRED = "expired"  # the download period is over and the stored copy is deleted


OPEN_STATUSES = (AccessStatus.RECEIVED.value, AccessStatus.PAUSED.value, AccessStatus.REVIEWED.value,
                 AccessStatus.RELEASING.value)
# Not yet answered: the student sees the date we will reply by, and the clock counts.
UNANSWERED_STATUSES = (AccessStatus.RECEIVED.value, AccessStatus.PAUSED.value, AccessStatus.REVIEWED.value)


class PauseReason(enum.StrEnum):
    CLARIFICATION = "clarification"
    IDENTITY = "identity"


class RedactionTarget(enum.StrEnum):
    """What a redaction hides. With a passage, only those words; without, the whole item."""

    PROFILE = "profile"
    CASE = "case"  # the casework form answers of a case
    ENTRY = "entry"  # a case record entry, every version
    ENTRY_VERSION = "entry_version"  # one wording of an entry
    MESSAGE = "message"
    DOCUMENT = "document"
    FLAG = "flag"  # a reflective-practice note
    CONSENT = "consent"
    DISCLOSURE = "disclosure"


class RenderState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AccessRequest(Base):
    __tablename__ = "access_requests"
    __table_args__ = (Index("ix_access_requests_status_due", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # SAR-2026-0007
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # None: everything
    _note_enc: Mapped[str | None] = mapped_column("note_enc", Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    received_on: Mapped[date] = mapped_column(Date)  # the day the clock starts (UK date)
    status: Mapped[str] = mapped_column(String(20), default=AccessStatus.RECEIVED.value)
    base_due_on: Mapped[date] = mapped_column(Date)  # one calendar month from receipt
    due_on: Mapped[date] = mapped_column(Date)  # with pauses and any extension

    extension_months: Mapped[int] = mapped_column(Integer, default=0)
    _extension_reason_enc: Mapped[str | None] = mapped_column("extension_reason_enc", Text)
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extended_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    extension_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the student was told

    _refusal_reason_enc: Mapped[str | None] = mapped_column("refusal_reason_enc", Text)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refused_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    # Who read the copy as it would be released, and when; cleared when the copy changes after that.
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pdf_path: Mapped[str | None] = mapped_column(String(200))  # the copy's name in the blob store
    pdf_key_id: Mapped[str | None] = mapped_column(String(20))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))  # of the PDF itself, before encryption
    pdf_pages: Mapped[int | None] = mapped_column(Integer)
    download_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    note = encrypted("_note_enc")
    extension_reason = encrypted("_extension_reason_enc")
    refusal_reason = encrypted("_refusal_reason_enc")

    student: Mapped[Student] = relationship()
    extended_by: Mapped[Staff | None] = relationship(foreign_keys=[extended_by_id])
    refused_by: Mapped[Staff | None] = relationship(foreign_keys=[refused_by_id])
    reviewed_by: Mapped[Staff | None] = relationship(foreign_keys=[reviewed_by_id])
    released_by: Mapped[Staff | None] = relationship(foreign_keys=[released_by_id])
    pauses: Mapped[list[AccessPause]] = relationship(order_by="AccessPause.id", back_populates="request")
    redactions: Mapped[list[Redaction]] = relationship(order_by="Redaction.id", back_populates="request")
    jobs: Mapped[list[RenderJob]] = relationship(order_by="RenderJob.id", back_populates="request")


class AccessPause(Base):
    """The clock stopped while the service waited for clarification or proof of identity."""

    __tablename__ = "access_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # PauseReason
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[AccessRequest] = relationship(back_populates="pauses")


class Redaction(Base):
    """One line of the redaction log kept with the request: what was withheld, why, by whom, when."""

    __tablename__ = "access_redactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    target_kind: Mapped[str] = mapped_column(String(20))  # RedactionTarget
    target_id: Mapped[int] = mapped_column(Integer)
    _passage_enc: Mapped[str | None] = mapped_column("passage_enc", Text)  # None: the whole item
    _reason_enc: Mapped[str] = mapped_column("reason_enc", Text)
    redacted_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    redacted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    passage = encrypted("_passage_enc")
    reason = encrypted("_reason_enc")

    request: Mapped[AccessRequest] = relationship(back_populates="redactions")
    redacted_by: Mapped[Staff] = relationship()


class RenderJob(Base):
    """Producing the copy, outside any web request. A crashed or failed job can be run again."""

    __tablename__ = "render_jobs"
    __table_args__ = (Index("ix_render_jobs_state", "state", "queued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=RenderState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300))  # an error class and short message, no record text
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[AccessRequest] = relationship(back_populates="jobs")

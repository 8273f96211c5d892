"""The outbox: every email the service sends is first a row, written in the same transaction as the work it
tells of, so an email exists only if that work was committed (shared.platform.mail delivers it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, UTCDateTime, utcnow
from shared.platform.crypto import encrypted


class OutgoingEmail(Base):
    """One email waiting to be delivered. Deleted once delivered; a failed attempt waits (`next_attempt_at`)
    and is tried again. A sender claims the row (`claimed_at`) before delivering, so two never send it twice.
    The body is encrypted like any other text about a student; the subject is the service's own words."""

    __tablename__ = "outgoing_emails"
    __table_args__ = (Index("ix_outgoing_emails_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    _body_enc: Mapped[str] = mapped_column("body_enc", Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))

    body = encrypted("_body_enc")

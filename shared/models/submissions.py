"""Submission keys: each rendered form carries a one-time key, and a key once used is kept with where its
post led, so the same form sent again (a double click, a browser retry, a reply lost to a crash) does nothing
and is answered with the first outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, UTCDateTime, utcnow


class SubmissionKey(Base):
    __tablename__ = "submission_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    login_session_id: Mapped[int | None] = mapped_column(ForeignKey("login_sessions.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    outcome: Mapped[str | None] = mapped_column(String(500))  # where the first post led; None while it runs

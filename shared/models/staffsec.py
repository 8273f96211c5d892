"""Staff security and the data lifecycle: recovery codes, policy acceptance, service settings and
students' erasure requests."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.accounts import Staff, Student
from shared.models.base import Base, UTCDateTime, utcnow
from shared.platform.crypto import encrypted


class RecoveryCode(Base):
    """One of a staff member's ten single-use recovery codes, stored as a SHA-256 of an 80-bit code."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PolicyAcceptance(Base):
    """A staff member accepted a version of the confidentiality policy (who, which version, when)."""

    __tablename__ = "policy_acceptances"
    __table_args__ = (UniqueConstraint("staff_id", "version", name="staff_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    version: Mapped[str] = mapped_column(String(20))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    staff: Mapped[Staff] = relationship()


class ServiceSetting(Base):
    """A setting the administrator changes in the back office (the retention period, for example)."""

    __tablename__ = "service_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ErasureStatus(enum.StrEnum):
    RECEIVED = "received"
    ERASED = "erased"  # everything the rules allowed was erased
    PARTLY = "partly"  # some records are held (open case, access request, breach record)
    REFUSED = "refused"


class ErasureRequest(Base):
    """A student asked for their records to be erased; staff decide against the retention rules."""

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    _details_enc: Mapped[str | None] = mapped_column("details_enc", Text)  # the student's own words
    status: Mapped[str] = mapped_column(String(20), default=ErasureStatus.RECEIVED.value)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    _outcome_enc: Mapped[str | None] = mapped_column("outcome_enc", Text)  # what the student is told
    # For staff only, never shown to the student: what was kept without telling them, and why
    _staff_note_enc: Mapped[str | None] = mapped_column("staff_note_enc", Text)

    details = encrypted("_details_enc")
    outcome = encrypted("_outcome_enc")
    staff_note = encrypted("_staff_note_enc")

    student: Mapped[Student] = relationship()
    decided_by: Mapped[Staff | None] = relationship()

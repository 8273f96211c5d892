"""Independent file review: the manager's scheme, each quarter's sample, and the reviews drawn in it.

A supervisor reviews a sample of each adviser's case files every quarter against a checklist; what they
found and what must change reaches the adviser. Findings, notes and actions are the reviewer's words about
a student's case: encrypted like the case record. Findings and actions carry the case's id so that
anonymising the case (shared.lifecycle.retention) blanks them with the rest of its rows.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.accounts import Staff
from shared.models.base import Base, UTCDateTime, utcnow
from shared.models.casework import Case
from shared.platform.crypto import encrypted


class ReviewStatus(enum.StrEnum):
    DUE = "due"
    IN_PROGRESS = "in_progress"
    ACTIONS_OPEN = "actions_open"  # the feedback has reached the adviser; the review waits to be closed
    CLOSED = "closed"


class FindingResult(enum.StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "not_applicable"


class ReviewScheme(Base):
    """The one scheme the manager sets (row id 1, made by the migration)."""

    __tablename__ = "review_schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    files_per_adviser: Mapped[int] = mapped_column(Integer, default=2)
    days_to_complete: Mapped[int] = mapped_column(Integer, default=30)  # after the quarter ends
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ChecklistItem(Base):
    """One question of the checklist, in the service's own words. Retired, never deleted: reviews keep the
    wording they were drawn with."""

    __tablename__ = "review_checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ReviewSample(Base):
    """A quarter's draw: who drew it, when, and the seed that reproduces it."""

    __tablename__ = "review_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(7), unique=True)  # 2026-Q4
    seed: Mapped[str] = mapped_column(String(40))
    files_per_adviser: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # Reviews the reviewer's own files (a reviewer never reviews their own); none leaves them out.
    second_reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    drawn_by: Mapped[Staff] = relationship(foreign_keys=[drawn_by_id])


class FileReview(Base):
    """One case file drawn for review. The adviser is the case's officer when the sample was drawn."""

    __tablename__ = "file_reviews"
    __table_args__ = (
        UniqueConstraint("sample_id", "case_id", name="sample_case"),
        Index("ix_file_reviews_adviser_quarter", "adviser_id", "quarter"),
        Index("ix_file_reviews_reviewer_status", "reviewer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    sample_id: Mapped[int] = mapped_column(ForeignKey("review_samples.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    adviser_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    quarter: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.DUE.value)
    due_on: Mapped[date] = mapped_column(Date)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    _findings_enc: Mapped[str | None] = mapped_column("findings_enc", Text)
    _closing_note_enc: Mapped[str | None] = mapped_column("closing_note_enc", Text)  # why it closed with actions open

    findings = encrypted("_findings_enc")
    closing_note = encrypted("_closing_note_enc")

    case: Mapped[Case] = relationship()
    adviser: Mapped[Staff] = relationship(foreign_keys=[adviser_id])
    reviewer: Mapped[Staff] = relationship(foreign_keys=[reviewer_id])
    items: Mapped[list[ReviewFinding]] = relationship(order_by="ReviewFinding.position",
                                                      cascade="all, delete-orphan")
    actions: Mapped[list[ReviewAction]] = relationship(order_by="ReviewAction.id", cascade="all, delete-orphan")


class ReviewFinding(Base):
    """The reviewer's answer to one checklist item, with the wording as it was when the file was drawn."""

    __tablename__ = "review_findings"
    __table_args__ = (UniqueConstraint("review_id", "position", name="review_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    review_id: Mapped[int] = mapped_column(ForeignKey("file_reviews.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_checklist_items.id"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(300))
    result: Mapped[str | None] = mapped_column(String(20))  # FindingResult, None until answered
    _note_enc: Mapped[str | None] = mapped_column("note_enc", Text)

    note = encrypted("_note_enc")


class ReviewAction(Base):
    """Something the adviser must do on the file, by a date; done when the adviser says so."""

    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    review_id: Mapped[int] = mapped_column(ForeignKey("file_reviews.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    _text_enc: Mapped[str | None] = mapped_column("text_enc", Text)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    text = encrypted("_text_enc")

    done_by: Mapped[Staff | None] = relationship()

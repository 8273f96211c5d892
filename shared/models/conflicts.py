"""Conflicts of interest: the other people involved in a case, the possible conflicts the service finds
between two students' cases, and the officers' decisions on them (the ethical wall rests on these)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.accounts import Staff
from shared.models.base import Base, UTCDateTime, utcnow
from shared.platform.crypto import encrypted


class ConflictOutcome(enum.StrEnum):
    NO_CONFLICT = "no_conflict"
    DIFFERENT_ADVISERS = "different_advisers"
    REFER_ELSEWHERE = "refer_elsewhere"


# The outcomes that put up the ethical wall between the two cases.
WALLING = (ConflictOutcome.DIFFERENT_ADVISERS.value, ConflictOutcome.REFER_ELSEWHERE.value)


class PersonInvolved(Base):
    """Someone else involved in a case (the other side of a dispute, a landlord, a member of staff). Who they
    are is sensitive text, kept encrypted; two keyed hashes let the conflict check find the same person
    again without storing their email or name in clear."""

    __tablename__ = "people_involved"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    relation: Mapped[str] = mapped_column(String(30))  # conflicts.RELATIONS
    _name_enc: Mapped[str] = mapped_column("name_enc", Text)
    college_code: Mapped[str | None] = mapped_column(String(60))  # from the college list, if a student
    _organisation_enc: Mapped[str | None] = mapped_column("organisation_enc", Text)
    _email_enc: Mapped[str | None] = mapped_column("email_enc", Text)
    email_key: Mapped[str | None] = mapped_column(String(64), index=True)
    name_key: Mapped[str | None] = mapped_column(String(64), index=True)  # name and college
    added_by_student: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    name = encrypted("_name_enc")
    organisation = encrypted("_organisation_enc")
    email = encrypted("_email_enc")


class PossibleConflict(Base):
    """Two students' cases that may be on opposite sides of one matter. The pair is kept in one order
    (the lower case id first), so it is found once however it was reached."""

    __tablename__ = "possible_conflicts"
    __table_args__ = (
        UniqueConstraint("case_a_id", "case_b_id", name="conflict_pair"),
        CheckConstraint("case_a_id < case_b_id", name="conflict_pair_ordered"),
        Index("ix_possible_conflicts_case_b", "case_b_id"),
        Index("ix_possible_conflicts_outcome", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_a_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_b_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    matched_on: Mapped[str] = mapped_column(String(20))  # email | name_college
    found_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(30))  # the latest decision; None while undecided
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    decisions: Mapped[list[ConflictDecision]] = relationship(
        back_populates="conflict", order_by="ConflictDecision.decided_at", cascade="all, delete-orphan"
    )


class ConflictDecision(Base):
    """One decision on a possible conflict. Decisions are kept: a new one is added, none is changed."""

    __tablename__ = "conflict_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    conflict_id: Mapped[int] = mapped_column(ForeignKey("possible_conflicts.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    _reason_enc: Mapped[str] = mapped_column("reason_enc", Text)
    _referred_to_enc: Mapped[str | None] = mapped_column("referred_to_enc", Text)  # where, if referred
    referred_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # which side, if referred
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    reason = encrypted("_reason_enc")
    referred_to = encrypted("_referred_to_enc")

    conflict: Mapped[PossibleConflict] = relationship(back_populates="decisions")
    decided_by: Mapped[Staff] = relationship()

"""Casework: the student's profile, their cases, and the officers' record of events, advice and action."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.accounts import Staff, Student
from shared.models.base import Base, UTCDateTime, utcnow
from shared.platform.crypto import encrypted


class CaseStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"  # waiting for the student
    CLOSED = "closed"


class EntryKind(enum.StrEnum):
    EVENT = "event"
    ADVICE = "advice"
    ACTION = "action"
    NOTE = "note"
    MEETING = "meeting"


class StudentProfile(Base):
    """Who the student is, reused for their next casework form. Names stay in clear to be searchable."""

    __tablename__ = "student_profiles"
    __table_args__ = (Index("ix_student_profiles_full_name", "full_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    preferred_name: Mapped[str | None] = mapped_column(String(120))
    pronouns: Mapped[str | None] = mapped_column(String(60))
    college_code: Mapped[str | None] = mapped_column(String(60))
    faculty: Mapped[str | None] = mapped_column(String(200))
    course: Mapped[str | None] = mapped_column(String(200))
    year_of_study: Mapped[str | None] = mapped_column(String(30))
    crsid: Mapped[str | None] = mapped_column(String(20), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    safe_channels: Mapped[str | None] = mapped_column(String(100))  # comma-separated: email,phone,text,post
    may_leave_message: Mapped[bool] = mapped_column(Boolean, default=False)
    _contact_notes_enc: Mapped[str | None] = mapped_column("contact_notes_enc", Text)
    _accessibility_enc: Mapped[str | None] = mapped_column("accessibility_enc", Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    contact_notes = encrypted("_contact_notes_enc")
    accessibility_needs = encrypted("_accessibility_enc")

    student: Mapped[Student] = relationship()


# A partial index serves a query only if the query repeats this condition word for word, with the value
# written in (not a bound parameter): casework.OPEN uses the same text.
OPEN_CASE = "status != 'closed'"


class Case(Base):
    """One enquiry. College, faculty and year are copied from the profile at intake, so statistics describe
    the student as they were when they asked for help."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_opened", "status", "opened_at"),
        Index("ix_cases_status_area_opened", "status", "area_code", "opened_at"),  # the list's usual filter
        Index("ix_cases_assigned_status", "assigned_to_id", "status"),
        Index("ix_cases_area_opened", "area_code", "opened_at"),
        Index("ix_cases_college_opened", "college_code", "opened_at"),
        Index("ix_cases_deadline", "deadline"),
        Index("ix_cases_opened_id", "opened_at", "id"),  # newest first, read from the index alone
        Index("ix_cases_deadline_sort", "deadline", "id"),  # the list's "deadline soonest" page, no sort
        Index("ix_cases_awaiting_reply", "awaiting_reply_since"),
        # The dashboard's open cases (a small part of all cases, once the service has run for years): an
        # officer's by deadline, and the unassigned by opening time, without reading the closed ones.
        Index("ix_cases_open_officer_deadline", "assigned_to_id", "deadline", "opened_at",
              sqlite_where=text(OPEN_CASE), postgresql_where=text(OPEN_CASE)),
        Index("ix_cases_open_officer_opened", "assigned_to_id", "opened_at",
              sqlite_where=text(OPEN_CASE), postgresql_where=text(OPEN_CASE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # ADV-2026-0042
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.NEW.value)
    area_code: Mapped[str] = mapped_column(String(60))
    college_code: Mapped[str | None] = mapped_column(String(60))
    faculty: Mapped[str | None] = mapped_column(String(200))
    year_of_study: Mapped[str | None] = mapped_column(String(30))
    contact_method: Mapped[str] = mapped_column(String(30), default="portal")
    urgency: Mapped[str] = mapped_column(String(20), default="normal")  # normal | soon | urgent
    deadline: Mapped[date | None] = mapped_column(Date)
    meeting_preference: Mapped[str | None] = mapped_column(String(20))  # in_person | online | phone
    private_room: Mapped[bool] = mapped_column(Boolean, default=False)
    _what_happened_enc: Mapped[str | None] = mapped_column("what_happened_enc", Text)
    _outcome_wanted_enc: Mapped[str | None] = mapped_column("outcome_wanted_enc", Text)
    _accessibility_enc: Mapped[str | None] = mapped_column("accessibility_enc", Text)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_code: Mapped[str | None] = mapped_column(String(60))
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the student writes and cleared when an officer replies: the dashboard's "awaiting reply".
    awaiting_reply_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    what_happened = encrypted("_what_happened_enc")
    outcome_wanted = encrypted("_outcome_wanted_enc")
    accessibility_needs = encrypted("_accessibility_enc")

    student: Mapped[Student] = relationship()
    assigned_to: Mapped[Staff | None] = relationship()


class CaseEntry(Base):
    """A line in the case record. Its text lives in versions: amending adds a version, never overwrites."""

    __tablename__ = "case_entries"
    __table_args__ = (Index("ix_case_entries_case_occurred", "case_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    current_version: Mapped[int] = mapped_column(Integer, default=1)

    author: Mapped[Staff] = relationship()
    versions: Mapped[list[CaseEntryVersion]] = relationship(
        back_populates="entry", order_by="CaseEntryVersion.version", cascade="all, delete-orphan"
    )


class CaseEntryVersion(Base):
    __tablename__ = "case_entry_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="entry_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    entry_id: Mapped[int] = mapped_column(ForeignKey("case_entries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    _text_enc: Mapped[str] = mapped_column("text_enc", Text)
    _reason_enc: Mapped[str | None] = mapped_column("reason_enc", Text)  # why it was amended
    edited_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    text = encrypted("_text_enc")
    reason = encrypted("_reason_enc")

    entry: Mapped[CaseEntry] = relationship(back_populates="versions")
    edited_by: Mapped[Staff] = relationship()


class Message(Base):
    """The secure thread between a student and the officers, per case."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_case_sent", "case_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    from_student: Mapped[bool] = mapped_column(Boolean)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # the officer who wrote it
    _body_enc: Mapped[str] = mapped_column("body_enc", Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # by the other side

    body = encrypted("_body_enc")

    staff: Mapped[Staff | None] = relationship()


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_case_starts", "case_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int] = mapped_column(Integer, default=45)
    mode: Mapped[str] = mapped_column(String(20))  # in_person | online | phone
    location: Mapped[str | None] = mapped_column(String(200))
    private_room: Mapped[bool] = mapped_column(Boolean, default=False)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    officer: Mapped[Staff | None] = relationship(foreign_keys=[officer_id])


class Document(Base):
    """An uploaded file. The bytes are encrypted (bound to this row's uid) and kept outside the web root."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    uploaded_by_student: Mapped[bool] = mapped_column(Boolean)
    uploaded_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    _title_enc: Mapped[str] = mapped_column("title_enc", Text)  # the name the uploader gave it
    content_type: Mapped[str] = mapped_column(String(100))  # detected from the content, not the name
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(20))  # encryption key of the stored bytes
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    title = encrypted("_title_enc")


class ReflectiveFlag(Base):
    """A case put on the agenda of the weekly reflective practice meeting. Internal only."""

    __tablename__ = "reflective_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    flagged_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    _reason_enc: Mapped[str] = mapped_column("reason_enc", Text)
    discussed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reason = encrypted("_reason_enc")


class CaseDraft(Base):
    """A half-filled casework form, so a timed-out session or a closed tab can resume."""

    __tablename__ = "case_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), unique=True)
    _answers_enc: Mapped[str] = mapped_column("answers_enc", Text)  # JSON of the form's answers
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    answers_json = encrypted("_answers_enc")




class CaseChange(Base):
    """The case's own history: status changes (with the reason), assignments and closing (with the outcome).
    Shown in the timeline; never edited."""

    __tablename__ = "case_changes"
    __table_args__ = (Index("ix_case_changes_case_at", "case_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))  # status | assigned
    old_value: Mapped[str | None] = mapped_column(String(60))
    new_value: Mapped[str | None] = mapped_column(String(60))
    _reason_enc: Mapped[str | None] = mapped_column("reason_enc", Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: the student's own action
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    reason = encrypted("_reason_enc")

    changed_by: Mapped[Staff | None] = relationship()


class CaseReferenceCounter(Base):
    """One row per year; `UPDATE ... RETURNING` on it hands out ADV-<year>-<n> without collisions."""

    __tablename__ = "case_reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)

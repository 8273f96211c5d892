"""The two kinds of account (students and staff) and their server-side login sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.base import Base, UTCDateTime, utcnow
from shared.platform.crypto import encrypted


class StaffRole(enum.StrEnum):
    OFFICER = "officer"
    MANAGER = "manager"
    ADMIN = "admin"


JOB_TITLES = (
    "Advice Service Manager",
    "Student Advisor",
    "Welfare and Rights Officer",
    "Education Officer",
    "Women's Officer",
    "Administrator",
)


class Account(UserMixin):
    """What both kinds of account share; Flask-Login sees the login session, not the account id."""

    kind = ""
    login_session = None  # the LoginSession of the current request, set when the cookie is loaded

    def get_id(self) -> str | None:  # Flask-Login stores this in the signed cookie
        return self.login_session.raw_token if self.login_session else None

    @property
    def is_student(self) -> bool:
        return self.kind == "student"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


class Student(Account, Base):
    __tablename__ = "students"
    kind = "student"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def display_name(self) -> str:
        return self.email


class Staff(Account, Base):
    __tablename__ = "staff"
    kind = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    job_title: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20), default=StaffRole.OFFICER.value)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Two-factor authentication (shared/security/mfa.py): the TOTP secret is encrypted at rest; the last accepted
    # time-step makes each code work once; enrolled_at is None until the first code is confirmed.
    uid: Mapped[str | None] = mapped_column(String(32))
    _totp_secret_enc: Mapped[str | None] = mapped_column("totp_secret_enc", Text)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    mfa_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    totp_secret = encrypted("_totp_secret_enc")

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def mfa_enrolled(self) -> bool:
        return self.mfa_enrolled_at is not None and self._totp_secret_enc is not None

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated account cannot be signed in
        return bool(self.active)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


class LoginSession(Base):
    """One signed-in browser. Ending it here ends it everywhere: the cookie only names it."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_token_id", "token_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[str] = mapped_column(String(64))  # sha256 of the random token: the DB never holds it
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    student: Mapped[Student | None] = relationship()
    staff: Mapped[Staff | None] = relationship()

    raw_token = None  # known only in the request that holds the cookie

    @property
    def account(self) -> Account | None:
        return self.student or self.staff

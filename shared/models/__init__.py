"""Every model, imported here so that Alembic and the app see one metadata."""

from shared.models.accounts import JOB_TITLES, Account, LoginSession, Staff, StaffRole, Student
from shared.models.audit import AuditEvent, AuditHead
from shared.models.base import Base, UTCDateTime, utcnow

__all__ = [
    "JOB_TITLES",
    "Account",
    "AuditEvent",
    "AuditHead",
    "Base",
    "LoginSession",
    "Staff",
    "StaffRole",
    "Student",
    "UTCDateTime",
    "utcnow",
]

"""Every model, imported here so that Alembic and the app see one metadata."""

from shared.models.accounts import JOB_TITLES, Account, LoginSession, Staff, StaffRole, Student
from shared.models.audit import AuditEvent, AuditHead
from shared.models.base import Base, UTCDateTime, utcnow
from shared.models.casework import (
    Appointment,
    Case,
    CaseDraft,
    CaseEntry,
    CaseEntryVersion,
    CaseStatus,
    Document,
    EntryKind,
    Message,
    ReflectiveFlag,
    StudentProfile,
)
from shared.models.consent import (
    BreachConsultation,
    BreachGround,
    BreachRecord,
    CollectionMethod,
    Consent,
    ConsentWording,
    Disclosure,
    Scope,
)
from shared.models.lists import ListItem, ListKind
from shared.models.staffsec import (
    ErasureRequest,
    ErasureStatus,
    PolicyAcceptance,
    RecoveryCode,
    ServiceSetting,
)

__all__ = [
    "Appointment",
    "BreachConsultation",
    "BreachGround",
    "BreachRecord",
    "Case",
    "CaseDraft",
    "CaseEntry",
    "CaseEntryVersion",
    "CaseStatus",
    "CollectionMethod",
    "Consent",
    "ConsentWording",
    "Disclosure",
    "Document",
    "EntryKind",
    "ErasureRequest",
    "ErasureStatus",
    "PolicyAcceptance",
    "RecoveryCode",
    "ServiceSetting",
    "ListItem",
    "ListKind",
    "Message",
    "ReflectiveFlag",
    "Scope",
    "StudentProfile",
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

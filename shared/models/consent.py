"""Consent records, the disclosure ledger and breach records: the basis for anything leaving the service.

The database itself enforces that every disclosure rests on exactly one basis: a consent or a breach
record (check constraint `one_basis`). `shared/consent/gate.py` is the only code that creates disclosures.
"""

from __future__ import annotations

import enum
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String, Text, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.accounts import Staff, Student
from shared.models.base import Base, UTCDateTime, utcnow
from shared.platform.crypto import encrypted


class Scope(enum.StrEnum):
    """What may be shared, from least to most."""

    ATTENDANCE = "attendance"  # that the student is using the service
    SUMMARY = "summary"  # a summary of the case
    DOCUMENTS = "documents"  # specific documents, named in the consent
    FULL_RECORD = "full_record"


class CollectionMethod(enum.StrEnum):
    PORTAL = "portal"  # given by the student in the portal
    IN_PERSON = "in_person"  # the rest: recorded by an officer (recorded_by_id), with evidence
    SIGNED_FORM = "signed_form"
    PHONE = "phone"
    EMAIL = "email"


class BreachGround(enum.StrEnum):
    """The only two situations in which the policy allows confidentiality to be breached."""

    SAFETY = "safety"  # a serious and imminent risk to the student's own or others' safety
    TERRORISM = "terrorism"  # the law requires disclosure to prevent or detect terrorism


class ConsentWording(Base):
    """The exact text shown when consent was given. A new version never changes earlier consents."""

    __tablename__ = "consent_wordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(20), unique=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_student_granted", "student_id", "granted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)  # None: all cases
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_role: Mapped[str | None] = mapped_column(String(200))
    recipient_organisation: Mapped[str] = mapped_column(String(200))
    recipient_contact: Mapped[str | None] = mapped_column(String(254))
    _purpose_enc: Mapped[str] = mapped_column("purpose_enc", Text)
    scopes: Mapped[list] = mapped_column(JSON)  # [Scope values]
    document_ids: Mapped[list] = mapped_column(JSON, default=list)  # for Scope.DOCUMENTS
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(20))  # student | staff
    collection_method: Mapped[str] = mapped_column(String(20))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # officer, if not portal
    evidence_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    _evidence_note_enc: Mapped[str | None] = mapped_column("evidence_note_enc", Text)
    wording_version: Mapped[str] = mapped_column(String(20))
    wording_sha256: Mapped[str] = mapped_column(String(64))
    _shown_text_enc: Mapped[str] = mapped_column("shown_text_enc", Text)  # exactly what the student read
    typed_name: Mapped[str] = mapped_column(String(200))

    purpose = encrypted("_purpose_enc")
    evidence_note = encrypted("_evidence_note_enc")
    shown_text = encrypted("_shown_text_enc")

    student: Mapped[Student] = relationship()
    recorded_by: Mapped[Staff | None] = relationship()


class BreachRecord(Base):
    """The policy's record of a breach of confidentiality. Never edited or deleted; only added to."""

    __tablename__ = "breach_records"
    __table_args__ = (CheckConstraint("ground IN ('safety', 'terrorism')", name="two_grounds_only"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    ground: Mapped[str] = mapped_column(String(20))
    _situation_enc: Mapped[str] = mapped_column("situation_enc", Text)  # outline and the reason
    _achieves_enc: Mapped[str] = mapped_column("achieves_enc", Text)  # what breaching would achieve
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_organisation: Mapped[str] = mapped_column(String(200))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    student_told: Mapped[bool | None] = mapped_column(Boolean)  # safety ground only
    student_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    _not_told_reason_enc: Mapped[str | None] = mapped_column("not_told_reason_enc", Text)
    # The consultation request it was decided on (None: recorded before consultations were a two-person step).
    request_id: Mapped[int | None] = mapped_column(ForeignKey("breach_consultation_requests.id"), unique=True)
    # Decided before any consultee had given advice: why there was no time to wait (danger to life).
    _urgent_reason_enc: Mapped[str | None] = mapped_column("urgent_reason_enc", Text)

    situation = encrypted("_situation_enc")
    achieves = encrypted("_achieves_enc")
    not_told_reason = encrypted("_not_told_reason_enc")
    urgent_reason = encrypted("_urgent_reason_enc")

    decided_by: Mapped[Staff] = relationship()
    request: Mapped[BreachConsultationRequest | None] = relationship()
    # Consultations recorded with the decision by the deciding officer (records made before the two-person step)
    legacy_consultations: Mapped[list[BreachConsultation]] = relationship(order_by="BreachConsultation.id")

    @property
    def consultations(self) -> list[BreachConsultation]:
        """Who was asked for advice: the consultees of its request, or (older records) those recorded with it."""
        return self.request.consultations if self.request is not None else self.legacy_consultations


class BreachConsultationRequest(Base):
    """The first step of a breach: the officer's draft decision, put to one or more other advice officers.

    Each consultee records their advice in their own session (BreachConsultation); then the requesting
    officer decides: proceed (a BreachRecord linking this request) or not. Never deleted; the only change
    ever made is recording the decision once (outcome, decided_at)."""

    __tablename__ = "breach_consultation_requests"
    __table_args__ = (
        CheckConstraint("ground IN ('safety', 'terrorism')", name="two_grounds_only"),
        CheckConstraint("outcome IS NULL OR outcome IN ('proceed', 'not_proceed')", name="outcome_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ground: Mapped[str] = mapped_column(String(20))
    _situation_enc: Mapped[str] = mapped_column("situation_enc", Text)
    _achieves_enc: Mapped[str] = mapped_column("achieves_enc", Text)
    recipient_name: Mapped[str] = mapped_column(String(200))  # to whom it would be disclosed
    recipient_organisation: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(20))  # None: not decided yet
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    situation = encrypted("_situation_enc")
    achieves = encrypted("_achieves_enc")

    requested_by: Mapped[Staff] = relationship()
    consultations: Mapped[list[BreachConsultation]] = relationship(order_by="BreachConsultation.id",
                                                                   back_populates="request")


class BreachConsultation(Base):
    """Another advice officer asked for advice, and their advice in their own words.

    Made when the request is put to them (asked_at); they record their advice once, in their own session
    (advice, consulted_at), never changed after. Older rows belong to a breach record directly."""

    __tablename__ = "breach_consultations"
    __table_args__ = (
        CheckConstraint("(breach_record_id IS NULL) <> (request_id IS NULL)", name="one_parent"),
        Index("ix_breach_consultations_officer_pending", "officer_id", "consulted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    breach_record_id: Mapped[int | None] = mapped_column(ForeignKey("breach_records.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("breach_consultation_requests.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    _advice_enc: Mapped[str | None] = mapped_column("advice_enc", Text)
    consulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the advice was given

    advice = encrypted("_advice_enc")
    officer: Mapped[Staff] = relationship()
    request: Mapped[BreachConsultationRequest | None] = relationship(back_populates="consultations")


class Disclosure(Base):
    """Something about a student that left the service: to whom, what, when, and on which basis."""

    __tablename__ = "disclosures"
    __table_args__ = (
        CheckConstraint(
            "(consent_id IS NOT NULL AND breach_record_id IS NULL) OR "
            "(consent_id IS NULL AND breach_record_id IS NOT NULL)",
            name="one_basis",
        ),
        Index("ix_disclosures_student_at", "student_id", "disclosed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"), index=True)
    breach_record_id: Mapped[int | None] = mapped_column(ForeignKey("breach_records.id"), index=True)
    scope: Mapped[str] = mapped_column(String(20))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_organisation: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(30))  # email | phone | letter | in_person | other
    _what_enc: Mapped[str] = mapped_column("what_enc", Text)
    disclosed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disclosed_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))

    what = encrypted("_what_enc")

    consent: Mapped[Consent | None] = relationship()
    breach_record: Mapped[BreachRecord | None] = relationship()
    disclosed_by: Mapped[Staff] = relationship()


class ConsentRequest(Base):
    """An officer asks a student for a specific consent; the student approves (a consent) or declines."""

    __tablename__ = "consent_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_role: Mapped[str | None] = mapped_column(String(200))
    recipient_organisation: Mapped[str] = mapped_column(String(200))
    recipient_contact: Mapped[str | None] = mapped_column(String(254))
    _purpose_enc: Mapped[str] = mapped_column("purpose_enc", Text)
    _reason_enc: Mapped[str] = mapped_column("reason_enc", Text)
    scopes: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | approved | declined
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))

    purpose = encrypted("_purpose_enc")
    reason = encrypted("_reason_enc")

    requested_by: Mapped[Staff] = relationship()


class ThirdPartyEnquiry(Base):
    """Someone outside the service asked about a student: who asked, what, and what we were allowed to say."""

    __tablename__ = "third_party_enquiries"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    enquirer_name: Mapped[str] = mapped_column(String(200))
    enquirer_role: Mapped[str | None] = mapped_column(String(200))
    enquirer_organisation: Mapped[str] = mapped_column(String(200))
    about_name: Mapped[str] = mapped_column(String(200))  # who they asked about, as they put it
    about_email: Mapped[str | None] = mapped_column(String(254))
    _asked_enc: Mapped[str] = mapped_column("asked_enc", Text)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)  # matched, staff-only
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))  # the consent that allowed confirming
    answer: Mapped[str] = mapped_column(String(20))  # confirm | ncnd
    answered_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    asked = encrypted("_asked_enc")

    answered_by: Mapped[Staff] = relationship()


class BreachAddendum(Base):
    """Added to a breach record later (the record itself never changes): e.g. that the student was told."""

    __tablename__ = "breach_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    breach_record_id: Mapped[int] = mapped_column(ForeignKey("breach_records.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    _text_enc: Mapped[str] = mapped_column("text_enc", Text)
    student_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    text = encrypted("_text_enc")
    author: Mapped[Staff] = relationship()


class ManagerNotice(Base):
    """An in-app notice for the manager. Holds a kind and an id, never detail."""

    __tablename__ = "manager_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # breach | security_incident
    subject_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class SecurityIncident(Base):
    """A personal data breach (UK GDPR Art. 33): lost laptop, wrong recipient. ICO within 72 hours."""

    __tablename__ = "security_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(30))
    _description_enc: Mapped[str] = mapped_column("description_enc", Text)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notify_by: Mapped[datetime] = mapped_column(UTCDateTime())
    ico_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    _resolution_enc: Mapped[str | None] = mapped_column("resolution_enc", Text)

    description = encrypted("_description_enc")
    resolution = encrypted("_resolution_enc")
    reported_by: Mapped[Staff] = relationship()


class ImmutableRecord(Exception):
    """A breach record, its consultations and addenda, and the disclosure ledger are never changed or deleted."""


_lifecycle = ContextVar("consent_ledger_lifecycle", default=False)


@contextmanager
def retention_override():
    """The one sanctioned exception: retention anonymising records past their retention period."""
    token = _lifecycle.set(True)
    try:
        yield
    finally:
        _lifecycle.reset(token)


def _refuse_change(mapper, connection, target):
    if _lifecycle.get():
        return
    raise ImmutableRecord(f"{target.__tablename__} rows cannot be edited or deleted; add an addendum instead")


for _model in (BreachRecord, BreachConsultation, BreachConsultationRequest, BreachAddendum, Disclosure):
    event.listen(_model, "before_delete", _refuse_change)
for _model in (BreachRecord, BreachAddendum, Disclosure):
    event.listen(_model, "before_update", _refuse_change)


def _set_once(*fields: str):
    """before_update: only these fields may change, and only from empty (a consultee's advice, a decision)."""

    def check(mapper, connection, target):
        if _lifecycle.get():
            return
        state = inspect(target)
        changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
        refilled = [a for a in changed & set(fields) if any(v is not None for v in state.attrs[a].history.deleted)]
        if changed - set(fields) or refilled:
            raise ImmutableRecord(f"{target.__tablename__} rows cannot be edited or deleted; "
                                  "what is recorded once stays as it is")

    return check


event.listen(BreachConsultation, "before_update", _set_once("uid", "_advice_enc", "consulted_at"))
event.listen(BreachConsultationRequest, "before_update", _set_once("outcome", "decided_at"))

WITHDRAWAL_FIELDS = {"withdrawn_at", "withdrawn_by"}


def _consent_changed(mapper, connection, target):
    """A consent is never deleted, and once given only its withdrawal may be added."""
    if _lifecycle.get():
        return
    changed = {attr.key for attr in inspect(target).attrs if attr.history.has_changes()}
    if changed - WITHDRAWAL_FIELDS:
        raise ImmutableRecord(f"a consent cannot be changed ({', '.join(sorted(changed - WITHDRAWAL_FIELDS))}); "
                              "withdraw it and record a new one")


event.listen(Consent, "before_update", _consent_changed)
event.listen(Consent, "before_delete", _refuse_change)

"""Factories for the consent tests. Consents with chosen times are made directly from the model (the
portal and back-office journeys use the services); every person and organisation here is invented."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from shared.consent import Recipient
from shared.extensions import db
from shared.models import Consent, utcnow

TUTOR = Recipient("Dr Pat Tutorname", "Fictional College")
GP = Recipient("Dr Sam Practice", "Imaginary Health Centre")
# Another person at the tutor's organisation: a consent names a person, not just where they work.
TUTORS_COLLEAGUE = Recipient("Dr Jo Othertutor", TUTOR.organisation)


def give_consent(student, recipient: Recipient = TUTOR, *, scopes=("summary",), case=None, document_ids=(),
                 granted_at: datetime | None = None, expires_at: datetime | None = None,
                 withdrawn_at: datetime | None = None, method: str = "portal") -> Consent:
    now = utcnow()
    consent = Consent(
        receipt_id=str(uuid.uuid4()), student_id=student.id, case_id=case.id if case else None,
        recipient_name=recipient.name, recipient_organisation=recipient.organisation, scopes=list(scopes),
        document_ids=list(document_ids), granted_at=granted_at or now - timedelta(days=1),
        expires_at=expires_at or now + timedelta(days=300), withdrawn_at=withdrawn_at,
        withdrawn_by="student" if withdrawn_at else None, collection_method=method, wording_version="1",
        wording_sha256="0" * 64, typed_name="Alex Fictional",
    )
    consent.purpose = "To support an extension request"
    consent.shown_text = "I agree (test wording)."
    db.session.add(consent)
    db.session.commit()
    return consent

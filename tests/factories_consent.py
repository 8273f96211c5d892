"""Factories for the consent tests. Consents with chosen times are made directly from the model (the
portal and back-office journeys use the services); every person and organisation here is invented."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from shared.consent.breach import GROUND_LABELS
from shared.consent.gate import Recipient
from shared.models import Consent, utcnow
from shared.platform.extensions import db

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


# --- The breach procedure, through its services (a two-person step) ----------------------------------------


def breach_proposal(*consultees, **overrides):
    """A draft breach decision on the safety ground, put to `consultees` (other advice officers)."""
    from shared.consent.breach import Proposal

    values = dict(ground="safety", situation="The student described a plan to harm themselves tonight.",
                  achieves="The crisis team can reach them today.", recipient_name="Duty Team",
                  recipient_organisation="Fictional Crisis Service", consultee_ids=[c.id for c in consultees])
    values.update(overrides)
    return Proposal(**values)


def breach_decision(**overrides):
    """The requesting officer's decision to proceed, disclosing a summary by phone, the student told."""
    from shared.consent.breach import BreachDecision

    values = dict(proceed=True, recipient_name="Duty Team", recipient_organisation="Fictional Crisis Service",
                  scope="summary", method="phone", what="Name, address and the risk described.",
                  student_told=True, student_told_at=utcnow() - timedelta(minutes=1))
    values.update(overrides)
    return BreachDecision(**values)


def consulted_breach(officer, colleague, case, *, advice: str = "Call the crisis team now.", proposal=None,
                     **decision_overrides):
    """A breach recorded the way the policy asks: `officer` asks `colleague`, who advises in their own
    session, then `officer` decides to proceed."""
    from shared.consent import breach

    req = breach.request_consultation(officer, case.reference, proposal or breach_proposal(colleague))
    breach.give_advice(colleague, req.id, advice)
    return breach.decide(officer, req.id, breach_decision(**decision_overrides))


# The distinctive words of a terrorism-ground breach record, as the breach and tipping-off tests seed it: none
# may ever reach the student (the public pages explain the two grounds in general, which is not tipping off).
TERRORISM_RECIPIENT = "Fictional Counter Terrorism Unit"
TERRORISM_TRACES = (TERRORISM_RECIPIENT, "TT Officer", "TT-SITUATION", "TT-WHAT", "TT-ACHIEVES", GROUND_LABELS["terrorism"])

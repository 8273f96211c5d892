"""The confidentiality policy every member of staff accepts before using the back office.

The version is configuration (`STAFF_POLICY_VERSION`); the text, in the service's own words, is the
template backoffice/policy/text.html. Publishing a new version means changing both: everyone is then
asked again at their next request, and each acceptance is kept (who, which version, when).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from shared.audit import log as audit
from shared.models import PolicyAcceptance, Staff
from shared.platform.errors import ValidationFailed
from shared.platform.extensions import db


def current_version() -> str:
    return current_app.config["STAFF_POLICY_VERSION"]


def acceptance(staff: Staff, version: str | None = None) -> PolicyAcceptance | None:
    return db.session.scalar(
        select(PolicyAcceptance).where(
            PolicyAcceptance.staff_id == staff.id, PolicyAcceptance.version == (version or current_version())
        )
    )


def has_accepted_current(staff: Staff) -> bool:
    return acceptance(staff) is not None


def accept(staff: Staff, version: str) -> PolicyAcceptance:
    """Record the acceptance of the version the person was shown (only the current one counts)."""
    if version != current_version():
        raise ValidationFailed("The policy has changed since you opened it. Please read the new version.")
    existing = acceptance(staff, version)
    if existing is not None:
        return existing
    row = PolicyAcceptance(staff_id=staff.id, version=version)
    db.session.add(row)
    db.session.flush()
    audit.record(staff, "policy.accepted", staff, version=version)
    db.session.commit()
    return row


def record_for_seed(staff: Staff) -> None:
    """Demo data and test factories: the account has accepted the current version (the caller commits)."""
    if acceptance(staff) is None:
        db.session.add(PolicyAcceptance(staff_id=staff.id, version=current_version()))


def acceptances(staff: Staff) -> list[PolicyAcceptance]:
    return db.session.scalars(
        select(PolicyAcceptance).where(PolicyAcceptance.staff_id == staff.id).order_by(PolicyAcceptance.accepted_at)
    ).all()

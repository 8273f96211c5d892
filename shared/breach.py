"""The breach-of-confidentiality procedure, the manager's notices, and security incidents.

The policy allows a breach in two situations only: a serious and imminent risk to the student's own or
others' safety, or where the law requires disclosure to prevent or detect terrorism. At least one OTHER
officer must be asked for advice first (their words are recorded); the officer involved decides. The
record holds the student, an outline and the reason, who advised, what breaching achieves, to whom, the
deciding officer and the time. It is the basis of the disclosure it creates (through shared.consent), it
is never edited or deleted (only added to), and the manager is told: an in-app notice and an email that
says only that there is something to read.

Terrorism ground: nothing about it ever reaches the student (tipping off is an offence under the
Terrorism Act 2000). Safety ground: the officer records whether and when the student was told, or why not.

Security incidents (a personal data breach under UK GDPR Art. 33: a lost laptop, a wrong recipient) are a
separate record with a 72-hour deadline to notify the ICO, shown to the manager until resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from shared import audit, mail
from shared import consent as gate
from shared.casework import case_for_staff
from shared.consent import raise_if
from shared.errors import NotFound
from shared.extensions import db
from shared.models import (
    BreachAddendum,
    BreachConsultation,
    BreachGround,
    BreachRecord,
    Case,
    ManagerNotice,
    SecurityIncident,
    Staff,
    StaffRole,
    Student,
    StudentProfile,
    utcnow,
)

GROUND_LABELS = {
    BreachGround.SAFETY.value: "A serious and imminent risk to the student's own or to others' safety",
    BreachGround.TERRORISM.value: "The law requires disclosure for the prevention and detection of terrorism",
}
ICO_HOURS = 72
INCIDENT_KINDS = {
    "lost_device": "Lost or stolen device or papers",
    "wrong_recipient": "Sent to the wrong person",
    "unauthorised_access": "Someone saw or reached data they should not have",
    "other": "Something else",
}


@dataclass
class Consultation:
    officer_id: int | None
    advice: str
    consulted_at: datetime | None


@dataclass
class BreachDecision:
    ground: str = ""
    situation: str = ""
    achieves: str = ""
    recipient_name: str = ""
    recipient_organisation: str = ""
    scope: str = ""
    what: str = ""
    method: str = ""
    consultations: list[Consultation] | None = None
    student_told: bool | None = None
    student_told_at: datetime | None = None
    not_told_reason: str = ""


def _required(errors: dict, name: str, value: str, message: str, limit: int = 5000) -> str:
    value = (value or "").strip()
    if not value:
        errors[name] = message
    elif len(value) > limit:
        errors[name] = f"Keep this under {limit} characters."
    return value


def _check(officer: Staff, d: BreachDecision, now: datetime) -> list[Consultation]:
    errors: dict[str, str] = {}
    if d.ground not in GROUND_LABELS:
        errors["ground"] = "Choose one of the two grounds. Confidentiality may not be breached for any other reason."
    d.situation = _required(errors, "situation", d.situation, "Outline the situation and the reason for breaching confidentiality.")
    d.achieves = _required(errors, "achieves", d.achieves, "Say what breaching confidentiality would achieve.")
    d.recipient_name = _required(errors, "recipient_name", d.recipient_name, "Say to whom it was disclosed.", 200)
    d.recipient_organisation = _required(errors, "recipient_organisation", d.recipient_organisation,
                                         "Give their organisation.", 200)
    consulted = [c for c in d.consultations or [] if c.officer_id or (c.advice or "").strip()]
    if not consulted:
        errors["consulted_officer_id"] = "Ask at least one other advice officer for advice first, and record it."
    for c in consulted:
        other = db.session.get(Staff, c.officer_id) if c.officer_id else None
        if other is None or not other.active:
            errors["consulted_officer_id"] = "Choose the officer you asked for advice."
        elif other.id == officer.id:
            errors["consulted_officer_id"] = "You cannot consult yourself: ask another advice officer."
        if not (c.advice or "").strip():
            errors["advice"] = "Record their advice in their words."
        if c.consulted_at is None or c.consulted_at > now:
            errors["consulted_on"] = "Give when you asked for their advice (not in the future)."
    if d.ground == BreachGround.SAFETY.value:
        if d.student_told is None:
            errors["student_told"] = "Say whether the student has been told."
        elif d.student_told and (d.student_told_at is None or d.student_told_at > now):
            errors["student_told_on"] = "Give when the student was told."
        elif d.student_told is False and not (d.not_told_reason or "").strip():
            errors["not_told_reason"] = "Say why the student has not been told."
    elif d.ground == BreachGround.TERRORISM.value:
        d.student_told, d.student_told_at, d.not_told_reason = None, None, ""  # never told: tipping off is an offence
    errors.update(gate.disclosure_errors(d.scope, d.method, d.what))
    raise_if(errors)
    return consulted


def managers() -> list[Staff]:
    return list(db.session.scalars(select(Staff).where(Staff.role == StaffRole.MANAGER.value, Staff.active.is_(True))))


def _notify_managers(kind: str, subject_id: int) -> None:
    db.session.add(ManagerNotice(kind=kind, subject_id=subject_id))


def _email_managers(template: str) -> None:
    for m in managers():
        mail.send(m.email, template)


def record_breach(officer: Staff, reference: str, decision: BreachDecision) -> BreachRecord:
    """Record the decision, its consultations, and the disclosure it allows, in one transaction."""
    case = case_for_staff(officer, reference)
    now = utcnow()
    consulted = _check(officer, decision, now)
    breach = BreachRecord(student_id=case.student_id, case_id=case.id, ground=decision.ground,
                          recipient_name=decision.recipient_name, recipient_organisation=decision.recipient_organisation,
                          decided_by_id=officer.id, decided_at=now, student_told=decision.student_told,
                          student_told_at=decision.student_told_at if decision.student_told else None)
    breach.situation = decision.situation
    breach.achieves = decision.achieves
    if decision.student_told is False:
        breach.not_told_reason = decision.not_told_reason.strip()
    db.session.add(breach)
    db.session.flush()
    for c in consulted:
        row = BreachConsultation(breach_record_id=breach.id, officer_id=c.officer_id, consulted_at=c.consulted_at)
        row.advice = c.advice.strip()
        db.session.add(row)
    disclosure = gate.disclose_on_breach(breach, officer, scope=decision.scope, what=decision.what, method=decision.method)
    _notify_managers("breach", breach.id)
    audit.record(officer, "breach.recorded", breach, student_id=case.student_id, case_id=case.id, ground=breach.ground,
                 disclosure_id=disclosure.id, consulted=[c.officer_id for c in consulted])
    db.session.commit()
    _email_managers("manager_notice")
    return breach


def breach_for_staff(staff: Staff, breach_id: int) -> BreachRecord:
    breach = db.session.get(BreachRecord, breach_id)
    if breach is None:
        raise NotFound()
    audit.record_view(staff, "breach.viewed", breach, student_id=breach.student_id, case_id=breach.case_id)
    return breach


def identity(b: BreachRecord) -> tuple[str, str | None]:
    """The student's name (or email) and the case reference, for the staff view of a record."""
    profile = db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == b.student_id))
    student = db.session.get(Student, b.student_id)
    name = getattr(profile, "full_name", None) or student.email
    ref = db.session.scalar(select(Case.reference).where(Case.id == b.case_id)) if b.case_id else None
    return (f"{name} ({student.email})" if name != student.email else name), ref


def addenda(breach_id: int) -> list[BreachAddendum]:
    return list(db.session.scalars(select(BreachAddendum).where(BreachAddendum.breach_record_id == breach_id)
                                   .order_by(BreachAddendum.created_at)))


def add_addendum(officer: Staff, breach_id: int, text: str, student_told_at: datetime | None = None) -> BreachAddendum:
    """The only way to add to a breach record: a dated note by a named officer (e.g. the student was told)."""
    breach = db.session.get(BreachRecord, breach_id)
    if breach is None:
        raise NotFound()
    errors: dict[str, str] = {}
    text = _required(errors, "text", text, "Write the addendum.")
    if student_told_at is not None and breach.ground != BreachGround.SAFETY.value:
        errors["student_told_on"] = "On this ground the student is never told."
    raise_if(errors)
    row = BreachAddendum(breach_record_id=breach.id, author_id=officer.id, student_told_at=student_told_at)
    row.text = text
    db.session.add(row)
    db.session.flush()
    audit.record(officer, "breach.addendum", breach, student_id=breach.student_id, case_id=breach.case_id, addendum_id=row.id)
    db.session.commit()
    return row


def breaches_overview(staff: Staff) -> list[BreachRecord]:
    audit.record_view(staff, "breaches.listed")
    return list(db.session.scalars(select(BreachRecord).order_by(BreachRecord.decided_at.desc())))


# --- The manager's notices -------------------------------------------------------------------------------


def unread_notices() -> list[ManagerNotice]:
    return list(db.session.scalars(select(ManagerNotice).where(ManagerNotice.read_at.is_(None))
                                   .order_by(ManagerNotice.created_at.desc())))


def mark_notice_read(manager: Staff, notice_id: int) -> ManagerNotice:
    notice = db.session.get(ManagerNotice, notice_id)
    if notice is None:
        raise NotFound()
    if notice.read_at is None:
        notice.read_at, notice.read_by_id = utcnow(), manager.id
        audit.record(manager, "notice.read", notice, kind=notice.kind)
        db.session.commit()
    return notice


# --- Security incidents (UK GDPR Art. 33) -----------------------------------------------------------------


def report_incident(officer: Staff, *, kind: str, description: str, discovered_at: datetime | None) -> SecurityIncident:
    errors: dict[str, str] = {}
    now = utcnow()
    if kind not in INCIDENT_KINDS:
        errors["kind"] = "Choose what happened."
    description = _required(errors, "description", description, "Describe what happened (no more personal data than needed).")
    if discovered_at is None or discovered_at > now:
        errors["discovered_on"] = "Give when it was discovered (not in the future)."
    raise_if(errors)
    incident = SecurityIncident(kind=kind, discovered_at=discovered_at, reported_by_id=officer.id, reported_at=now,
                                notify_by=discovered_at + timedelta(hours=ICO_HOURS))
    incident.description = description
    db.session.add(incident)
    db.session.flush()
    _notify_managers("security_incident", incident.id)
    audit.record(officer, "incident.reported", incident, kind=kind)
    db.session.commit()
    _email_managers("manager_notice")
    return incident


def open_incidents() -> list[SecurityIncident]:
    return list(db.session.scalars(select(SecurityIncident).where(SecurityIncident.resolved_at.is_(None))
                                   .order_by(SecurityIncident.notify_by)))


def hours_left(incident: SecurityIncident, now: datetime | None = None) -> int:
    """Whole hours until the ICO deadline; negative once overdue."""
    seconds = (incident.notify_by - (now or utcnow())).total_seconds()
    return int(seconds // 3600)


def resolve_incident(manager: Staff, incident_id: int, *, resolution: str, ico_notified: bool) -> SecurityIncident:
    incident = db.session.get(SecurityIncident, incident_id)
    if incident is None:
        raise NotFound()
    errors: dict[str, str] = {}
    resolution = _required(errors, "resolution", resolution, "Say what was done, and whether the ICO was told and why.")
    raise_if(errors)
    now = utcnow()
    incident.resolution, incident.resolved_at = resolution, now
    if ico_notified and incident.ico_notified_at is None:
        incident.ico_notified_at = now
    audit.record(manager, "incident.resolved", incident, ico_notified=bool(ico_notified))
    db.session.commit()
    return incident


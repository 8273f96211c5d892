"""The breach-of-confidentiality procedure, the manager's notices, and security incidents.

The policy allows a breach in two situations only: a serious and imminent risk to the student's own or
others' safety, or where the law requires disclosure to prevent or detect terrorism. At least one OTHER
advice officer must be asked for advice first, and this is a two-person step: the officer puts a draft
decision (a consultation request) to one or more other active advice officers, each told in the back
office; each consultee records their advice in their own session; only then may the requesting officer
decide (in a serious and imminent danger to life, at once, with the reason recorded; the advice still
comes afterwards and the record shows it came after the decision). Only advice officers (officer and
manager roles) take part; the administrator does not. The record holds the student, an outline and the reason, who advised, what breaching achieves, to whom, the
deciding officer and the time. It is the basis of the disclosure it creates (through shared.consent.gate), it
is never edited or deleted (only added to), and the manager is told: an in-app notice and an email that
says only that there is something to read.

Terrorism ground: nothing about it ever reaches the student (tipping off is an offence under the
Terrorism Act 2000). Safety ground: the officer records whether and when the student was told, or why not.

Security incidents (a personal data breach under UK GDPR Art. 33: a lost laptop, a wrong recipient) are a
separate record with a 72-hour deadline to notify the ICO, shown to the manager until resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from shared.audit import log as audit
from shared.casework import wall
from shared.casework.cases import case_for_staff
from shared.consent import gate
from shared.models import (
    BreachAddendum,
    BreachConsultation,
    BreachConsultationRequest,
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
from shared.platform import mail
from shared.platform.answers import checked_text, raise_if
from shared.platform.crypto import new_uid
from shared.platform.errors import NotFound, PermissionDenied
from shared.platform.extensions import db
from shared.security.authz import ADVICE_OFFICERS, is_advice_officer

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
class Proposal:
    """The draft decision put to other advice officers: the first step of the procedure."""

    ground: str = ""
    situation: str = ""
    achieves: str = ""
    recipient_name: str = ""
    recipient_organisation: str = ""
    consultee_ids: list[int] = field(default_factory=list)


@dataclass
class BreachDecision:
    """The requesting officer's final decision on their own request."""

    proceed: bool | None = None
    recipient_name: str = ""
    recipient_organisation: str = ""
    scope: str = ""
    what: str = ""
    method: str = ""
    student_told: bool | None = None
    student_told_at: datetime | None = None
    not_told_reason: str = ""
    urgent: bool = False  # serious and imminent danger to life: no time to wait for advice
    urgent_reason: str = ""


def _required(errors: dict, name: str, value: str, message: str, limit: int = 5000) -> str:
    return checked_text(errors, name, value, "this answer", limit, required=True, multiline=True, missing=message)


def _check_grounds(errors: dict, ground: str, situation: str, achieves: str) -> tuple[str, str]:
    """The policy's first and third pieces of information, and one of its two grounds."""
    if ground not in GROUND_LABELS:
        errors["ground"] = "Choose one of the two grounds. Confidentiality may not be breached for any other reason."
    return (_required(errors, "situation", situation, "Outline the situation and the reason for breaching confidentiality."),
            _required(errors, "achieves", achieves, "Say what breaching confidentiality would achieve."))


def _check_recipient(errors: dict, name: str, organisation: str) -> tuple[str, str]:
    return (_required(errors, "recipient_name", name, "Say to whom it would be disclosed.", 200),
            _required(errors, "recipient_organisation", organisation, "Give their organisation.", 200))


def _require_advice_officer(staff: Staff, doing: str) -> None:
    if not is_advice_officer(staff):
        raise PermissionDenied(f"Only an advice officer may {doing}: the administrator keeps the records but "
                               "takes no part in the breach procedure.")


def consultees_for(officer: Staff) -> list[Staff]:
    """Who the officer may ask: every other active advice officer (never themselves, never the administrator)."""
    return list(db.session.scalars(select(Staff).where(Staff.active.is_(True), Staff.id != officer.id,
                                                       Staff.role.in_(ADVICE_OFFICERS)).order_by(Staff.name)))


def request_consultation(officer: Staff, reference: str, proposal: Proposal) -> BreachConsultationRequest:
    """Put a draft decision to one or more other advice officers. They are told in the back office and by
    an email that says only that a colleague asks for their advice."""
    _require_advice_officer(officer, "start the breach procedure")
    case = case_for_staff(officer, reference)
    errors: dict[str, str] = {}
    situation, achieves = _check_grounds(errors, proposal.ground, proposal.situation, proposal.achieves)
    recipient = _check_recipient(errors, proposal.recipient_name, proposal.recipient_organisation)
    allowed = {s.id: s for s in consultees_for(officer)}
    chosen = list(dict.fromkeys(proposal.consultee_ids or []))
    if officer.id in chosen:
        errors["consultee_ids"] = "You cannot consult yourself: ask another advice officer."
    elif not chosen:
        errors["consultee_ids"] = "Ask at least one other advice officer for their advice."
    elif any(i not in allowed for i in chosen):
        errors["consultee_ids"] = "Choose other advice officers whose accounts are active."
    elif any(wall.is_walled(allowed[i], case) for i in chosen):
        errors["consultee_ids"] = ("One of the officers you chose advises the other side of a recorded conflict "
                                   "of interest: ask another advice officer.")
    raise_if(errors)
    now = utcnow()
    req = BreachConsultationRequest(student_id=case.student_id, case_id=case.id, requested_by_id=officer.id,
                                    requested_at=now, ground=proposal.ground, recipient_name=recipient[0],
                                    recipient_organisation=recipient[1])
    req.situation, req.achieves = situation, achieves
    db.session.add(req)
    db.session.flush()
    for officer_id in chosen:
        db.session.add(BreachConsultation(request_id=req.id, officer_id=officer_id, asked_at=now, uid=new_uid()))
    audit.record(officer, "breach.consultation_requested", req, student_id=case.student_id, case_id=case.id,
                 ground=req.ground, consultees=chosen)
    for officer_id in chosen:
        mail.send(allowed[officer_id].email, "breach_consultation")
    db.session.commit()
    return req


def _for_staff(staff: Staff, model, object_id: int, action: str):
    """A request or a record about a student, for a member of staff: its view is audited."""
    row = db.session.get(model, object_id)
    if row is None:
        raise NotFound()
    if row.case_id is not None:
        wall.refuse_if_walled(staff, db.session.get(Case, row.case_id))
    audit.record_view(staff, action, row, student_id=row.student_id, case_id=row.case_id)
    return row


def request_for_staff(staff: Staff, request_id: int) -> BreachConsultationRequest:
    return _for_staff(staff, BreachConsultationRequest, request_id, "breach.consultation_viewed")


def record_for_request(request_id: int) -> BreachRecord | None:
    return db.session.scalar(select(BreachRecord).where(BreachRecord.request_id == request_id))


def give_advice(consultee: Staff, request_id: int, advice: str) -> BreachConsultation:
    """A consultee records, in their own session, that they were consulted and their advice. Once."""
    _require_advice_officer(consultee, "give advice on a breach of confidentiality")
    row = db.session.scalar(select(BreachConsultation).where(BreachConsultation.request_id == request_id,
                                                             BreachConsultation.officer_id == consultee.id))
    if row is None:
        asked = db.session.get(BreachConsultationRequest, request_id)
        if asked is None:
            raise NotFound()
        if asked.case_id is not None:
            wall.refuse_if_walled(consultee, db.session.get(Case, asked.case_id))
        raise PermissionDenied("Only an officer this request was put to can give advice on it.")
    errors: dict[str, str] = {}
    if row.consulted_at is not None:
        errors["advice"] = "You have already given your advice; it cannot be changed. Talk to the officer instead."
    advice = _required(errors, "advice", advice, "Write your advice.")
    raise_if(errors)
    row.advice, row.consulted_at = advice, utcnow()
    req = row.request
    audit.record(consultee, "breach.advice_given", req, student_id=req.student_id, case_id=req.case_id,
                 consultation_id=row.id)
    db.session.commit()
    return row


def _check_decision(d: BreachDecision, req: BreachConsultationRequest, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    _check_grounds(errors, req.ground, req.situation, req.achieves)  # made through request_consultation: belt and braces
    d.recipient_name, d.recipient_organisation = _check_recipient(errors, d.recipient_name, d.recipient_organisation)
    if not any(c.consulted_at is not None for c in req.consultations):
        if not d.urgent:
            errors["urgent"] = ("No advice has been given yet. Wait for it, or, only if there is a serious and "
                                "imminent danger to life and no time to wait, say so and why.")
        else:
            d.urgent_reason = _required(errors, "urgent_reason", d.urgent_reason,
                                        "Say why there is no time to wait for advice.")
    else:
        d.urgent, d.urgent_reason = False, ""
    if req.ground == BreachGround.SAFETY.value:
        if d.student_told is None:
            errors["student_told"] = "Say whether the student has been told."
        elif d.student_told and (d.student_told_at is None or d.student_told_at > now):
            errors["student_told_on"] = "Give when the student was told."
        elif d.student_told is False and not (d.not_told_reason or "").strip():
            errors["not_told_reason"] = "Say why the student has not been told."
    else:
        d.student_told, d.student_told_at, d.not_told_reason = None, None, ""  # never told: tipping off is an offence
    errors.update(gate.disclosure_errors(d.scope, d.method, d.what))
    return errors


def decide(officer: Staff, request_id: int, d: BreachDecision) -> BreachRecord | None:
    """The requesting officer's final decision. Proceeding records the breach (linking its request and so its
    consultations) and the disclosure it allows, in one transaction, and tells the manager; not proceeding
    closes the request. Either way, once."""
    _require_advice_officer(officer, "decide on a breach of confidentiality")
    req = db.session.get(BreachConsultationRequest, request_id)
    if req is None:
        raise NotFound()
    if req.case_id is not None:
        wall.refuse_if_walled(officer, db.session.get(Case, req.case_id))
    if req.requested_by_id != officer.id:
        raise PermissionDenied("Only the officer who asked for advice makes the final decision.")
    if req.outcome is not None:
        raise_if({"proceed": "This has already been decided; add to the breach record instead."})
    now = utcnow()
    if d.proceed is not True:
        if d.proceed is None:
            raise_if({"proceed": "Choose whether to breach confidentiality."})
        req.outcome, req.decided_at = "not_proceed", now
        audit.record(officer, "breach.not_proceeding", req, student_id=req.student_id, case_id=req.case_id)
        db.session.commit()
        return None
    raise_if(_check_decision(d, req, now))
    breach = BreachRecord(student_id=req.student_id, case_id=req.case_id, ground=req.ground, request_id=req.id,
                          recipient_name=d.recipient_name, recipient_organisation=d.recipient_organisation,
                          decided_by_id=officer.id, decided_at=now, student_told=d.student_told,
                          student_told_at=d.student_told_at if d.student_told else None)
    breach.situation, breach.achieves = req.situation, req.achieves
    if d.student_told is False:
        breach.not_told_reason = d.not_told_reason.strip()
    if d.urgent:
        breach.urgent_reason = d.urgent_reason
    db.session.add(breach)
    req.outcome, req.decided_at = "proceed", now
    db.session.flush()
    disclosure = gate.disclose_on_breach(breach, officer, scope=d.scope, what=d.what, method=d.method)
    _notify_managers("breach", breach.id)
    audit.record(officer, "breach.recorded", breach, student_id=req.student_id, case_id=req.case_id, ground=breach.ground,
                 disclosure_id=disclosure.id, request_id=req.id, urgent=bool(d.urgent),
                 consulted=[c.officer_id for c in req.consultations])
    _email_managers("manager_notice")
    db.session.commit()
    return breach


def waiting_for(staff: Staff) -> list[BreachConsultationRequest]:
    """The requests put to this officer that still wait for their advice (their dashboard's list)."""
    if not is_advice_officer(staff):
        return []
    return list(db.session.scalars(
        select(BreachConsultationRequest).join(BreachConsultation, BreachConsultation.request_id == BreachConsultationRequest.id)
        .where(BreachConsultation.officer_id == staff.id, BreachConsultation.consulted_at.is_(None))
        .order_by(BreachConsultationRequest.requested_at)))


def undecided_requests_by(staff: Staff) -> list[BreachConsultationRequest]:
    """The officer's own requests still waiting for their decision."""
    return list(db.session.scalars(
        select(BreachConsultationRequest).where(BreachConsultationRequest.requested_by_id == staff.id,
                                                BreachConsultationRequest.outcome.is_(None))
        .order_by(BreachConsultationRequest.requested_at)))


def managers() -> list[Staff]:
    return list(db.session.scalars(select(Staff).where(Staff.role == StaffRole.MANAGER.value, Staff.active.is_(True))))


def _notify_managers(kind: str, subject_id: int) -> None:
    db.session.add(ManagerNotice(kind=kind, subject_id=subject_id))


def _email_managers(template: str) -> None:
    for m in managers():
        mail.send(m.email, template)


def breach_for_staff(staff: Staff, breach_id: int) -> BreachRecord:
    return _for_staff(staff, BreachRecord, breach_id, "breach.viewed")


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
    _email_managers("manager_notice")
    db.session.commit()
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


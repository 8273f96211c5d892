"""Factories for the access-to-records tests: casework, consent and breach rows made directly from the
models (the casework and consent services are built elsewhere). Every person and event here is invented."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from shared.casework import documents
from shared.models import (
    AccessRequest,
    Appointment,
    BreachRecord,
    Case,
    CaseEntry,
    CaseEntryVersion,
    Consent,
    Disclosure,
    Document,
    Message,
    ReflectiveFlag,
    StudentProfile,
    utcnow,
)
from shared.platform.extensions import db

_seq = itertools.count(1)


def make_profile(student, **kw) -> StudentProfile:
    profile = StudentProfile(student_id=student.id, full_name=kw.pop("full_name", "Alex Fictional"),
                             college_code=kw.pop("college_code", None), **kw)
    db.session.add(profile)
    db.session.commit()
    return profile


def make_case(student, *, what_happened="My exam was marked late.", outcome_wanted="A fair remark.",
              area_code="exams", officer=None, **kw) -> Case:
    case = Case(reference=kw.pop("reference", f"ADV-2026-{next(_seq):04d}"), student_id=student.id, area_code=area_code,
                assigned_to_id=officer.id if officer else None, **kw)
    case.what_happened = what_happened
    case.outcome_wanted = outcome_wanted
    db.session.add(case)
    db.session.commit()
    return case


def make_entry(case, author, text, *, kind="note", amendments=(), occurred_at=None) -> CaseEntry:
    entry = CaseEntry(case_id=case.id, kind=kind, occurred_at=occurred_at or utcnow(), author_id=author.id,
                      current_version=1 + len(amendments))
    db.session.add(entry)
    db.session.flush()
    for number, wording in enumerate([text, *amendments], start=1):
        version = CaseEntryVersion(entry_id=entry.id, version=number, edited_by_id=author.id)
        version.text = wording
        if number > 1:
            version.reason = "Corrected a date"
        db.session.add(version)
    db.session.commit()
    return entry


def make_message(case, body, *, from_student=True, staff=None) -> Message:
    message = Message(case_id=case.id, from_student=from_student, staff_id=None if from_student else staff.id)
    message.body = body
    db.session.add(message)
    db.session.commit()
    return message


def make_flag(case, officer, reason) -> ReflectiveFlag:
    flag = ReflectiveFlag(case_id=case.id, flagged_by_id=officer.id)
    flag.reason = reason
    db.session.add(flag)
    db.session.commit()
    return flag


def make_appointment(case, officer, *, location="Advice Service, room 2") -> Appointment:
    appt = Appointment(case_id=case.id, starts_at=utcnow() + timedelta(days=2), mode="in_person", location=location,
                       officer_id=officer.id, created_by_id=officer.id)
    db.session.add(appt)
    db.session.commit()
    return appt


def make_document(case, title, data: bytes, content_type: str, *, by_student=True) -> Document:
    """Stored through the casework document store (encrypted under instance/documents/)."""
    doc = documents.add(documents.Upload(title, data), student_id=case.student_id, case_id=case.id)
    doc.title = title
    doc.uploaded_by_student = by_student
    db.session.commit()
    assert doc.content_type.split("/")[0] == content_type.split("/")[0]
    return doc


def make_consent(student, *, recipient="Dr Pat Tutorname", organisation="Fictional College", purpose="To ask for an extension",
                 case=None, withdrawn=False) -> Consent:
    now = utcnow()
    consent = Consent(
        receipt_id=str(uuid.uuid4()), student_id=student.id, case_id=case.id if case else None, recipient_name=recipient,
        recipient_organisation=organisation, scopes=["summary"], granted_at=now - timedelta(days=3),
        expires_at=now + timedelta(days=90), collection_method="portal", wording_version="1", wording_sha256="0" * 64,
        typed_name="Alex Fictional", withdrawn_at=now - timedelta(days=1) if withdrawn else None,
        withdrawn_by="student" if withdrawn else None,
    )
    consent.purpose = purpose
    consent.shown_text = "I agree that the Advice Service may share a summary of my case."
    db.session.add(consent)
    db.session.commit()
    return consent


def make_breach(student, officer, *, ground="safety", situation="Imminent risk described in a meeting",
                recipient="Duty Team", organisation="Fictional Crisis Service", case=None) -> BreachRecord:
    breach = BreachRecord(student_id=student.id, case_id=case.id if case else None, ground=ground, recipient_name=recipient,
                          recipient_organisation=organisation, decided_by_id=officer.id)
    breach.situation = situation
    breach.achieves = "Keeping someone safe"
    db.session.add(breach)
    db.session.commit()
    return breach


def make_disclosure(student, officer, what, *, consent=None, breach=None, case=None,
                    recipient="Dr Pat Tutorname", organisation="Fictional College") -> Disclosure:
    disclosure = Disclosure(student_id=student.id, case_id=case.id if case else None,
                            consent_id=consent.id if consent else None, breach_record_id=breach.id if breach else None,
                            scope="summary", recipient_name=recipient, recipient_organisation=organisation, method="email",
                            disclosed_by_id=officer.id)
    disclosure.what = what
    db.session.add(disclosure)
    db.session.commit()
    return disclosure


def make_full_record(student, officer, *, tag: str = "") -> dict:
    """A student with one case carrying one of everything; every text includes `tag`, to find it later."""
    make_profile(student, full_name=f"Alex Fictional{tag}", phone="01223 000000")
    case = make_case(student, officer=officer, what_happened=f"My supervisor lost my essay{tag}.")
    out = {
        "case": case,
        "advice": make_entry(case, officer, f"Advised on the appeal deadline{tag}.", kind="advice"),
        "note": make_entry(case, officer, f"Officer's impression: student seemed anxious{tag}.", kind="note"),
        "amended": make_entry(case, officer, f"Meeting on the 3rd{tag}.", kind="meeting", amendments=[f"Meeting on the 4th{tag}."]),
        "message": make_message(case, f"Thank you for your help{tag}."),
        "reply": make_message(case, f"Please send the marking scheme{tag}.", from_student=False, staff=officer),
        "flag": make_flag(case, officer, f"Discuss the supervisor pattern{tag}."),
        "appointment": make_appointment(case, officer),
    }
    consent = make_consent(student, case=case, purpose=f"To ask the college for an extension{tag}")
    out["consent"] = consent
    out["disclosure"] = make_disclosure(student, officer, f"Summary of the essay problem{tag}", consent=consent, case=case)
    return out


def make_request(student, *, case=None, received_at=None, status="received") -> AccessRequest:
    from shared.subject_access.deadlines import one_month_after, service_date

    received_at = received_at or utcnow()
    day = service_date(received_at)
    req = AccessRequest(reference=f"SAR-T-{next(_seq):04d}", student_id=student.id, case_id=case.id if case else None,
                        received_at=received_at, received_on=day, base_due_on=one_month_after(day),
                        due_on=one_month_after(day), status=status)
    db.session.add(req)
    db.session.commit()
    return req


def review_and_release(officer, req, *, releaser=None):
    """Through the services, as an officer would: mark the copy reviewed, then release it (by `releaser`, or
    the same officer). Returns the render job."""
    from shared.subject_access import requests as access

    access.mark_reviewed(officer, req.id)
    return access.release(releaser or officer, req.id)


def make_request_in(state, student, officer, *, redactor=None):
    """A request brought to `state` through the services (never by writing its status), so each state is one
    the application itself can reach. A released copy is rendered (JOBS_MODE sync); 'releasing' keeps the job
    queued; 'expired' is a released copy past its download period, discarded. With `redactor`, that officer
    withholds the profile first (the copy then holds a redaction)."""
    from shared.subject_access import copies as sar_copies
    from shared.subject_access import jobs
    from shared.subject_access import requests as access

    req = make_request(student)
    if redactor is not None:
        profile = db.session.query(StudentProfile).filter_by(student_id=student.id).first() or make_profile(student)
        access.redact(redactor, req.id, "profile", profile.id, reason="Names a third party")
    if state == "received":
        return req
    if state == "paused":
        access.pause(officer, req.id, "identity")
    elif state == "refused":
        access.refuse(officer, req.id, "The same request three times this week.")
    elif state == "reviewed":
        access.mark_reviewed(officer, req.id)
    elif state == "releasing":
        held, jobs.enqueue_render = jobs.enqueue_render, lambda job_id: None  # nothing runs the job
        try:
            review_and_release(officer, req)
        finally:
            jobs.enqueue_render = held
    elif state in ("released", "expired"):
        review_and_release(officer, req)
        if state == "expired":
            req = db.session.get(AccessRequest, req.id)
            req.download_expires_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
            sar_copies.discard_expired()
    else:
        raise ValueError(state)
    db.session.expire_all()
    req = db.session.get(AccessRequest, req.id)
    assert req.status == state, (req.status, state)
    return req

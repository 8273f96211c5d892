"""A journey through the services that writes every kind of sensitive text the service keeps, each with its
own marker, so a test can look for every one of them in the database. All people and words are invented.

`fill_every_encrypted_field` returns {label: marker} for the fields it wrote ("table.field", as
`shared.lifecycle.keyrotation.encrypted_fields()` names them). The tests compare that with the encrypted fields the
models declare, so a new encrypted field fails them until this journey writes it too."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared.casework import cases as casework
from shared.casework import conflicts, file_review, intake, reflective
from shared.casework import record as case_record
from shared.casework.conflicts import PersonAnswers
from shared.casework.documents import Upload
from shared.consent import breach
from shared.consent import enquiries as consent_enquiries
from shared.consent import gate as consent
from shared.consent import giving as consent_giving
from shared.consent import requests as consent_requests
from shared.consent.breach import BreachDecision, Proposal
from shared.consent.giving import ConsentDetails
from shared.lifecycle import erasure
from shared.models import FileReview, OutgoingEmail, utcnow
from shared.platform.extensions import db
from shared.subject_access import requests as access
from tests.factories import make_staff, make_student
from tests.factories_casework import PDF, make_case
from tests.factories_reviews import draw, work_through


def marker(label: str) -> str:
    """A marker no other text contains: the field's label, spelt so it is no prefix of another's."""
    return f"ZEBRA<{label}>7731"


def fill_every_encrypted_field(student, officer, manager, admin) -> dict[str, str]:
    m = marker
    written: dict[str, str] = {}

    def mark(label: str) -> str:
        written[label] = m(label)
        return written[label]

    # The student's casework form, with a document: the case, the profile, the document's title.
    case = make_case(student, uploads=[Upload(f"{mark('documents.title')}.pdf", PDF)],
                     what_happened=mark("cases.what_happened"), outcome_wanted=mark("cases.outcome_wanted"),
                     accessibility_needs=mark("cases.accessibility_needs"), contact_notes=mark("student_profiles.contact_notes"))
    written["student_profiles.accessibility_needs"] = written["cases.accessibility_needs"]  # the form fills both
    intake.save_draft(student, {"what_happened": mark("case_drafts.answers_json")})
    ref = case.reference
    entry = case_record.add_entry(officer, ref, "note", utcnow(), f"First wording {m('case_entry_versions.text')}")
    case_record.amend_entry(officer, ref, entry.id, mark("case_entry_versions.text"), mark("case_entry_versions.reason"))
    case_record.change_status(officer, ref, "waiting", mark("case_changes.reason"))
    message = casework.student_sends_message(student, ref, mark("messages.body"))
    reflective.flag_for_reflection(officer, ref, mark("reflective_flags.reason"))

    # Consent: recorded by an officer with its evidence (its purpose and the words shown), and one asked for.
    details = ConsentDetails(recipient_name="Dr Pat Tutorname", recipient_organisation="Fictional College",
                             purpose=mark("consents.purpose"), scopes=["summary"], case_id=case.id,
                             expires_on=consent_giving.default_expiry())
    given = consent_giving.record_given(officer, student, details, method="email", typed_name="Alex Fictional",
                                 evidence_note=mark("consents.evidence_note"), evidence_document_id=None)
    written["consents.shown_text"] = written["consents.purpose"]  # the statement shown quotes the purpose
    assert m("consents.purpose") in given.shown_text
    consent_requests.ask(officer, ref, ConsentDetails(
        recipient_name="Dr Sam Practice", recipient_organisation="Imaginary Health Centre",
        purpose=mark("consent_requests.purpose"), scopes=["summary"], case_id=case.id), mark("consent_requests.reason"))
    consent.record_disclosure(officer, student, "summary", details.recipient, what=mark("disclosures.what"),
                              method="email", case=case)
    consent_enquiries.answer_enquiry(officer, enquirer_name="Dr Jo Othertutor", enquirer_role=None,
                           enquirer_organisation="Fictional College", about_name="Alex Fictional",
                           about_email=student.email, asked=mark("third_party_enquiries.asked"))

    # The breach procedure: the request for advice, the colleague's advice in their own session, the decision
    # (the record copies the request's outline), an urgent decision made before advice, an addendum; and a
    # security incident.
    colleague = make_staff(name="Sam Colleague")
    req = breach.request_consultation(officer, ref, Proposal(
        ground="safety", situation=mark("breach_consultation_requests.situation"),
        achieves=mark("breach_consultation_requests.achieves"), recipient_name="Duty Team",
        recipient_organisation="Fictional Crisis Service", consultee_ids=[colleague.id]))
    written["breach_records.situation"] = written["breach_consultation_requests.situation"]
    written["breach_records.achieves"] = written["breach_consultation_requests.achieves"]
    breach.give_advice(colleague, req.id, mark("breach_consultations.advice"))
    record = breach.decide(officer, req.id, BreachDecision(
        proceed=True, recipient_name="Duty Team", recipient_organisation="Fictional Crisis Service", scope="summary",
        what=f"Told the duty team {m('disclosures.what')}", method="phone",
        student_told=False, not_told_reason=mark("breach_records.not_told_reason")))
    urgent = breach.request_consultation(officer, ref, Proposal(
        ground="safety", situation="A second, urgent danger described on the phone.",
        achieves="An ambulance reaches them now.", recipient_name="Ambulance Control",
        recipient_organisation="Fictional Ambulance Service", consultee_ids=[colleague.id]))
    breach.decide(officer, urgent.id, BreachDecision(
        proceed=True, recipient_name="Ambulance Control", recipient_organisation="Fictional Ambulance Service",
        scope="summary", what="Where they are and the danger described.", method="phone", student_told=True,
        student_told_at=utcnow() - timedelta(minutes=5), urgent=True, urgent_reason=mark("breach_records.urgent_reason")))
    breach.add_addendum(officer, record.id, mark("breach_addenda.text"))
    incident = breach.report_incident(officer, kind="lost_device", description=mark("security_incidents.description"),
                                      discovered_at=utcnow() - timedelta(hours=2))
    breach.resolve_incident(manager, incident.id, resolution=mark("security_incidents.resolution"), ico_notified=False)

    # A subject-access request: the student's note, an extension, a redaction of a passage, then refused.
    req = access.request_copy(student, case_id=case.id, note=mark("access_requests.note"))
    access.extend(officer, req.id, 1, mark("access_requests.extension_reason"))
    access.redact(officer, req.id, "message", message.id, reason=mark("access_redactions.reason"),
                  passage=m("messages.body"))
    written["access_redactions.passage"] = written["messages.body"]  # a passage is words copied from the item
    access.refuse(officer, req.id, mark("access_requests.refusal_reason"))

    # An erasure request, refused (so its details are kept) with what the student is told.
    from flask import current_app

    asked = erasure.submit(student, mark("erasure_requests.details"))
    with current_app.test_request_context():  # the email telling the student links to the portal
        erasure.decide(admin, asked, "refuse", mark("erasure_requests.outcome"))
    # The staff-only note of a request whose erasure kept a terrorism-ground case silently (the path itself is
    # tests/consent/test_consent_tipping_off.py's): written here through the model, as the service writes it.
    asked.staff_note = mark("erasure_requests.staff_note")
    # An email the server did not take, waiting in the outbox to be tried again (written through the model: the
    # service's emails carry no case detail, so none of them could hold a marker).
    waiting = OutgoingEmail(to_address=student.email, subject="A message from the Advice Service", attempts=1,
                            next_attempt_at=utcnow() + timedelta(hours=1), last_error="SMTPServerDisconnected")
    waiting.body = mark("outgoing_emails.body")
    db.session.add(waiting)
    db.session.commit()

    # People involved: one the student names on the casework form, one an officer adds; then a second
    # fictional student names the first, the conflict is found and decided (referred elsewhere).
    other = make_student(email="casey.fictional@example.ac.uk")
    written["people_involved.email"] = "zebra.people.involved.7731@example.ac.uk"  # an address, found like a marker
    other_case = make_case(other, full_name="Casey Fictional", people=[
        PersonAnswers(name=mark("people_involved.name"), relation="landlord",
                      organisation=mark("people_involved.organisation"), email=written["people_involved.email"]),
        PersonAnswers(name="MORGAN FENWICK", relation="student", college_code="newnham"),  # the first student, as typed
    ])
    conflicts.add_person(officer, ref, PersonAnswers(name="Robin Landlordly", relation="landlord"))
    found = conflicts.conflict_between(case, other_case)
    conflicts.decide(manager, found.id, conflicts.Decision(
        outcome="refer_elsewhere", reason=mark("conflict_decisions.reason"),
        referred_to=mark("conflict_decisions.referred_to"), referred_reference=other_case.reference))

    # File review of the case: a note on a checklist item, the findings, an action, closed with one open.
    case_record.assign(manager, ref, officer.id)
    sample = draw(manager, seed="1")
    review = db.session.scalar(select(FileReview).where(FileReview.sample_id == sample.id))
    work_through(manager, review, findings=mark("file_reviews.findings"), action=mark("review_actions.text"),
                 note=mark("review_findings.note"))
    file_review.close_review(manager, review.id, mark("file_reviews.closing_note"))

    # Every staff account's authenticator secret (the factories enrol each one).
    written["staff.totp_secret"] = None  # a secret, not a marker: the tests read it back and look for it
    return written

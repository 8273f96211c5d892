"""Officers share only through the gate, and record consent given in person or by email with evidence."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from shared.models import AuditEvent, Consent, Disclosure
from shared.subject_access.deadlines import SERVICE_TZ, add_months, service_today
from tests.factories_access import make_case as make_case_opened_on
from tests.factories_access import make_document
from tests.factories_casework import make_case
from tests.factories_consent import GP, TUTOR, give_consent
from tests.support.consent_form import details
from tests.support.pdf import text as pdf_text


def _page(browser, url) -> str:
    resp = browser.get(url)
    assert resp.status_code == 200
    return html.unescape(resp.get_data(as_text=True))


def test_case_page_says_when_nothing_may_be_shared(db, student, officer_browser):
    case = make_case(student)
    page = _page(officer_browser, f"/staff/cases/{case.reference}")
    assert "No valid consent" in page and "Do not confirm to anyone" in page


def test_recording_a_disclosure_offers_only_recipients_a_valid_consent_covers(db, student, officer_browser):
    case = make_case(student)
    give_consent(student, TUTOR)
    give_consent(student, GP, withdrawn_at=None, case=make_case(student))  # another case: not offered here
    page = _page(officer_browser, f"/staff/cases/{case.reference}/sharing")
    form = page[page.index("Record a disclosure"):page.index('id="consents-h"')]
    assert TUTOR.name in form and GP.name not in form


def test_officer_records_a_disclosure_on_a_valid_consent(db, student, officer, officer_browser):
    case = make_case(student)
    c = give_consent(student, TUTOR)
    url = f"/staff/cases/{case.reference}/sharing"
    resp = officer_browser.submit(url, {"consent_id": str(c.id), "scope": "summary", "method": "email",
                                        "what": "Told the tutor the appeal is being prepared."})
    assert resp.status_code == 302
    d = db.session.scalars(select(Disclosure)).one()
    assert d.consent_id == c.id and d.case_id == case.id and d.disclosed_by_id == officer.id


def test_disclosure_beyond_the_consent_is_refused_with_an_explanation_and_audited(db, student, officer_browser):
    case = make_case(student)
    c = give_consent(student, TUTOR, scopes=["attendance"])
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/sharing",
                                  {"consent_id": str(c.id), "scope": "full_record", "method": "email", "what": "Everything"})
    assert resp.status_code == 409
    assert "does not cover this information" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Disclosure)).all() == []
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "disclosure.refused")).one()


def test_a_withdrawn_or_another_students_consent_cannot_be_used(db, student, other_student, officer_browser):
    case = make_case(student)
    theirs = give_consent(other_student, TUTOR)
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/sharing",
                                  {"consent_id": str(theirs.id), "scope": "attendance", "method": "phone", "what": "Yes"})
    assert resp.status_code == 409
    assert db.session.scalars(select(Disclosure)).all() == []


def test_officer_records_consent_given_by_email_with_evidence(db, student, officer, officer_browser):
    case = make_case(student)
    doc = make_document(case, "Email from student", b"%PDF-1.4 email", "application/pdf", by_student=False)
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/consents/new", {
        **details(case_id=str(case.id)), "method": "email", "typed_name": "Alex Fictional",
        "evidence_note": "Email of today from the student's university address.", "evidence_document_id": str(doc.id)})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    c = db.session.scalars(select(Consent)).one()
    assert c.collection_method == "email" and c.recorded_by_id == officer.id and c.evidence_document_id == doc.id
    assert c.evidence_note.startswith("Email of today") and c.case_id == case.id and c.shown_text


def test_recorded_consent_needs_evidence_and_a_method(db, student, officer_browser):
    case = make_case(student)
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/consents/new", {**details(), "typed_name": "Alex"})
    page = resp.get_data(as_text=True)
    assert "Choose how the student gave consent" in page and "Describe the evidence" in page
    assert db.session.scalars(select(Consent)).all() == []


def _record(officer_browser, case, given_on: date | None, **overrides):
    return officer_browser.submit(f"/staff/cases/{case.reference}/consents/new", {
        **details(), "method": "signed_form", "typed_name": "Alex Fictional",
        "evidence_note": "Signed consent form seen in the meeting, scanned to the case.",
        "given_on": given_on.isoformat() if given_on else "", **overrides})


def _opened_on(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=SERVICE_TZ)


def test_consent_cannot_be_dated_before_the_student_first_contacted_the_service(db, student, officer_browser):
    case = make_case(student)  # the student registered and opened their first case today
    resp = _record(officer_browser, case, date(2019, 3, 1))
    page = html.unescape(resp.get_data(as_text=True))
    assert "cannot be before the student first contacted the service" in page
    assert f'value="{details()["purpose"]}' in page or details()["purpose"] in page  # the answers are kept
    assert 'value="Alex Fictional"' in page
    assert db.session.scalars(select(Consent)).all() == []


def test_consent_cannot_be_dated_in_the_future(db, student, officer_browser):
    case = make_case(student)
    resp = _record(officer_browser, case, service_today() + timedelta(days=1))
    assert "cannot be in the future" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Consent)).all() == []


def test_first_contact_is_the_first_case_when_it_was_opened_before_registration(db, student, officer_browser):
    """A walk-in whose case was opened before they registered in the portal: consent given at that meeting
    may be recorded as given then, and lasts at most the maximum from that day."""
    given = service_today() - timedelta(days=60)
    case = make_case_opened_on(student, opened_at=_opened_on(given - timedelta(days=5)))
    resp = _record(officer_browser, case, given, expires_on=add_months(given, 12).isoformat())
    assert resp.status_code == 302, resp.get_data(as_text=True)
    c = db.session.scalars(select(Consent)).one()
    assert c.granted_at.astimezone(SERVICE_TZ).date() == given
    assert c.expires_at.astimezone(SERVICE_TZ).date() == add_months(given, 12) + timedelta(days=1)  # end of that day


def test_backdated_consent_lasts_at_most_the_maximum_from_the_day_it_was_given(db, student, officer_browser):
    given = service_today() - timedelta(days=60)
    case = make_case_opened_on(student, opened_at=_opened_on(given - timedelta(days=5)))
    too_late = add_months(given, 12) + timedelta(days=1)  # within 12 months of today, not of the day it was given
    resp = _record(officer_browser, case, given, expires_on=too_late.isoformat())
    page = html.unescape(resp.get_data(as_text=True))
    assert "at most 12 months after the date consent was given" in page
    assert f'value="{too_late.isoformat()}"' in page and 'value="Alex Fictional"' in page  # the answers are kept
    assert db.session.scalars(select(Consent)).all() == []


def test_officer_recorded_consent_shows_who_recorded_it_and_how_everywhere(db, student, officer, officer_browser,
                                                                           student_browser):
    case = make_case(student)
    resp = _record(officer_browser, case, None, method="phone")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    c = db.session.scalars(select(Consent)).one()
    assert c.collection_method == "phone" and c.recorded_by_id == officer.id
    said = f"By phone, recorded by {officer.name}"
    assert said in _page(officer_browser, f"/staff/cases/{case.reference}/sharing")
    assert said in _page(student_browser, "/consents")
    assert said in _page(student_browser, f"/consents/{c.id}")
    receipt = json.loads(student_browser.get(f"/consents/{c.id}/receipt.json").get_data())
    assert receipt["recordedBy"] == officer.name and "by phone" in receipt["collectionMethod"]
    text = pdf_text(student_browser.get(f"/consents/{c.id}/receipt.pdf").get_data())
    assert re.search(rf"Recorded by\s*{officer.name}", text) and "Given by phone" in text


def test_a_signed_form_is_a_way_of_giving_consent(db, student, officer_browser):
    case = make_case(student)
    assert _record(officer_browser, case, None).status_code == 302
    c = db.session.scalars(select(Consent)).one()
    assert c.collection_method == "signed_form"
    assert "Signed form, recorded by" in _page(officer_browser, f"/staff/cases/{case.reference}/sharing")


def test_viewing_the_sharing_page_is_audited(db, student, officer_browser):
    case = make_case(student)
    officer_browser.get(f"/staff/cases/{case.reference}/sharing")
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sharing.viewed")).one().case_id == case.id


def test_students_cannot_reach_the_sharing_pages(db, student, student_browser):
    case = make_case(student)
    assert student_browser.get(f"/staff/cases/{case.reference}/sharing").status_code in (302, 403, 404)


def test_officer_records_a_withdrawal_the_student_gave_in_person(db, student, officer_browser):
    case = make_case(student)
    c = give_consent(student, TUTOR)
    url = f"/staff/cases/{case.reference}/sharing"
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/consents/{c.id}/withdraw", page=url)
    assert resp.status_code == 302
    db.session.expire_all()
    c = db.session.get(Consent, c.id)
    assert c.withdrawn_at is not None and c.withdrawn_by == "staff"
    resp = officer_browser.submit(url, {"consent_id": str(c.id), "scope": "attendance", "method": "phone", "what": "Yes"})
    assert resp.status_code == 409


def test_every_new_staff_page_renders(db, student, officer, manager_browser):
    from shared.consent import breach
    from shared.models import utcnow

    case = make_case(student)
    give_consent(student, TUTOR)
    incident = breach.report_incident(officer, kind="other", description="Test", discovered_at=utcnow())
    for url in (f"/staff/cases/{case.reference}", f"/staff/cases/{case.reference}/sharing",
                f"/staff/cases/{case.reference}/consents/new", f"/staff/cases/{case.reference}/consent-request",
                f"/staff/cases/{case.reference}/breach", "/staff/breaches", "/staff/enquiries", "/staff/incidents/new",
                f"/staff/incidents/{incident.id}/resolve", "/staff/"):
        assert manager_browser.get(url).status_code == 200, url

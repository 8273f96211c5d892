"""Consent requests: an officer asks, the student reads the same informed wording and approves or declines."""

from __future__ import annotations

from sqlalchemy import select

from shared.models import Consent, ConsentRequest
from shared.platform.mail import sent_messages
from tests.factories_casework import make_case
from tests.factories_consent import TUTOR
from tests.support.consent_form import confirm


def ask(officer_browser, case, **overrides):
    data = {"recipient_name": TUTOR.name, "recipient_organisation": TUTOR.organisation,
            "purpose": "So your tutor can support the appeal.", "scopes": ["summary"], "case_id": str(case.id),
            "reason": "Your tutor asked us for an update.", **overrides}
    return officer_browser.submit(f"/staff/cases/{case.reference}/consent-request", data)


def test_officer_asks_and_the_email_says_only_that_there_is_a_request(db, student, officer_browser):
    case = make_case(student)
    sent_messages().clear()
    assert ask(officer_browser, case).status_code == 302
    req = db.session.scalars(select(ConsentRequest)).one()
    assert req.status == "pending" and req.case_id == case.id and req.reason == "Your tutor asked us for an update."
    [msg] = sent_messages()
    body = msg.get_content()
    assert msg["To"] == student.email and "request for you to look at" in body
    for detail in (TUTOR.name, TUTOR.organisation, "appeal", case.reference):
        assert detail not in body and detail not in msg["Subject"]


def test_student_approves_with_the_same_informed_wording_which_creates_the_consent(db, student, officer_browser, student_browser):
    case = make_case(student)
    ask(officer_browser, case)
    req = db.session.scalars(select(ConsentRequest)).one()
    assert f"/consents/requests/{req.id}" in student_browser.get("/consents").get_data(as_text=True)
    page = student_browser.get(f"/consents/requests/{req.id}").get_data(as_text=True)
    assert "Check what you are agreeing to" in page and "Your tutor asked us for an update." in page
    resp = confirm_request(student_browser, req, page)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    c = db.session.scalars(select(Consent)).one()
    db.session.expire_all()
    req = db.session.get(ConsentRequest, req.id)
    assert req.status == "approved" and req.consent_id == c.id
    assert c.recipient_name == TUTOR.name and c.case_id == case.id and c.scopes == ["summary"] and c.shown_text


def confirm_request(browser, req, page, **kw):
    return confirm(browser, page, url=f"/consents/requests/{req.id}/approve", page_url=f"/consents/requests/{req.id}", **kw)


def test_unticked_approval_creates_nothing(db, student, officer_browser, student_browser):
    case = make_case(student)
    ask(officer_browser, case)
    req = db.session.scalars(select(ConsentRequest)).one()
    page = student_browser.get(f"/consents/requests/{req.id}").get_data(as_text=True)
    resp = confirm_request(student_browser, req, page, tick=False)
    assert "Tick the box" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Consent)).all() == []


def test_student_declines_and_nothing_is_created(db, student, officer_browser, student_browser):
    case = make_case(student)
    ask(officer_browser, case)
    req = db.session.scalars(select(ConsentRequest)).one()
    resp = student_browser.submit(f"/consents/requests/{req.id}/decline", page=f"/consents/requests/{req.id}")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(ConsentRequest, req.id).status == "declined"
    assert db.session.scalars(select(Consent)).all() == []


def test_another_students_request_is_not_found(db, student, other_student, officer_browser, other_student_browser):
    case = make_case(student)
    ask(officer_browser, case)
    req = db.session.scalars(select(ConsentRequest)).one()
    assert other_student_browser.get(f"/consents/requests/{req.id}").status_code == 404


def test_a_request_needs_a_reason(db, student, officer_browser):
    case = make_case(student)
    resp = ask(officer_browser, case, reason="")
    assert "Say why you are asking" in resp.get_data(as_text=True)
    assert db.session.scalars(select(ConsentRequest)).all() == []

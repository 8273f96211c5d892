"""Third-party enquiries: confirm only with consent for that recipient; otherwise neither confirm nor deny,
word for word the same whether or not the person is a student of the service. Every enquiry is recorded."""

from __future__ import annotations

import re

from sqlalchemy import select

from shared.consent import giving as consent_giving
from shared.models import Disclosure, ThirdPartyEnquiry
from tests.factories_consent import GP, TUTOR, TUTORS_COLLEAGUE, give_consent


def ask(browser, about_email, who=TUTOR):
    resp = browser.submit("/staff/enquiries", {
        "enquirer_name": who.name, "enquirer_role": "Senior Tutor", "enquirer_organisation": who.organisation,
        "about_name": "Alex Fictional", "about_email": about_email, "asked": "Is Alex getting help from you?"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = browser.get(resp.headers["Location"]).get_data(as_text=True)
    return page.replace(about_email, "EMAIL")


def answer(page: str) -> str:
    return re.search(r'<div class="notice" role="status" id="answer">(.*?)</div>', page, re.S).group(1)


def test_without_consent_the_answer_is_identical_for_a_student_and_for_a_stranger(db, student, officer_browser):
    about_student = ask(officer_browser, student.email)
    about_stranger = ask(officer_browser, "nobody.here@example.ac.uk")
    assert "neither confirm nor deny" in answer(about_student)
    assert about_student == about_stranger  # the whole page, not just the words


def test_consent_for_another_recipient_still_gives_neither_confirm_nor_deny(db, student, officer_browser):
    give_consent(student, GP, scopes=["full_record"])
    assert answer(ask(officer_browser, student.email)) == answer(ask(officer_browser, "nobody@example.ac.uk"))


def test_a_colleague_of_the_consented_person_gets_neither_confirm_nor_deny(db, student, officer_browser):
    give_consent(student, TUTOR, scopes=["attendance"])
    about_student = ask(officer_browser, student.email, who=TUTORS_COLLEAGUE)
    assert "neither confirm nor deny" in answer(about_student)
    assert about_student == ask(officer_browser, "nobody.here@example.ac.uk", who=TUTORS_COLLEAGUE)
    assert db.session.scalars(select(Disclosure)).all() == []
    assert [r.answer for r in db.session.scalars(select(ThirdPartyEnquiry))] == ["ncnd", "ncnd"]


def test_withdrawn_consent_gives_neither_confirm_nor_deny(db, student, officer_browser):
    c = give_consent(student, TUTOR, scopes=["attendance"])
    consent_giving.withdraw(student, student, c.id)
    assert "neither confirm nor deny" in answer(ask(officer_browser, student.email))


def test_consent_for_that_recipient_lets_the_officer_confirm_and_it_is_recorded(db, student, officer_browser):
    c = give_consent(student, TUTOR, scopes=["attendance"])
    page = ask(officer_browser, student.email)
    assert "you may confirm" in answer(page)
    d = db.session.scalars(select(Disclosure)).one()
    assert d.consent_id == c.id and d.scope == "attendance" and d.recipient_name == TUTOR.name


def test_every_enquiry_and_answer_is_recorded(db, student, officer, officer_browser):
    ask(officer_browser, student.email)
    ask(officer_browser, "nobody@example.ac.uk")
    rows = db.session.scalars(select(ThirdPartyEnquiry).order_by(ThirdPartyEnquiry.id)).all()
    assert [r.answer for r in rows] == ["ncnd", "ncnd"]
    assert rows[0].student_id == student.id and rows[1].student_id is None
    assert rows[0].asked == "Is Alex getting help from you?" and rows[0].answered_by_id == officer.id


def test_an_enquiry_needs_who_asked_and_what(db, officer_browser):
    resp = officer_browser.submit("/staff/enquiries", {"enquirer_name": "", "asked": ""})
    page = resp.get_data(as_text=True)
    assert "Enter who asked" in page and "Enter what they asked" in page

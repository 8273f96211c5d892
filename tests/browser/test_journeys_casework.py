"""Casework in a real browser: a student asks for advice (keeping their answers through a failed
validation) and follows the case; an officer (signed in: the TOTP sign-in has its own journey) finds the case and records an entry."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.browser.helpers import axe_check, click, fill_form, sign_in, signed_in, visit


def test_student_asks_for_advice_and_an_officer_works_the_case(browser_context, live_server):
    from tests.browser.helpers import new_page

    student = new_page(browser_context, live_server)
    sign_in(student, live_server, "student")
    click(student, "link", "Ask for advice")
    marker = "My landlord kept the deposit for the flat on Fictional Lane"
    fill_form(student, {"Full name": "Alex Demo-Student", "Faculty or department": "Fictional Studies"})
    student.get_by_label("College", exact=True).select_option(index=1)
    student.get_by_label("Housing", exact=True).check()
    student.get_by_label("In person", exact=True).check()
    # First without saying what happened: the error is shown and nothing typed is lost.
    fill_form(student, {"What happened?": ""})
    click(student, "button", "Send my form")
    assert "what happened" in student.get_by_role("alert").inner_text().lower()
    assert student.get_by_label("Faculty or department", exact=True).input_value() == "Fictional Studies"
    axe_check(student)
    fill_form(student, {"What happened?": marker})
    click(student, "button", "Send my form")
    assert student.get_by_role("heading", name="We have received your form").is_visible()
    reference = re.search(r"ADV-\d{4}-\d+", student.get_by_role("status").inner_text()).group(0)
    axe_check(student)
    click(student, "link", "My cases")
    assert reference in student.content()
    axe_check(student)

    officer = new_page(browser_context, live_server)
    signed_in(officer, live_server, "officer")
    visit(officer, f"/staff/cases?q={reference}")
    axe_check(officer)
    click(officer, "link", reference)
    assert urlsplit(officer.url).path == f"/staff/cases/{reference}"
    assert marker in officer.content()
    axe_check(officer)

"""Consent in a real browser: a student gives informed consent (review first, nothing pre-ticked), sees
it listed, and withdraws it in one step."""

from __future__ import annotations

from tests.browser.helpers import axe_check, click, fill_form, new_page, sign_in


def test_student_gives_then_withdraws_consent(browser_context, live_server):
    page = new_page(browser_context, live_server)
    sign_in(page, live_server, "student")
    click(page, "link", "Who we may talk to")
    axe_check(page)
    click(page, "link", "Give consent to share")
    fill_form(page, {
        "Name of the person": "Dr Robin Fictional",
        "Their organisation": "Fictional College",
        "Why may they have this information?": "To support my request for an extension",
    })
    page.get_by_label("That you are using the Advice Service", exact=True).check()
    page.locator("input[name=case_id]").first.check()
    axe_check(page)
    click(page, "button", "Review what you are agreeing to")
    # Informed: the review names the recipient and how to withdraw; the agreement box starts unticked.
    assert "Dr Robin Fictional" in page.content() and "How to withdraw" in page.content()
    agree = page.get_by_label("I have read the statement above and I agree to it", exact=True)
    assert not agree.is_checked()
    axe_check(page)
    agree.check()
    fill_form(page, {"Type your full name to confirm": "Alex Demo-Student"})
    click(page, "button", "Give consent")
    assert "Dr Robin Fictional" in page.content()
    axe_check(page)
    click(page, "button", "Withdraw consent")
    assert "Withdrawn" in page.content()
    axe_check(page)

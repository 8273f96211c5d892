"""The pages work without JavaScript: a student signs in and out with scripts turned off.
(axe needs JavaScript, so these pages are checked by the other journeys; this one only proves they work.)"""

from __future__ import annotations

from urllib.parse import urlsplit


def test_student_signs_in_and_out_without_javascript(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        login = live_server.logins["student"]
        assert page.goto("/sign-in").status == 200
        page.get_by_label("Email address", exact=True).fill(login["email"])
        page.get_by_label("Password", exact=True).fill(login["password"])
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in", exact=True).click()
        assert urlsplit(page.url).path == "/home"
        with page.expect_navigation():
            page.get_by_role("button", name="Sign out", exact=True).click()
        assert urlsplit(page.url).path == "/sign-in"
        assert "You have signed out." in page.get_by_role("status").inner_text()
    finally:
        context.close()

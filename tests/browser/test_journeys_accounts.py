"""Journeys through the account pages in a real browser: registering, confirming, signing in and out."""

from __future__ import annotations

import itertools
import time
from urllib.parse import urlsplit

from tests.browser.helpers import axe_check, click, fill_form, press, sign_in, tab_to, visit

NEW_PASSWORD = "plum orchard kettle wander 9"
_seq = itertools.count()


def path_of(page) -> str:
    return urlsplit(page.url).path


def test_student_registers_confirms_signs_in_and_out(page, live_server):
    email = f"new.student.{int(time.time())}{next(_seq)}@example.ac.uk"
    visit(page, "/")
    click(page, "link", "Create an account")
    fill_form(
        page,
        {
            "University email address": email,
            "Choose a password": NEW_PASSWORD,
            "Type the password again": "not the same password",
        },
    )
    click(page, "button", "Create account")

    # A failed validation: the error summary links to the field, and the answers are kept.
    summary = page.get_by_role("alert")
    assert "The two passwords do not match." in summary.inner_text()
    assert page.get_by_label("University email address", exact=True).input_value() == email
    fill_form(page, {"Choose a password": NEW_PASSWORD, "Type the password again": NEW_PASSWORD})
    click(page, "button", "Create account")
    assert page.get_by_role("heading", name="Check your email").is_visible()

    visit(page, live_server.link_in_latest_email(email))
    assert path_of(page) == "/sign-in"
    assert "Your email address is confirmed" in page.get_by_role("status").inner_text()

    fill_form(page, {"Email address": email, "Password": NEW_PASSWORD})
    click(page, "button", "Sign in")
    assert path_of(page) == "/home"

    click(page, "button", "Sign out")
    assert path_of(page) == "/sign-in"
    assert "You have signed out." in page.get_by_role("status").inner_text()
    visit(page, "/home")  # the session is over: back to the sign-in page
    assert path_of(page) == "/sign-in"


def test_wrong_password_is_refused_and_the_email_is_kept(page, live_server):
    login = live_server.logins["student"]
    visit(page, "/sign-in")
    fill_form(page, {"Email address": login["email"], "Password": "not my password at all"})
    click(page, "button", "Sign in")
    assert "did not match an account" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Email address", exact=True).input_value() == login["email"]


def test_officer_signs_in_and_out(page, live_server):
    sign_in(page, live_server, "officer")  # through the form, with a TOTP code (officer_page may reuse a sign-in)
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    visit(page, "/staff/account")
    click(page, "button", "Sign out")
    assert path_of(page) == "/staff/sign-in"
    visit(page, "/staff/")
    assert path_of(page) == "/staff/sign-in"


def test_manager_and_admin_reach_the_back_office(manager_page, admin_page):
    for page in (manager_page, admin_page):
        visit(page, "/staff/")
        assert page.get_by_role("heading", name="Dashboard").is_visible()


def test_student_signs_in_and_out_with_the_keyboard_alone(page, live_server):
    login = live_server.logins["student"]
    visit(page, "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    tab_to(page, "Sign in")
    press(page, "Enter")
    assert path_of(page) == "/sign-in"
    tab_to(page, "Email address")
    page.keyboard.type(login["email"])
    tab_to(page, "Password")
    page.keyboard.type(login["password"])
    press(page, "Enter")
    assert path_of(page) == "/home"
    tab_to(page, "Sign out")
    press(page, "Enter")
    assert path_of(page) == "/sign-in"
    axe_check(page)

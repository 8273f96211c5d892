"""The manager and the administrator in a real browser: statistics, a new staff account, the audit trail."""

from __future__ import annotations

import time

from tests.browser.helpers import axe_check, click, fill_form, new_page, sign_in, visit


def test_manager_views_statistics(browser_context, live_server):
    page = new_page(browser_context, live_server)
    sign_in(page, live_server, "manager")
    click(page, "link", "Statistics")
    assert page.locator("svg").count() >= 1 and page.locator("table").count() >= 1
    axe_check(page)
    visit(page, "/staff/statistics/publishable")
    axe_check(page)


def test_admin_creates_a_staff_account_and_reads_the_audit_trail(browser_context, live_server):
    page = new_page(browser_context, live_server)
    sign_in(page, live_server, "admin")
    visit(page, "/staff/admin/")
    axe_check(page)
    click(page, "link", "Staff accounts")
    click(page, "link", "Create a staff account")
    email = f"new.officer.{int(time.time())}@example.ac.uk"
    fill_form(page, {"Name": "Jamie Fictional", "Email address": email})
    axe_check(page)
    click(page, "button", "Create account")
    assert "Jamie Fictional" in page.content()
    visit(page, "/staff/admin/audit")
    assert "staff.created" in page.content()
    axe_check(page)

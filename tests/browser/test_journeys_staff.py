"""The manager and the administrator in a real browser: statistics and the publishable report (downloaded and
read: no one named in it), a new staff account, the audit trail."""

from __future__ import annotations

import re
import time
from datetime import date

from tests.browser.helpers import axe_check, click, fill_form, new_page, sign_in, visit
from tests.support.pdf import text_lines

REFERENCE = re.compile(r"ADV-\d{4}-\d+")


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


def test_manager_downloads_the_publishable_report_and_it_names_no_one(manager_page, live_server, tmp_path):
    page, sample = manager_page, live_server.statistics_month
    click(page, "link", "Statistics")
    click(page, "link", "publishable report")
    reports = {}
    for label, suffix in (("CSV (spreadsheet)", ".csv"), ("PDF with charts", ".pdf")):
        fill_form(page, {"From (month)": sample["month"], "To (month)": sample["month"]})
        page.get_by_label(label, exact=True).check()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download publishable report").click()
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        assert path.suffix == suffix
        if suffix == ".csv":
            reports[suffix] = path.read_text(encoding="utf-8-sig")
        else:
            assert path.read_bytes().startswith(b"%PDF-")
            reports[suffix] = text_lines(path.read_bytes())
    month = date.fromisoformat(sample["month"] + "-01")
    identifiers = set(sample["identifiers"]) | {login["email"] for login in live_server.logins.values()}
    identifiers |= {"Alex Rivers", "Sam Okafor", "Jo Whitfield"}  # the demo student and staff
    for suffix, text in reports.items():
        assert "Advice Service: statistics" in text and f"{month:%b %Y} to {month:%b %Y}" in text, suffix
        assert re.search(r"Housing\W+\[c\]", text) and re.search(r"Total\W+15\b", text), suffix  # the month's cases
        assert "@" not in text and not REFERENCE.search(text), suffix
        leaked = sorted(i for i in identifiers if i in text)
        assert not leaked, f"the {suffix} report names {leaked}"
    axe_check(page)  # still the report's page: a download is not a page load

"""Access to records in a real browser: a student asks for a copy, an officer reviews it, marks it reviewed
and releases it, the copy is produced off the request, and the student downloads the PDF while signed in."""

from __future__ import annotations

import re
import time

from tests.browser.helpers import axe_check, click, new_page, sign_in, signed_in


def test_student_requests_records_officer_releases_student_downloads(browser_context, live_server):
    student = new_page(browser_context, live_server)
    sign_in(student, live_server, "student")
    click(student, "link", "My records")
    click(student, "link", "Ask for a copy of your records")
    axe_check(student)
    click(student, "button", "Ask for my copy")
    reference = re.search(r"SAR-\d{4}-\d+", student.content()).group(0)
    axe_check(student)

    officer = new_page(browser_context, live_server)
    signed_in(officer, live_server, "officer")
    click(officer, "link", "Access requests")
    axe_check(officer)
    click(officer, "link", reference)
    click(officer, "link", "Review the copy and redact")
    axe_check(officer)
    click(officer, "button", "Mark the copy as reviewed")  # the server releases only a reviewed copy
    click(officer, "button", "Release the copy")

    sign_in(student, live_server, "student")
    click(student, "link", "My records")
    click(student, "link", reference)
    for _ in range(60):  # the copy is rendered by a background worker: "Check again" until it is ready
        if student.get_by_role("link", name="Download your copy (PDF)").count():
            break
        axe_check(student)
        time.sleep(1)
        click(student, "link", "Check again")
    with student.expect_download() as download:
        student.get_by_role("link", name="Download your copy (PDF)").click()
    path = download.value.path()
    assert open(path, "rb").read(5) == b"%PDF-"

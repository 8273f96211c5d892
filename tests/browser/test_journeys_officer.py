"""An advice officer's day in a real browser, signed in with TOTP: working a case (an entry and an
appointment), sharing through the consent gate (recorded under a consent the student gave in the portal,
refused once it does not cover what is shared and once the student has withdrawn it), answering a
third-party enquiry without confirming anything, and recording a breach of confidentiality after a
colleague, in their own session, has given their advice.

The live server is shared by every journey, in any order: each journey finds the demo student's cases
through the case list and marks what it writes with a fresh marker, so it never relies on another's data.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from urllib.parse import urlsplit

from tests.browser.helpers import axe_check, click, fill_form, new_page, sign_in, signed_in, visit

REFERENCE = re.compile(r"ADV-\d{4}-\d+")


def fresh_marker() -> str:
    return uuid.uuid4().hex[:8]


def open_students_case(page, email: str, area: str | None = None) -> str:
    """Find the student's cases through the case list's search (and area filter), open the first one and
    return its reference."""
    click(page, "link", "Cases")
    page.get_by_label("Search", exact=True).fill(email)
    if area:
        page.get_by_label("Area of concern", exact=True).select_option(label=area)
    click(page, "button", "Show cases")
    reference = page.get_by_role("table").get_by_role("link", name=REFERENCE).first.inner_text()
    click(page, "link", reference)
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Case {reference}")
    return reference


def status_message(page) -> str:
    return page.locator("main > [role=status]").inner_text()


def test_officer_finds_a_case_and_records_an_entry_and_an_appointment(officer_page, live_server):
    page, m = officer_page, fresh_marker()
    reference = open_students_case(page, live_server.logins["student"]["email"], area="Academic appeals")
    assert "Academic appeals" in page.get_by_role("region", name="Casework form", exact=True).inner_text()

    advice = f"Advised on the appeal deadline and the evidence to send ({m})."
    timeline = page.locator("#timeline")
    timeline.get_by_label("Kind of entry", exact=True).select_option(label="Advice given")
    timeline.get_by_label("What happened, what advice was given or what action was taken", exact=True).fill(advice)
    click(page, "button", "Add entry")
    assert status_message(page) == "The entry has been added."
    entry = page.locator("#timeline li").filter(has_text=advice)
    assert entry.count() == 1
    assert "Advice given" in entry.inner_text() and "by Sam Okafor" in entry.inner_text()

    day = date.today() + timedelta(days=9)
    place = f"Meeting room {m}, Fictional House"
    appointments = page.locator("#appointments")
    appointments.get_by_label("Date", exact=True).fill(day.isoformat())
    appointments.get_by_label("Time (UK time)", exact=True).fill("10:30")
    appointments.get_by_label("Length in minutes", exact=True).fill("30")
    appointments.get_by_label("In person", exact=True).check()
    appointments.get_by_label("Place, or how to join", exact=True).fill(place)
    click(page, "button", "Add appointment")
    assert status_message(page).startswith("The appointment has been added.")
    booked = page.locator("#appointments li").filter(has_text=place)
    assert booked.count() == 1
    assert f"{day:%a %d %b %Y} 10:30, 30 min, In person" in booked.inner_text()
    assert "with Sam Okafor" in booked.inner_text()

    # Both are on the case when it is opened again from the list.
    open_students_case(page, live_server.logins["student"]["email"], area="Academic appeals")
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Case {reference}")
    assert advice in page.locator("#timeline").inner_text()
    assert place in page.locator("#appointments").inner_text()


def _student_gives_consent(page, live_server, recipient: str, organisation: str) -> None:
    sign_in(page, live_server, "student")
    click(page, "link", "Who we may talk to")
    click(page, "link", "Give consent to share")
    fill_form(page, {
        "Name of the person": recipient,
        "Their organisation": organisation,
        "Why may they have this information?": "So my tutor can support my academic appeal",
    })
    page.get_by_label("That you are using the Advice Service", exact=True).check()
    page.get_by_label("A summary of your case: what it is about and where it has got to", exact=True).check()
    page.get_by_label("All my cases", exact=True).check()
    axe_check(page)
    click(page, "button", "Review what you are agreeing to")
    page.get_by_label("I have read the statement above and I agree to it", exact=True).check()
    fill_form(page, {"Type your full name to confirm": "Alex Rivers"})
    click(page, "button", "Give consent")
    assert page.get_by_role("heading", level=1).inner_text() == f"Consent for {recipient}, {organisation}"


def _fill_disclosure(page, recipient: str, scope: str, method: str, what: str) -> None:
    page.get_by_label(re.compile("^" + re.escape(recipient) + r" \(until ")).check()
    page.get_by_label(scope, exact=True).check()
    page.get_by_label(method, exact=True).check()
    page.get_by_label("What exactly was shared", exact=True).fill(what)


def test_officer_discloses_under_the_students_consent_and_is_refused_without_it(
    browser_context, other_context, live_server
):
    m = fresh_marker()
    name, organisation = f"Dr Casey Tutor {m}", "Fictional College"
    recipient = f"{name}, {organisation}"
    student = new_page(other_context, live_server)
    _student_gives_consent(student, live_server, name, organisation)

    officer = new_page(browser_context, live_server)
    signed_in(officer, live_server, "officer")
    open_students_case(officer, live_server.logins["student"]["email"])
    assert recipient in officer.get_by_role("region", name="Consent and sharing", exact=True).inner_text()
    click(officer, "link", "Consents, disclosures and breach records")
    disclosures = officer.get_by_role("region", name="Disclosures", exact=True)

    # More than the consent covers: refused, with the reason, and nothing recorded.
    too_much = f"The full case notes ({m}, refused)"
    _fill_disclosure(officer, recipient, "The full record", "Email", too_much)
    click(officer, "button", "Record the disclosure", status=409)
    refusal = officer.get_by_role("alert").inner_text()
    assert "Not recorded, and it must not be shared" in refusal
    assert "does not cover this information" in refusal
    assert too_much not in disclosures.inner_text()

    # What the consent covers: recorded, with the consent as its basis.
    summary = f"A summary of the appeal and where it has got to ({m})"
    _fill_disclosure(officer, recipient, "A summary of the case", "Email", summary)
    click(officer, "button", "Record the disclosure")
    assert status_message(officer) == "The disclosure has been recorded."
    recorded = disclosures.get_by_role("listitem").filter(has_text=summary)
    assert recorded.count() == 1
    assert f"to {recipient} (A summary of the case, Email) by Sam Okafor" in recorded.inner_text()
    assert "Basis: consent" in recorded.inner_text()

    # The student withdraws while the officer's form still offers the recipient: the gate refuses.
    click(student, "button", "Withdraw consent")
    assert "withdrawn" in student.locator("dl").inner_text()
    after = f"An update on the appeal ({m}, after the withdrawal)"
    _fill_disclosure(officer, recipient, "A summary of the case", "Phone", after)
    click(officer, "button", "Record the disclosure", status=409)
    refusal = officer.get_by_role("alert").inner_text()
    assert "Not recorded, and it must not be shared" in refusal
    assert "The student has withdrawn their consent for this recipient." in refusal
    assert after not in disclosures.inner_text()
    assert officer.get_by_label(re.compile("^" + re.escape(recipient))).count() == 0  # no longer offered

    # The student sees exactly what was shared: the summary, and neither refused attempt.
    click(student, "link", "Back to who we may talk to")
    click(student, "link", "What we have shared")
    shared = student.get_by_role("main").inner_text()
    assert summary in shared
    assert too_much not in shared and after not in shared


def test_officer_answers_a_third_party_enquiry_without_confirming_anything(officer_page, live_server):
    page, m = officer_page, fresh_marker()
    enquirer = f"Pat Parent {m}"
    asked = "Is my son Alex seeing one of your advisers about his appeal?"
    pages = []
    for about_name, about_email in (
        ("Alex Rivers", live_server.logins["student"]["email"]),  # a student of the service, no consent for Pat
        ("Robin Nobody", f"robin.nobody.{m}@example.ac.uk"),  # nobody the service knows
    ):
        click(page, "link", "Enquiries")
        fill_form(page, {
            "Who asked": enquirer,
            "Their role (optional)": "Parent",
            "Their organisation": "Family",
            "The name they asked about": about_name,
            "The email address they gave for that person (optional)": about_email,
            "What they asked": asked,
        })
        click(page, "button", "Log the enquiry and show what I may say")
        assert page.get_by_role("heading", level=1).inner_text() == "What you may say"
        answer = page.locator("#answer").inner_text()
        assert "We can neither confirm nor deny whether any particular person has contacted us" in answer
        main = page.get_by_role("main").inner_text()
        assert "may confirm" not in main and not REFERENCE.search(main)
        # What the officer sees about the student is word for word what they see about a stranger.
        pages.append(main.replace(about_name, "NAME").replace(about_email, "EMAIL"))
    assert pages[0] == pages[1]

    click(page, "link", "Enquiries")
    assert page.get_by_role("link", name=re.compile(re.escape(f"{enquirer}, Family"))).count() == 2


def _fill_decision(page, recipient: str, organisation: str) -> None:
    page.get_by_label("Breach confidentiality and disclose", exact=True).check()
    assert page.get_by_label("Disclosed to (person or team)", exact=True).input_value() == recipient  # as proposed
    assert page.get_by_label("Their organisation", exact=True).input_value() == organisation
    page.get_by_label("A summary of the case", exact=True).check()
    page.get_by_label("Phone", exact=True).check()
    fill_form(page, {"Exactly what was disclosed": "That the student is at risk tonight and where they live."})
    page.get_by_label("Yes", exact=True).check()


def test_officer_records_a_breach_after_consulting_a_colleague(browser_context, other_context, live_server):
    """Two people, two sessions: the officer asks, the colleague is told in the back office and advises in
    their own session, and only then does the officer decide."""
    m = fresh_marker()
    page = new_page(browser_context, live_server)
    signed_in(page, live_server, "officer")
    reference = open_students_case(page, live_server.logins["student"]["email"])
    click(page, "link", "Consents, disclosures and breach records")
    click(page, "link", "Start the breach of confidentiality procedure")

    safety = "A serious and imminent risk to the student's own or to others' safety"
    situation = f"The student said in a meeting today that they intend to harm themselves tonight ({m})."
    achieves = "The college nurse can make sure the student is not alone and gets urgent care."
    advice = f"Call the college nurse now and tell the student you are doing so ({m})."
    recipient, organisation = f"Nurse Lee Fictional {m}", "Fictional College Health Centre"
    page.get_by_label(safety, exact=True).check()
    fill_form(page, {
        "Outline of the situation and the reason for breaching confidentiality": situation,
        "What breaching confidentiality would achieve": achieves,
        "To be disclosed to (person or team)": recipient,
        "Their organisation": organisation,
    })

    # Not without asking another advice officer: refused, and the answers are kept.
    click(page, "button", "Ask for advice")
    assert "Ask at least one other advice officer for their advice" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("To be disclosed to (person or team)", exact=True).input_value() == recipient
    offered = page.get_by_role("group", name="Advice officers to ask for advice").inner_text()
    assert "Sam Okafor" not in offered and "Kim Adeyemi" not in offered  # never themselves, never the administrator
    page.get_by_label("Jo Whitfield, Advice Service Manager", exact=True).check()
    click(page, "button", "Ask for advice")
    assert status_message(page).startswith("Your request for advice has been sent.")
    request_name = page.get_by_role("heading", level=1).inner_text().removeprefix(
        "Breach of confidentiality: request for advice ")
    request_path = urlsplit(page.url).path

    # Deciding before any advice, without a danger to life that cannot wait: refused, nothing recorded.
    _fill_decision(page, recipient, organisation)
    click(page, "button", "Record my decision", status=400)
    assert "No advice has been given yet" in page.get_by_role("alert").inner_text()

    # The colleague, in their own session, is told on their dashboard and gives their advice.
    colleague = new_page(other_context, live_server)
    signed_in(colleague, live_server, "manager")
    waiting = colleague.get_by_role("region", name="Breach of confidentiality: consultations", exact=True)
    assert "Consultations waiting for you" in waiting.inner_text()
    click(colleague, "link", f"Request for advice {request_name}")
    assert situation in colleague.get_by_role("main").inner_text()
    fill_form(colleague, {"Your advice": advice})
    click(colleague, "button", "Record my advice")
    assert status_message(colleague).startswith("Your advice has been recorded.")

    # Now the officer decides.
    visit(page, request_path)
    assert advice in page.get_by_role("main").inner_text()
    _fill_decision(page, recipient, organisation)
    click(page, "button", "Record my decision")
    assert status_message(page).startswith("The breach of confidentiality and the disclosure have been recorded.")
    record = page.locator("dl.details").inner_text()
    for expected in (safety, situation, achieves, "Jo Whitfield", advice, f"{recipient}, {organisation}",
                     "Sam Okafor", reference, "asked", "advised"):
        assert expected in record, expected
    record_heading = page.get_by_role("heading", level=1).inner_text()
    breach_name = record_heading.removeprefix("Breach of confidentiality record ")

    click(page, "link", "Breaches and incidents")
    row = page.get_by_role("row").filter(has_text=f"{recipient}, {organisation}")
    assert row.count() == 1 and f"Breach record {breach_name}" in row.inner_text()
    assert safety in row.inner_text()

"""The officers' journeys: find a case, work it, close it; every staff role sees every case; every view
and change is audited; the case list costs the same number of queries whatever the page holds."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared.casework import case_list, reflective
from shared.casework import cases as casework
from shared.casework import record as case_record
from shared.models import AuditEvent, Case, CaseEntryVersion, utcnow
from shared.platform.mail import sent_messages
from tests import factories
from tests.factories_casework import make_case
from tests.support.web import listening


def _actions(db, case) -> list[str]:
    db.session.commit()
    return [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                                 .order_by(AuditEvent.seq))]


def test_officer_finds_works_and_closes_a_case_and_the_student_follows_it(
    db, student, officer, officer_browser, student_browser
):
    case = make_case(student, full_name="Quinn Ashdown", crsid="qa301", private_room=True)
    ref = case.reference
    # Finds it: by name, by CRSid, by email, by reference.
    for q in ("ashdown", "qa301", student.email.upper(), ref.lower()):
        html = officer_browser.get("/staff/cases", query_string={"q": q}).get_data(as_text=True)
        assert ref in html, q
    assert ref not in officer_browser.get("/staff/cases", query_string={"q": "nobody-like-this"}).get_data(as_text=True)
    page = f"/staff/cases/{ref}"
    assert officer_browser.get(page).status_code == 200
    # Assigns it to themself: the case opens.
    assert officer_browser.submit(f"{page}/assign", {"assign-officer_id": str(officer.id)}, page=page).status_code == 302
    # Records advice, then an action.
    resp = officer_browser.submit(f"{page}/entries", {"entry-kind": "advice", "entry-text": "Explained the appeal route."},
                                  page=page)
    assert resp.status_code == 302
    # Books a meeting: the student asked for a private room, so it has one even if unticked.
    day = (casework.today_local() + timedelta(days=3)).isoformat()
    resp = officer_browser.submit(f"{page}/appointments", {"appt-day": day, "appt-at": "14:30", "appt-duration_minutes": "45",
                                                           "appt-mode": "in_person", "appt-location": "Advice Service, room 2",
                                                           "appt-officer_id": ""}, page=page)
    assert resp.status_code == 302
    # Asks the student for something: status with a reason.
    resp = officer_browser.submit(f"{page}/status", {"status-status": "waiting", "status-reason": "Asked for the letter."},
                                  page=page)
    assert resp.status_code == 302
    db.session.commit()
    db.session.refresh(case)
    assert case.status == "waiting" and case.assigned_to_id == officer.id
    # The student sees the status, the officer, the appointment with its private room.
    html = student_browser.get(f"/cases/{ref}").get_data(as_text=True)
    assert "Waiting for you" in html and officer.name in html
    assert "14:30" in html and "Advice Service, room 2" in html and "private room" in html
    assert "Explained the appeal route." not in html  # the internal record is not shown
    # Closes with an outcome from the list.
    resp = officer_browser.submit(f"{page}/close", {"close-outcome_code": "resolved", "close-note": "Extension granted."},
                                  page=page)
    assert resp.status_code == 302
    db.session.refresh(case)
    assert case.status == "closed" and case.outcome_code == "resolved" and case.closed_at
    assert "Closed" in student_browser.get("/cases").get_data(as_text=True)
    staff_page = officer_browser.get(page).get_data(as_text=True)
    assert "Resolved in the student" in staff_page and "Asked for the letter." in staff_page
    assert f"assigned to {officer.name}" in staff_page
    actions = set(_actions(db, case))
    assert {"case.submitted", "case.viewed", "case.assigned", "entry.added", "appointment.added",
            "case.status_changed", "case.closed"} <= actions


def test_status_change_needs_a_reason_and_closing_needs_an_outcome(db, student, officer_browser):
    case = make_case(student)
    page = f"/staff/cases/{case.reference}"
    html = officer_browser.submit(f"{page}/status", {"status-status": "open", "status-reason": ""}, page=page).get_data(as_text=True)
    assert "Enter the reason for the change." in html
    html = officer_browser.submit(f"{page}/close", {"close-outcome_code": ""}, page=page).get_data(as_text=True)
    assert "Choose the outcome of the case." in html
    html = officer_browser.submit(f"{page}/close", {"close-outcome_code": "made-up"}, page=page).get_data(as_text=True)
    assert "Choose the outcome of the case." in html
    db.session.refresh(case)
    assert case.status == "new"


def test_amending_an_entry_keeps_every_earlier_version_visible(db, student, officer, manager, officer_browser):
    case = make_case(student)
    entry = case_record.add_entry(officer, case.reference, "note", utcnow(), "Met the student on Tuesday.")
    url = f"/staff/cases/{case.reference}/entries/{entry.id}/amend"
    assert f'href="{url}"' in officer_browser.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    assert "Met the student on Tuesday." in officer_browser.get(url).get_data(as_text=True)
    resp = officer_browser.submit(url, {"text": "Met the student on Wednesday.", "reason": ""})
    assert "Enter why you are amending it." in resp.get_data(as_text=True)
    resp = officer_browser.submit(url, {"text": "Met the student on Wednesday.", "reason": "Wrong day recorded."})
    assert resp.status_code == 302
    case_record.amend_entry(manager, case.reference, entry.id, "Met the student on Wednesday at 3pm.", "Added the time.")
    versions = db.session.scalars(select(CaseEntryVersion).where(CaseEntryVersion.entry_id == entry.id)
                                  .order_by(CaseEntryVersion.version)).all()
    assert [v.text for v in versions] == ["Met the student on Tuesday.", "Met the student on Wednesday.",
                                          "Met the student on Wednesday at 3pm."]
    html = officer_browser.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    for text in ("Met the student on Tuesday.", "Met the student on Wednesday.", "at 3pm.",
                 "Wrong day recorded.", "Added the time.", "Earlier versions (2)"):
        assert text in html
    assert {"entry.amended"} <= set(_actions(db, case))


@pytest.mark.parametrize("role", ["officer", "manager", "admin"])
def test_every_staff_role_can_open_every_case_and_each_view_is_audited(app, db, student, role):
    case = make_case(student)
    staff = factories.make_staff(role=role)
    from tests.support.web import signed_in

    b = signed_in(app, staff, factories.PASSWORD, "backoffice")
    assert b.get(f"/staff/cases/{case.reference}").status_code == 200
    db.session.commit()
    viewed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.viewed"))
    assert (viewed.actor_kind, viewed.actor_id, viewed.student_id, viewed.case_id) == ("staff", staff.id, student.id, case.id)


def test_students_cannot_reach_the_back_office(student_browser, student):
    case = make_case(student)
    assert student_browser.get(f"/staff/cases/{case.reference}").status_code == 302  # to the staff sign-in
    assert student_browser.get("/staff/cases").status_code == 302


def test_messages_go_both_ways_and_the_emails_say_only_sign_in(db, student, officer, officer_browser, student_browser):
    case = make_case(student, what_happened="SECRET-STORY-MARKER")
    case_record.assign(officer, case.reference, officer.id)
    sent_messages().clear()
    page = f"/staff/cases/{case.reference}"
    resp = officer_browser.submit(f"{page}/messages", {"message-body": "Could you send the SECRET-LETTER-MARKER?"},
                                  page=page)
    assert resp.status_code == 302
    html = student_browser.get("/cases").get_data(as_text=True)
    assert "1 new" in html
    html = student_browser.get(f"/cases/{case.reference}").get_data(as_text=True)
    assert "Could you send the SECRET-LETTER-MARKER?" in html
    resp = student_browser.submit(f"/cases/{case.reference}/messages", {"body": "Here it is: SECRET-REPLY-MARKER"},
                                  page=f"/cases/{case.reference}")
    assert resp.status_code == 302
    board = officer_browser.get("/staff/").get_data(as_text=True)
    assert "Messages awaiting a reply" in board and case.reference in board.split('id="dash-replies"')[1]
    assert "SECRET-REPLY-MARKER" in officer_browser.get(page).get_data(as_text=True)
    to_student, to_officer = sent_messages()
    assert to_student["To"] == student.email and to_officer["To"] == officer.email
    for message in sent_messages():
        text = message["Subject"] + message.get_content()
        assert "MARKER" not in text and case.reference not in text and "housing" not in text.lower()
    # Replying clears "awaiting reply".
    casework.staff_sends_message(officer, case.reference, "Thank you.")
    db.session.refresh(case)
    assert case.awaiting_reply_since is None


def test_empty_message_is_refused_with_a_clear_error(student_browser, student):
    case = make_case(student)
    html = student_browser.submit(f"/cases/{case.reference}/messages", {"body": "   "},
                                  page=f"/cases/{case.reference}").get_data(as_text=True)
    assert "Enter your message." in html


def test_dashboard_shows_my_cases_new_cases_deadlines_and_replies(db, student, other_student, officer, officer_browser):
    mine = make_case(student, deadline=casework.today_local() + timedelta(days=2))
    case_record.assign(officer, mine.reference, officer.id)
    unassigned = make_case(other_student)
    far = make_case(other_student, deadline=casework.today_local() + timedelta(days=30))
    html = officer_browser.get("/staff/").get_data(as_text=True)
    mine_part, rest = html.split('id="dash-new"')
    new_part, rest = rest.split('id="dash-deadlines"')
    deadline_part = rest.split('id="dash-replies"')[0]
    assert mine.reference in mine_part and unassigned.reference not in mine_part
    assert unassigned.reference in new_part and mine.reference not in new_part
    assert mine.reference in deadline_part and far.reference not in deadline_part


def test_case_list_filters_and_sorts(db, student, other_student, officer, officer_browser):
    a = make_case(student, area_code="housing", college_code="girton", full_name="Ada Zed")
    b = make_case(other_student, area_code="exams", college_code="newnham", full_name="Bea Young")
    case_record.assign(officer, b.reference, officer.id)

    def refs(**query):
        html = officer_browser.get("/staff/cases", query_string=query).get_data(as_text=True)
        return [r for r in (a.reference, b.reference) if r in html]

    assert refs(area="housing") == [a.reference]
    assert refs(college="newnham") == [b.reference]
    assert refs(officer="none") == [a.reference]
    assert refs(officer=str(officer.id)) == [b.reference]
    assert refs(status="open") == [b.reference]
    assert refs(status="new") == [a.reference]
    html = officer_browser.get("/staff/cases", query_string={"sort": "name"}).get_data(as_text=True)
    assert html.index(a.reference) < html.index(b.reference)
    html = officer_browser.get("/staff/cases", query_string={"sort": "newest"}).get_data(as_text=True)
    assert html.index(b.reference) < html.index(a.reference)
    assert officer_browser.get("/staff/cases", query_string={"sort": "nonsense", "page": "x"}).status_code == 200


def test_case_list_shows_the_day_a_case_was_opened_on_the_services_clock(db, student, officer_browser):
    # 23:30 UTC on 30 June is half past midnight on 1 July in Cambridge (summer time).
    from datetime import UTC, date, datetime

    case = make_case(student)
    case.opened_at = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    case.deadline = date(2026, 7, 3)
    db.session.commit()
    html = officer_browser.get("/staff/cases", query_string={"q": case.reference}).get_data(as_text=True)
    row = html[html.index(f">{case.reference}</a>"):]
    row = row[:row.index("</tr>")]
    assert "01 Jul 2026" in row and "30 Jun 2026" not in row
    assert "03 Jul 2026" in row


def test_case_list_filter_form_keeps_what_was_chosen(db, officer, officer_browser):
    def selected(**query):
        html = officer_browser.get("/staff/cases", query_string=query).get_data(as_text=True)
        form = html.split('role="search"')[1].split("</form>")[0]
        return {name: re.findall(r'<option value="([^"]*)" selected>', form.split(f'name="{name}">')[1].split("</select>")[0])
                for name in ("status", "area", "officer", "college", "sort")}

    chosen = {"status": "waiting", "area": "housing", "officer": str(officer.id), "college": "girton", "sort": "oldest"}
    assert selected(**chosen) == {name: [value] for name, value in chosen.items()}
    assert selected(status="active", officer="me") == {"status": ["active"], "area": [""], "officer": ["me"],
                                                      "college": [""], "sort": ["newest"]}
    # Anything else typed into the address is shown as no choice at all.
    assert selected(area="nowhere", officer="99999", sort="<b>") == {
        "status": [""], "area": [""], "officer": [""], "college": [""], "sort": []}
    html = officer_browser.get("/staff/cases").get_data(as_text=True)
    assert '<optgroup label="Academic">' in html and '<option value="" selected>Anyone</option>' in html


def test_case_list_pages_and_runs_a_fixed_number_of_queries_per_page(app, db, officer, officer_browser):
    students = [factories.make_student() for _ in range(3)]
    for i in range(30):
        case = make_case(students[i % 3], full_name=f"Student {i:02d}")
        if i % 2:
            case_record.assign(officer, case.reference, officer.id)

    def statements(url, **query) -> tuple[int, str]:
        seen = []

        def count(_conn, _cursor, statement, *_args):
            seen.append(statement)

        with listening(db.engine, "before_cursor_execute", count):
            html = officer_browser.get(url, query_string=query).get_data(as_text=True)
        return len(seen), html

    statements("/staff/cases")  # the first view reads the lists and staff names every later one reuses
    full, html = statements("/staff/cases")
    assert "30 cases, page 1 of 2" in html and html.count('href="/staff/cases/ADV-') == 25
    partial, html = statements("/staff/cases", page="2")
    assert html.count('href="/staff/cases/ADV-') == 5
    one, _ = statements("/staff/cases", q="Student 07")
    assert full == partial == one


def test_reflective_practice_flag_agenda_and_discussed(db, student, officer, manager, officer_browser, manager_browser):
    case = make_case(student)
    page = f"/staff/cases/{case.reference}"
    resp = officer_browser.submit(f"{page}/reflective", {"flag-reason": "Tricky deadline question."}, page=page)
    assert resp.status_code == 302
    again = officer_browser.submit(f"{page}/reflective", {"flag-reason": "Again"}, page=page).get_data(as_text=True)
    assert "already on the reflective practice agenda" in again
    agenda = manager_browser.get("/staff/reflective-practice").get_data(as_text=True)
    assert case.reference in agenda and "Tricky deadline question." in agenda
    from shared.models import ReflectiveFlag

    flag = db.session.scalar(select(ReflectiveFlag))
    resp = manager_browser.submit(f"/staff/reflective-practice/{flag.id}/discussed", page="/staff/reflective-practice")
    assert resp.status_code == 302
    assert case.reference not in manager_browser.get("/staff/reflective-practice").get_data(as_text=True)
    assert {"reflective.flagged", "reflective.discussed"} <= set(_actions(db, case))


def test_the_student_never_sees_reflective_practice(student_browser, student, officer):
    case = make_case(student)
    reflective.flag_for_reflection(officer, case.reference, "INTERNAL-FLAG-MARKER")
    assert "INTERNAL-FLAG-MARKER" not in student_browser.get(f"/cases/{case.reference}").get_data(as_text=True)


def test_reference_lookup_is_exact_for_staff(officer_browser):
    assert officer_browser.get("/staff/cases/ADV-2000-0001").status_code == 404
    assert isinstance(Case, type)


def test_a_long_case_list_says_more_than_and_still_pages_to_the_end(db, officer_browser, monkeypatch):
    """Counting every case would cost more than the page itself at scale: past COUNT_LIMIT the list says
    'more than', and Next page still reaches every case."""
    monkeypatch.setattr(case_list, "COUNT_LIMIT", 4)
    monkeypatch.setattr(case_list, "PAGE_SIZE", 3)
    students = [factories.make_student() for _ in range(2)]
    references = {make_case(students[i % 2]).reference for i in range(7)}
    seen, url = set(), "/staff/cases"
    first = officer_browser.get(url).get_data(as_text=True)
    assert "More than 4 cases" in first and "Page 1." in first
    for page in (1, 2, 3):
        html = officer_browser.get(url, query_string={"page": page}).get_data(as_text=True)
        seen |= {ref for ref in references if f"/staff/cases/{ref}" in html}
        assert ('rel="next"' in html) == (page < 3)
    assert seen == references


def _listed(html: str, references) -> list[str]:
    """The references a list page shows, in the order it shows them."""
    return sorted((r for r in references if f"/staff/cases/{r}" in html), key=html.index)


@pytest.mark.parametrize("sort", ["newest", "oldest", "deadline", "reference", "name", "status"])
def test_a_long_case_list_reaches_its_last_pages_from_the_end(db, officer_browser, monkeypatch, sort):
    """Past COUNT_LIMIT the number of pages is unknown, so 'Last page' reads from the other end of the list
    (page -1, then -2 ...): the same cases, in the same order, as paging forward all the way, whatever the
    sort, and without skipping every case before them."""
    monkeypatch.setattr(case_list, "COUNT_LIMIT", 4)
    monkeypatch.setattr(case_list, "PAGE_SIZE", 3)
    students = [factories.make_student() for _ in range(3)]
    references = [make_case(students[i % 3], full_name=f"Student {i % 3}").reference for i in range(8)]
    forward = []
    for page in (1, 2, 3):
        forward += _listed(officer_browser.get("/staff/cases", query_string={"sort": sort, "page": page})
                           .get_data(as_text=True), references)
    assert sorted(forward) == sorted(references)
    last = officer_browser.get("/staff/cases", query_string={"sort": sort, "page": -1}).get_data(as_text=True)
    before_last = officer_browser.get("/staff/cases", query_string={"sort": sort, "page": -2}).get_data(as_text=True)
    assert _listed(last, references) == forward[-3:]
    assert _listed(before_last, references) == forward[-6:-3]
    assert "Last page." in last and 'rel="next"' not in last and 'rel="prev"' in last
    assert "Page 2 from the end" in before_last and 'href="/staff/cases?page=-1' in before_last.replace("&amp;", "&")


def test_the_first_page_of_a_long_list_links_to_its_last(db, officer_browser, monkeypatch):
    monkeypatch.setattr(case_list, "COUNT_LIMIT", 4)
    monkeypatch.setattr(case_list, "PAGE_SIZE", 2)
    student = factories.make_student()
    for _ in range(7):
        make_case(student)
    html = officer_browser.get("/staff/cases", query_string={"status": "new"}).get_data(as_text=True)
    assert ">Last page</a>" in html and "page=-1" in html and "status=new" in html.split(">Last page</a>")[0][-120:]


def test_a_short_list_counts_its_pages_from_the_end_too(db, officer_browser):
    student = factories.make_student()
    references = [make_case(student).reference for _ in range(30)]
    last = officer_browser.get("/staff/cases", query_string={"page": -1}).get_data(as_text=True)
    assert "30 cases, page 2 of 2" in last and len(_listed(last, references)) == 5


@pytest.mark.parametrize("page", ["²", "9" * 20, "-" + "9" * 20, "--1", "1.5", "", "-0", "0"])
def test_a_nonsense_page_number_shows_the_first_page(db, officer_browser, page):
    student = factories.make_student()
    for _ in range(30):
        make_case(student)
    response = officer_browser.get("/staff/cases", query_string={"page": page})
    assert response.status_code == 200 and "30 cases, page 1 of 2" in response.get_data(as_text=True)


@pytest.mark.parametrize(("sort", "expected"), [("reference", sorted), ("oldest", list),
                                                ("newest", lambda refs: list(reversed(refs)))])
def test_every_page_of_a_counted_list_shows_its_own_cases_in_order(db, officer_browser, monkeypatch, sort, expected):
    """Pages in the back half of a list are read from its far end: page 3 of 3 (two cases) and the pages
    before it still hold exactly their own cases, in the list's order."""
    monkeypatch.setattr(case_list, "PAGE_SIZE", 3)
    student = factories.make_student()
    references = [make_case(student).reference for _ in range(8)]
    pages = [_listed(officer_browser.get("/staff/cases", query_string={"sort": sort, "page": page})
                     .get_data(as_text=True), references) for page in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert pages[0] + pages[1] + pages[2] == expected(references)
    last = officer_browser.get("/staff/cases", query_string={"sort": sort, "page": -1}).get_data(as_text=True)
    assert _listed(last, references) == pages[2] and "page 3 of 3" in last

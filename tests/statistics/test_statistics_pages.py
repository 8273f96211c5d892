"""The statistics pages: exact counts for staff only; the publishable report, for managers, protected."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared.models import AuditEvent
from tests import factories
from tests.factories_stats import add_cases, list_items, student_with_profile, when
from tests.support.pdf import text_lines

STUDENT_NAME, CRSID = "Morwenna Quillfeather", "mq301"
OFFICER_NAME = "Perpetua Fenwright"
MARCH = {"first_month": "2026-03", "last_month": "2026-03", "area": ""}


@pytest.fixture
def crafted(db):
    """One month of cases: a college with 1 case, an area with 3, a row where a small cell could be
    recovered from the row total, a faculty typed by one student, and counts that are not multiples of 5."""
    student = student_with_profile(STUDENT_NAME, CRSID)
    officer = factories.make_staff(name=OFFICER_NAME, email="perpetua@example.ac.uk")
    list_items("faculty", "Law", "History")
    march = when(2026, 3)
    add_cases(27, student=student, opened=march, area="housing", college="trinity", officer=officer)
    add_cases(4, student=student, opened=march, area="appeals", college="trinity", officer=officer)
    add_cases(19, student=student, opened=march, area="exams", college="girton", officer=officer)
    add_cases(12, student=student, opened=march, area="exams", college="girton", officer=officer,
              closed_after=timedelta(days=5), outcome="resolved")
    add_cases(22, student=student, opened=march, area="health", college="girton")
    add_cases(1, student=student, opened=march, area="money", college="clare", faculty="Faculty of Rare Studies")
    add_cases(2, student=student, opened=march, area="money", college="kings")
    return {"student": student, "officer": officer}


def _sections(text: str) -> dict[str, list[list[str]]]:
    """The CSV split into its tables, by title."""
    out, current = {}, None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            current = None
            continue
        if current is None:
            current = row[0]
            out[current] = []
        else:
            out[current].append(row)
    return out


def _rows(section):
    return {row[0]: row[1:] for row in section[1:]}


def _export(browser, fmt, data=MARCH):
    return browser.submit("/staff/statistics/publishable", {**data, "format": fmt})


IDENTIFYING = [STUDENT_NAME, CRSID, OFFICER_NAME, "Robin Testworth", "@", "ADV-2026", "Faculty of Rare Studies",
               "Fictional", "2026-03-10", "10 Mar"]


def _assert_nothing_identifying(text):
    for needle in IDENTIFYING:
        assert needle not in text, needle
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text), "a full date"


# --- who can reach what ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, crafted):
    for url in ("/staff/statistics", "/staff/statistics/publishable"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/staff/sign-in" in resp.headers["Location"]
    assert client.post("/staff/statistics/publishable", data=MARCH).status_code in (400, 401)


def test_a_student_cannot_reach_either_page(student_browser, crafted):
    for url in ("/staff/statistics", "/staff/statistics/publishable"):
        resp = student_browser.get(url)
        assert resp.status_code == 302 and "/staff/sign-in" in resp.headers["Location"]
    resp = student_browser.post("/staff/statistics/publishable", data={**MARCH, "format": "csv"})
    assert resp.status_code in (400, 401)
    assert b"Trinity" not in resp.data


def test_officers_see_exact_counts_but_not_workload_and_cannot_export(officer_browser, crafted):
    resp = officer_browser.get("/staff/statistics?first_month=2026-03&last_month=2026-03&area=")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert re.search(r"Money and funding</th>\s*<td class=\"num\">3</td>", html)
    assert re.search(r"Clare</th>\s*<td class=\"num\">0</td>\s*<td class=\"num\">1</td>", html)
    assert re.search(r"Trinity</th>\s*<td class=\"num\">4</td>\s*<td class=\"num\">27</td>", html)
    assert "<svg" in html and "<table" in html
    assert "Workload, by officer" not in html and OFFICER_NAME not in html
    assert officer_browser.get("/staff/statistics/publishable").status_code == 403
    resp = officer_browser.submit("/staff/statistics/publishable", {**MARCH, "format": "csv"}, page="/staff/statistics")
    assert resp.status_code == 403 and b"Trinity" not in resp.data


def test_the_statistics_page_needs_no_inline_style_or_script(officer_browser, crafted):
    html = officer_browser.get("/staff/statistics").get_data(as_text=True)
    assert "style=" not in html and "<style" not in html and "<script" not in html
    assert 'href="/staff/statistics"' in html  # the nav link


def test_managers_see_workload_per_officer(manager_browser, crafted):
    html = manager_browser.get("/staff/statistics").get_data(as_text=True)
    assert "Workload, by officer" in html and OFFICER_NAME in html


def test_bad_filters_get_a_clear_message_not_an_error(officer_browser, crafted):
    resp = officer_browser.get("/staff/statistics?first_month=2026-05&last_month=2026-03&area=")
    assert resp.status_code == 400
    assert "The last month must be the same as or after the first month." in resp.get_data(as_text=True)
    resp = officer_browser.get("/staff/statistics?first_month=March&area=")
    assert "Enter a month as year and month" in resp.get_data(as_text=True)


# --- the publishable report -------------------------------------------------------------------------


def test_the_published_csv_suppresses_and_rounds(manager_browser, crafted):
    resp = _export(manager_browser, "csv")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    tables = _sections(text)

    areas = _rows(tables["Cases opened, by area of concern"])
    assert areas["Money and funding"] == ["[c]"]  # a category with 3
    assert areas["Housing"] == ["25"]  # 27, rounded
    assert areas["Exams and assessment"] == ["30"]  # 31, rounded
    assert areas["Total"] == ["85"]  # 87 rounded on its own
    hidden = [k for k, v in areas.items() if v == ["[c]"]]
    assert len(hidden) >= 2, "one hidden area could be worked out from the total"

    colleges = _rows(tables["Cases opened, by college and kind of concern"])
    assert colleges["Clare"] == ["[c]", "[c]", "[c]"]  # a college with 1 case: zeros hidden too
    assert colleges["Trinity"][0] == "[c]"  # 4 academic
    assert "[c]" in colleges["Trinity"][1:], "the row total would give back the 4"
    assert colleges["Girton"] == ["30", "20", "55"]  # 31, 22, 53
    assert colleges["Newnham"] == ["0", "0", "0"]

    faculties = _rows(tables["Cases opened, by faculty"])
    assert "Faculty of Rare Studies" not in faculties
    # the one case under a typed faculty is counted under "Other", which is then too small to show; with
    # History at 0, Law must be hidden too, or the total would give "Other" back
    assert faculties["Other"] == ["[c]"] and faculties["Law"] == ["[c]"] and faculties["History"] == ["0"]
    assert faculties["Total"] == ["85"]
    _assert_nothing_identifying(text)
    for title, section in tables.items():
        if title.startswith("Cases "):
            for row in section[1:]:
                for value in row[1:]:
                    assert value == "[c]" or int(value) % 5 == 0, (title, row)  # every count a multiple of 5
    assert "Method" in text and "rounded to the nearest 5" in text
    figures = {row[0]: row[1:] for row in _sections(text)["Measure"]}
    assert figures["Days from opening to closure: median"] == ["5", "10"]  # 12 cases, 5 days each
    assert figures["Days from opening to first response: median"] == ["[c]", "0"]  # no case: nothing to show


def test_the_published_pdf_suppresses_rounds_and_names_no_one(manager_browser, crafted):
    resp = _export(manager_browser, "pdf")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    text = text_lines(resp.data)
    assert re.search(r"Money and funding\s+\[c\]", text)
    assert re.search(r"Clare\s+\[c\]\s+\[c\]\s+\[c\]", text)
    assert re.search(r"Girton\s+30\s+20\s+55", text)
    assert re.search(r"Housing\s+25", text)
    assert "Method:" in text and "nearest 5" in text
    _assert_nothing_identifying(text)


SECRET = "Department of Secret Things"


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages).split())


def test_a_typed_category_is_never_published_however_many_cases_it_has(manager_browser, db):
    """Twelve cases under a faculty, a year of study and a college code that are in no service list: the
    report counts them under Other and never prints what was typed; a typed value spelling a list item
    (any case or spacing) is published under that item."""
    student = student_with_profile(STUDENT_NAME, CRSID)
    list_items("faculty", "Law")
    list_items("year_of_study", "2nd year")
    march = when(2026, 3)
    add_cases(12, student=student, opened=march, faculty=SECRET, year="Year of Secret Things", college="st_secretus")
    add_cases(20, student=student, opened=march, faculty="  law ", year="2nd Year")
    text = _export(manager_browser, "csv").get_data(as_text=True)
    tables = _sections(text)
    assert _rows(tables["Cases opened, by faculty"]) == {"Law": ["20"], "Other": ["10"], "Total": ["30"]}
    years = _rows(tables["Cases opened, by year of study"])
    assert years["2nd year"] == ["20"] and years["Other"] == ["10"]
    colleges = _rows(tables["Cases opened, by college and kind of concern"])
    assert colleges["Other"][-1] == "10" and colleges["Trinity"][-1] == "20"
    assert "Secret" not in text and "secretus" not in text and "  law " not in text
    resp = _export(manager_browser, "pdf")
    assert resp.status_code == 200
    pdf = _pdf_text(resp.data)
    assert "Cases opened, by faculty" in pdf and re.search(r"Other\s*10", pdf)
    assert "Secret" not in pdf and "secretus" not in pdf


def test_other_is_suppressed_when_small_like_any_row(manager_browser, db):
    student = student_with_profile(STUDENT_NAME, CRSID)
    list_items("faculty", "Law", "History")
    march = when(2026, 3)
    add_cases(3, student=student, opened=march, faculty=SECRET)
    add_cases(20, student=student, opened=march, faculty="Law")
    add_cases(15, student=student, opened=march, faculty="History")
    text = _export(manager_browser, "csv").get_data(as_text=True)
    faculties = _rows(_sections(text)["Cases opened, by faculty"])
    assert faculties["Other"] == ["[c]"] and SECRET not in text
    assert [v for v in faculties.values()].count(["[c]"]) >= 2, "one hidden row could be worked out from the total"


def test_exports_are_audited_with_who_and_which_filters(manager_browser, manager, crafted, db):
    _export(manager_browser, "csv")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "statistics.exported")).one()
    assert event.actor_kind == "staff" and event.actor_id == manager.id
    assert event.details == {"format": "csv", "threshold": 10, "from_month": "2026-03", "to_month": "2026-03",
                             "area": "all"}
    assert event.at is not None


def test_an_area_of_only_spaces_is_all_areas_not_an_error(manager_browser, crafted, db):
    """Found by the form fuzzer: an area of spaces passed the form (Optional counts it as empty) and reached
    the audit log as an area code too long to record, a 500. It is all areas, as an empty area is."""
    resp = _export(manager_browser, "csv", {**MARCH, "area": " " * 300})
    assert resp.status_code == 200
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "statistics.exported")).one()
    assert event.details["area"] == "all"


def test_filters_that_allow_differencing_are_refused_with_a_reason(manager_browser, crafted, db):
    add_cases(2, opened=when(2026, 4), area="housing")
    resp = _export(manager_browser, "csv", {"first_month": "2026-03", "last_month": "2026-04", "area": ""})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Apr 2026" in html and "Comparing" in html
    assert 'value="2026-03"' in html  # the answers are kept
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "statistics.export_refused")).one()
    assert refused.details["to_month"] == "2026-04"
    # two exports that differ by one small area: the one whose complement is small is refused
    resp = _export(manager_browser, "csv", {**MARCH, "area": "exams"})
    assert resp.status_code == 200
    resp = _export(manager_browser, "csv", {**MARCH, "area": "money"})
    assert resp.status_code == 400 and "Fewer than 10" in resp.get_data(as_text=True)


def test_the_threshold_is_configurable(manager_browser, crafted, app):
    app.config["STATS_SUPPRESSION_THRESHOLD"] = 5
    try:
        text = _export(manager_browser, "csv").get_data(as_text=True)
    finally:
        app.config["STATS_SUPPRESSION_THRESHOLD"] = 10
    assert "Counts from 1 to 4 are not shown" in text


def test_a_threshold_below_five_is_refused_at_start(tmp_path_factory):
    from shared.platform.config import ConfigurationError
    from tests.support.web import testing_config
    from wsgi import create_app

    with pytest.raises(ConfigurationError, match="at least 5"):
        create_app({**testing_config(tmp_path_factory), "STATS_SUPPRESSION_THRESHOLD": "4"})

"""The student's journeys: the casework form, drafts, My cases, and only ever their own cases."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shared.casework import cases as casework
from shared.casework import intake
from shared.casework import record as case_record
from shared.casework.documents import Upload
from shared.models import AuditEvent, Case, CaseDraft, Document, StudentProfile, utcnow
from shared.platform import mail
from shared.platform.mail import sent_messages
from tests import factories
from tests.factories_casework import PDF, intake_form, make_case


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_student_submits_the_form_and_gets_a_reference_and_a_content_free_email(student_browser, db, student):
    resp = student_browser.submit("/ask", intake_form())
    assert resp.status_code == 302
    case = db.session.scalar(select(Case))
    assert re.fullmatch(r"ADV-\d{4}-0001", case.reference)
    assert resp.headers["Location"].endswith(f"/cases/{case.reference}/received")
    page = student_browser.get(resp.headers["Location"]).get_data(as_text=True)
    assert case.reference in page and "What happens next" in page
    assert case.status == "new" and case.private_room and case.area_code == "appeals"
    assert case.what_happened.startswith("My dissertation extension")
    (message,) = sent_messages()
    assert message["To"] == student.email
    body = message.get_content()
    assert "received" in message["Subject"].lower()
    for detail in ("dissertation", "appeal", case.reference, "Morgan", "History", "medical"):
        assert detail.lower() not in (message["Subject"] + body).lower()


def test_a_failed_validation_keeps_every_answer_and_explains_each_problem(student_browser, db):
    data = intake_form(full_name="", area_code="", meeting_preference="", crsid="not a crsid!",
                       what_happened="x" * 20_001, deadline="2001-01-01")
    resp = student_browser.submit("/ask", data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "There is a problem" in html
    for message in ("Enter your full name.", "Choose the area your question is about.",
                    "Choose how you would like to meet.", "Enter your CRSid as letters then numbers",
                    "What happened must be 20,000 characters or fewer", "The deadline must be today or in the future"):
        assert message in html
    for kept in ('value="Mo"', 'value="she/her"', "Faculty of History", "Please avoid calling before 10am.",
                 "Step-free access, please.", 'value="07700 900456"', 'value="not a crsid!"'):
        assert kept in html
    assert re.search(r'value="newnham"\s+selected|selected\s+value="newnham"', html)
    assert _count(db, Case) == 0
    # What they typed is kept on the server too, in case they leave now.
    assert db.session.scalar(select(CaseDraft)) is not None


def test_save_and_finish_later_survives_signing_out_and_back_in(app, student_browser, student, db):
    resp = student_browser.submit("/ask", intake_form(action="save", what_happened="Half-written story"))
    assert resp.status_code == 302
    assert _count(db, Case) == 0
    draft = db.session.scalar(select(CaseDraft))
    assert "Half-written story" not in draft._answers_enc  # encrypted at rest
    # The session times out or the tab closes: a new sign-in finds the answers again.
    from tests.support.web import signed_in

    later = signed_in(app, student, factories.PASSWORD, "portal")
    html = later.get("/ask").get_data(as_text=True)
    assert "We have restored the answers you saved" in html
    assert "Half-written story" in html and 'value="Morgan Fenwick"' in html
    # Sending the form uses up the draft.
    assert later.submit("/ask", intake_form()).status_code == 302
    assert _count(db, CaseDraft) == 0


def test_a_student_can_discard_a_saved_draft(student_browser, db):
    student_browser.submit("/ask", intake_form(action="save"))
    resp = student_browser.submit("/ask/discard", page="/ask")
    assert resp.status_code == 302 and _count(db, CaseDraft) == 0
    assert "We have restored" not in student_browser.get("/ask").get_data(as_text=True)


def test_profile_answers_are_prefilled_for_the_next_form(student_browser, db, student):
    student_browser.submit("/ask", intake_form())
    html = student_browser.get("/ask").get_data(as_text=True)
    assert 'value="Morgan Fenwick"' in html and 'value="mf512"' in html and "Please avoid calling" in html
    assert "My dissertation extension" not in html  # the story is not reused
    profile = db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == student.id))
    assert profile.safe_channels == "email,text" and profile.may_leave_message


def test_another_students_case_is_a_404_everywhere(student_browser, other_student, db):
    theirs = make_case(other_student, uploads=[Upload("theirs.pdf", PDF)])
    document = db.session.scalar(select(Document))
    for url in (f"/cases/{theirs.reference}", f"/cases/{theirs.reference}/received", f"/documents/{document.id}"):
        assert student_browser.get(url).status_code == 404, url
    resp = student_browser.submit(f"/cases/{theirs.reference}/messages", {"body": "hello"}, page="/cases")
    assert resp.status_code == 404
    # ...and the answer is the same as for a reference that does not exist at all.
    missing = student_browser.get("/cases/ADV-2099-9999")
    assert missing.status_code == 404
    assert student_browser.get(f"/cases/{theirs.reference}").get_data() == missing.get_data()


def test_my_cases_shows_status_and_officer_but_not_the_internal_record(student_browser, student, officer, db):
    case = make_case(student)
    case_record.assign(officer, case.reference, officer.id)
    case_record.add_entry(officer, case.reference, "note", utcnow(), "INTERNAL-NOTE-MARKER")
    case_record.change_status(officer, case.reference, "waiting", "INTERNAL-REASON-MARKER")
    listing = student_browser.get("/cases").get_data(as_text=True)
    assert case.reference in listing and "Waiting for you" in listing
    assert f"{officer.name}, {officer.job_title}" in listing
    page = student_browser.get(f"/cases/{case.reference}").get_data(as_text=True)
    assert "Waiting for you" in page
    assert "INTERNAL-NOTE-MARKER" not in page and "INTERNAL-REASON-MARKER" not in page


def test_html_script_and_odd_unicode_are_stored_safely_and_shown_escaped(student_browser, officer_browser, db):
    nasty = "<script>alert('x')</script> Zoë ‮evil\u0000 👩🏽‍🎓 \u202e"
    resp = student_browser.submit("/ask", intake_form(full_name="<b>Bold</b> Zoë", what_happened=nasty))
    assert resp.status_code == 302
    case = db.session.scalar(select(Case))
    assert "\u0000" not in case.what_happened and "<script>" in case.what_happened
    html = officer_browser.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt; Zoë" in html
    assert "👩🏽‍🎓" in html


def _stored_files(app) -> set:
    from tests.support.blobs import stored_files

    return set(stored_files())


def test_a_failure_mid_write_leaves_no_partial_case(app, student_browser, db, monkeypatch):
    audit_before = _count(db, AuditEvent)
    files_before = _stored_files(app)

    def broken_send(*args, **kwargs):
        raise RuntimeError("mail server exploded")

    monkeypatch.setattr(mail, "send", broken_send)
    files = {"documents": (__import__("io").BytesIO(PDF), "evidence.pdf")}
    with pytest.raises(RuntimeError):
        student_browser.submit("/ask", {**intake_form(), **files}, content_type="multipart/form-data")
    db.session.rollback()
    assert _count(db, Case) == 0
    assert _count(db, Document) == 0
    assert _count(db, StudentProfile) == 0
    assert _count(db, AuditEvent) == audit_before
    assert _stored_files(app) == files_before  # the encrypted file was removed too


def test_references_count_up_per_year_and_never_collide(app, db, student):
    first = make_case(student)
    second = make_case(student)
    year = utcnow().year
    assert (first.reference, second.reference) == (f"ADV-{year}-0001", f"ADV-{year}-0002")


def test_concurrent_submissions_get_distinct_references(app, db):
    from tests.support.web import signed_in

    students = [factories.make_student() for _ in range(4)]
    browsers = [signed_in(app, s, factories.PASSWORD, "portal") for s in students]
    results = []

    def submit(b):
        results.append(b.submit("/ask", intake_form()).status_code)

    threads = [threading.Thread(target=submit, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [302] * 4
    db.session.commit()
    refs = [c.reference for c in db.session.scalars(select(Case))]
    assert len(refs) == 4 and len(set(refs)) == 4


def test_the_form_saves_a_draft_as_the_student_types(student_browser, student, db):
    resp = student_browser.submit("/ask/autosave", intake_form(what_happened="Typed so far"), page="/ask")
    assert resp.status_code == 204
    assert intake.get_draft(student)["what_happened"] == "Typed so far"
    assert 'data-autosave="/ask/autosave"' in student_browser.get("/ask").get_data(as_text=True)


@pytest.mark.parametrize("fmt,ok", [("%d/%m/%Y", True), ("%Y-%m-%d", True), ("next %A", False)])
def test_deadline_dates_are_read_in_uk_order_or_explained(student_browser, db, fmt, ok):
    day = casework.today_local() + timedelta(days=20)
    typed = day.strftime(fmt)
    resp = student_browser.submit("/ask", intake_form(deadline=typed, full_name="" if not ok else "Morgan Fenwick"))
    if ok:
        assert resp.status_code == 302
        assert db.session.scalar(select(Case)).deadline == day
    else:
        html = resp.get_data(as_text=True)
        assert "Enter the date as day, month and year" in html and "Enter your full name." in html


def test_signed_out_visitors_are_sent_to_sign_in(client, student):
    case = make_case(student)
    for url in ("/ask", "/cases", f"/cases/{case.reference}", "/documents/1"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/sign-in" in resp.headers["Location"], url
    for url in ("/staff/", "/staff/cases", f"/staff/cases/{case.reference}", "/staff/reflective-practice"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/staff/sign-in" in resp.headers["Location"], url


def test_a_closed_case_takes_no_more_messages(student_browser, student, officer):
    case = make_case(student)
    case_record.close_case(officer, case.reference, "advice_given")
    html = student_browser.submit(f"/cases/{case.reference}/messages", {"body": "One more thing"},
                                  page="/cases").get_data(as_text=True)
    assert "This case is closed" in html

"""Independent file review (issue 23, point 4): the sample is reproducible from its seed and never the
reviewer's own files; the findings and actions reach the adviser, who marks them done, and the reviewer
closes; nobody else sees another adviser's reviews; the assessor's list names no student; every step is in
the audit log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared.audit import log as audit
from shared.casework import file_review
from shared.casework.cases import InvalidAnswers
from shared.models import AuditEvent, FileReview, FindingResult, ReviewStatus, Staff
from shared.platform.errors import NotFound, PermissionDenied
from shared.platform.extensions import db
from shared.platform.mail import sent_messages
from tests import factories
from tests.factories_reviews import assigned_case, draw, work_through

STUDENT_NAME = "Morgan Fenwick"  # the casework form's fictional student (tests/factories_casework.answers)


def _reviews(sample) -> list[FileReview]:
    return list(db.session.scalars(select(FileReview).where(FileReview.sample_id == sample.id)
                                   .order_by(FileReview.case_id)))


@pytest.fixture
def colleague(ctx):
    return factories.make_staff(role="officer", name="Ash Secondworth", email="ash@example.ac.uk")


@pytest.fixture
def files(student, officer, colleague, manager):
    """Five of the officer's files, four of the colleague's, three of the manager's."""
    return {who.id: [assigned_case(student, who).id for _ in range(n)]
            for who, n in ((officer, 5), (colleague, 4), (manager, 3))}


def test_the_sample_is_reproducible_from_its_seed_and_never_the_reviewers_own(db, files, officer, colleague, manager):
    sample = draw(manager, seed="2026")
    drawn = _reviews(sample)
    assert sample.seed == "2026" and sample.drawn_by_id == manager.id and sample.files_per_adviser == 2
    by_adviser = {}
    for r in drawn:
        by_adviser.setdefault(r.adviser_id, []).append(r.case_id)
        assert r.case.assigned_to_id == r.adviser_id != r.reviewer_id == manager.id
        assert len(r.items) == 6 and all(i.result is None for i in r.items)
    assert {k: len(v) for k, v in by_adviser.items()} == {officer.id: 2, colleague.id: 2}  # none of the manager's
    assert set(by_adviser[officer.id]) <= set(files[officer.id])

    # The same quarter with the same seed draws the same files; the draw uses nothing else.
    eligible = file_review.files_by_adviser(sample.quarter)
    assert eligible == files
    again = file_review.choose(sample.seed, eligible, 2, manager.id, None)
    assert [(d.case_id, d.adviser_id, d.reviewer_id) for d in again] == \
        [(r.case_id, r.adviser_id, r.reviewer_id) for r in drawn]
    others = {tuple(d.case_id for d in file_review.choose(str(s), eligible, 2, manager.id, None)) for s in range(20)}
    assert len(others) > 1, "the seed makes no difference"

    with pytest.raises(InvalidAnswers) as refused:
        draw(manager, seed="2026")
    assert "already been drawn" in refused.value.errors["quarter"]


def test_a_second_reviewer_reviews_the_reviewers_own_files(db, files, officer, colleague, manager):
    sample = draw(manager, second_reviewer=colleague, seed="7")
    drawn = _reviews(sample)
    assert {r.adviser_id for r in drawn} == {officer.id, colleague.id, manager.id}
    for r in drawn:
        assert r.reviewer_id != r.adviser_id and r.reviewer_id != r.case.assigned_to_id
        assert r.reviewer_id == (colleague.id if r.adviser_id == manager.id else manager.id)
    with pytest.raises(InvalidAnswers):  # a quarter not begun yet
        draw(manager, quarter=file_review.quarter_of(file_review.today_local() + timedelta(days=100)))


def test_findings_and_actions_reach_the_adviser_who_marks_them_done_and_the_reviewer_closes(
        app, student, officer, manager, officer_browser, manager_browser):
    case = assigned_case(student, officer)
    resp = manager_browser.submit("/staff/file-reviews/draw", {
        "quarter": file_review.current_quarter(), "reviewer_id": manager.id, "second_reviewer_id": "", "seed": "99"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    review = db.session.scalar(select(FileReview).where(FileReview.case_id == case.id))
    page = manager_browser.get(f"/staff/file-reviews/{review.id}").get_data(as_text=True)
    assert case.reference in page and f"/staff/cases/{case.reference}" in page and "Letters and documents" in page
    assert f'name="result-{review.items[0].id}"' in page and "Send the feedback to the adviser" in page
    case_page = manager_browser.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    assert "Work through the checklist" in case_page and f"/staff/file-reviews/{review.id}" in case_page
    assert f"/staff/file-reviews/{review.id}" not in officer_browser.get(f"/staff/cases/{case.reference}").get_data(
        as_text=True)  # the adviser sees it once the feedback has come

    form = {f"result-{i.id}": FindingResult.MET.value for i in review.items}
    letters = next(i for i in review.items if "Letters" in i.label)
    form[f"result-{letters.id}"] = FindingResult.NOT_MET.value
    url = f"/staff/file-reviews/{review.id}"
    resp = manager_browser.submit(f"{url}/findings", {**form, "findings": "Good advice."}, page=url)
    assert resp.status_code == 400 and "Say what is missing" in resp.get_data(as_text=True)  # a note for "not met"
    form[f"note-{letters.id}"] = "The appeal letter sent on the student's behalf is not on file."
    resp = manager_browser.submit(f"{url}/findings", {**form, "findings": "Clear advice, promptly given."}, page=url)
    assert resp.status_code == 302
    due = (file_review.today_local() + timedelta(days=14)).isoformat()
    resp = manager_browser.submit(f"{url}/actions", {"text": "File the appeal letter in the case record.",
                                                     "due_on": due}, page=url)
    assert resp.status_code == 302
    assert officer_browser.get(f"{url}/feedback").status_code == 404  # nothing to read before it is sent
    sent_messages().clear()
    assert manager_browser.submit(f"{url}/send-feedback", page=url).status_code == 302

    (email,) = sent_messages()
    assert email["To"] == officer.email
    body = email.get_content()
    assert case.reference not in body and STUDENT_NAME not in body and "appeal" not in body.lower()

    dashboard = officer_browser.get("/staff/").get_data(as_text=True)
    assert "Feedback on your case files" in dashboard and f"Feedback on {case.reference}" in dashboard
    assert "Read the feedback" in officer_browser.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    feedback = officer_browser.get(f"{url}/feedback").get_data(as_text=True)
    assert "Clear advice, promptly given." in feedback and "File the appeal letter" in feedback
    assert "is not on file" in feedback and "Not met" in feedback

    db.session.expire_all()
    review = db.session.get(FileReview, review.id)
    assert review.status == ReviewStatus.ACTIONS_OPEN.value
    resp = manager_browser.submit(f"{url}/close", {"note": ""}, page=url)
    assert resp.status_code == 400 and "say why" in resp.get_data(as_text=True)
    (action,) = review.actions
    resp = officer_browser.submit(f"{url}/actions/{action.id}/done", page=f"{url}/feedback")
    assert resp.status_code == 302
    assert manager_browser.submit(f"{url}/close", {"note": ""}, page=url).status_code == 302
    db.session.expire_all()
    review = db.session.get(FileReview, review.id)
    assert review.status == ReviewStatus.CLOSED.value and review.closed_at and review.actions[0].done_by_id == officer.id
    assert "nothing left to do" not in officer_browser.get("/staff/").get_data(as_text=True)  # closed: off the dashboard


def test_an_officer_cannot_see_another_advisers_reviews_or_the_scheme(app, student, officer, colleague, manager,
                                                                     officer_browser):
    mine, theirs = assigned_case(student, officer), assigned_case(student, colleague)
    reviews = {r.case_id: r for r in _reviews(draw(manager))}
    for r in reviews.values():
        work_through(manager, r)
    theirs_review, mine_review = reviews[theirs.id], reviews[mine.id]
    for path in (f"/staff/file-reviews/{theirs_review.id}", f"/staff/file-reviews/{theirs_review.id}/feedback",
                 f"/staff/file-reviews/{mine_review.id}"):  # their file, and the reviewer's page of their own
        assert officer_browser.get(path).status_code == 404, path
    action = theirs_review.actions[0]
    resp = officer_browser.submit(f"/staff/file-reviews/{theirs_review.id}/actions/{action.id}/done",
                                  page="/staff/file-reviews")
    assert resp.status_code == 404
    for path in ("/staff/file-reviews/scheme", "/staff/file-reviews/draw", "/staff/file-reviews/assessor.csv"):
        assert officer_browser.get(path).status_code == 403, path
    overview = officer_browser.get("/staff/file-reviews").get_data(as_text=True)
    assert mine.reference in overview and theirs.reference not in overview and colleague.name not in overview
    # The service says the same, whichever way it is asked.
    with pytest.raises(NotFound):
        file_review.feedback_for_adviser(officer, theirs_review.id)
    with pytest.raises(NotFound):
        file_review.record_findings(officer, theirs_review.id, {}, "")
    other = factories.make_staff(role="manager", email="second.manager@example.ac.uk")
    with pytest.raises(PermissionDenied):  # a manager supervises but does not record another's review
        file_review.record_findings(other, theirs_review.id, {}, "")


def test_the_assessor_csv_names_no_student(app, student, officer, manager, manager_browser):
    case = assigned_case(student, officer)
    (review,) = _reviews(draw(manager))
    work_through(manager, review, note=f"Letter to {STUDENT_NAME} missing", findings=f"{STUDENT_NAME} was well advised.")
    resp = manager_browser.get("/staff/file-reviews/assessor.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    body = resp.get_data(as_text=True)
    assert STUDENT_NAME not in body and student.email not in body and "Morgan" not in body and "Fenwick" not in body
    header, row = list(csv.reader(io.StringIO(body)))
    assert header[:5] == ["quarter", "adviser", "reviewer", "case reference", "area"]
    assert row[:5] == [review.quarter, officer.name, manager.name, case.reference, case.area_code]
    assert any(cell.endswith(": Not met") for cell in row) and row[-2:] == ["1", "0"]


def test_every_step_is_in_the_audit_log(app, student, officer, manager):
    case = assigned_case(student, officer)
    (review,) = _reviews(draw(manager))
    file_review.open_review(manager, review.id)
    work_through(manager, review)
    file_review.feedback_for_adviser(officer, review.id)
    file_review.mark_action_done(officer, review.id, review.actions[0].id)
    file_review.close_review(manager, review.id)
    file_review.overview(officer)
    file_review.assessor_csv(manager)
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("file_review.%"))
                                     .order_by(AuditEvent.seq)))
    assert [e.action for e in events] == [
        "file_review.drawn", "file_review.sample_drawn", "file_review.opened", "file_review.findings_recorded",
        "file_review.action_added", "file_review.feedback_sent", "file_review.feedback_viewed",
        "file_review.action_done", "file_review.closed", "file_review.overview_viewed", "file_review.exported"]
    for e in events:
        if e.action not in ("file_review.sample_drawn", "file_review.overview_viewed", "file_review.exported"):
            assert (e.case_id, e.student_id) == (case.id, student.id), e.action  # views of the student's record
    assert audit.verify().ok


def test_the_manager_edits_the_checklist_and_new_samples_use_it(app, student, officer, manager, manager_browser):
    assigned_case(student, officer)
    items = file_review.checklist()
    form = {"files_per_adviser": "1", "days_to_complete": "45", "new_item": "Conflict of interest checked",
            **{f"item-{i.id}": i.label for i in items}, **{f"in-use-{i.id}": "y" for i in items[1:]}}
    form[f"item-{items[1].id}"] = "The action taken is recorded, with dates"
    resp = manager_browser.submit("/staff/file-reviews/scheme", form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    (review,) = _reviews(draw(manager))
    labels = [i.label for i in review.items]
    assert labels[0] == "The action taken is recorded, with dates" and labels[-1] == "Conflict of interest checked"
    assert items[0].label not in labels and len(labels) == 6
    first, last = file_review.quarter_bounds(review.quarter)
    assert review.due_on == last + timedelta(days=45)
    resp = manager_browser.submit("/staff/file-reviews/scheme", {**form, "files_per_adviser": "0"})
    assert resp.status_code == 400


def test_anonymising_the_case_removes_what_its_review_said(app, student, officer, manager):
    """The review's words are about the student's case: they go with it when retention anonymises it."""
    from shared.lifecycle import retention
    from shared.models import Case

    case = assigned_case(student, officer)
    (review,) = _reviews(draw(manager))
    work_through(manager, review)
    file_review.close_review(manager, review.id, "Closed with the letter still to file (fictional).")
    retention.anonymise_case(db.session.get(Case, case.id), retention.placeholder_student())
    db.session.commit()
    db.session.expire_all()
    review = db.session.get(FileReview, review.id)
    assert review.findings is None and review.closing_note is None
    assert all(i.note is None for i in review.items) and all(a.text is None for a in review.actions)
    assert [i.label for i in review.items] == [i.label for i in file_review.checklist()]  # the service's words stay


def test_the_manager_supervises_a_colleagues_review_without_recording_it(app, student, officer, colleague, manager,
                                                                          manager_browser):
    assigned_case(student, manager)
    (review,) = _reviews(draw(manager, reviewer=officer, seed="abc-123"))
    assert review.reviewer_id == officer.id and review.adviser_id == manager.id
    work_through(officer, review, action=None)
    page = manager_browser.get(f"/staff/file-reviews/{review.id}").get_data(as_text=True)
    assert "as the manager" in page and 'name="result-' not in page and "Clear advice" in page
    assert "Not met" in page
    overview = manager_browser.get("/staff/file-reviews").get_data(as_text=True)
    assert officer.name in overview and manager.name in overview
    with pytest.raises(InvalidAnswers) as refused:
        draw(manager, quarter="2020-Q1", seed="two words")
    assert set(refused.value.errors) == {"seed"}


def _demo_browser(app, role: str):
    from shared.demo.seed import DEMO_ACCOUNTS
    from tests.support.web import Browser, totp_code

    account = db.session.scalar(select(Staff).where(Staff.email == DEMO_ACCOUNTS[role]["email"]))
    b = Browser(app.test_client())
    assert b.submit("/staff/sign-in", {"email": account.email, "password": DEMO_ACCOUNTS[role]["password"]}).status_code == 302
    assert b.submit("/staff/sign-in/code", {"code": totp_code(account, account.totp_secret)}).status_code == 302
    return b


def test_the_demo_shows_a_quarter_of_file_reviews(app, db):
    from shared.demo.seed import seed_demo

    made = seed_demo()
    reviews = list(db.session.scalars(select(FileReview).order_by(FileReview.id)))
    statuses = {r.status for r in reviews}
    assert {ReviewStatus.CLOSED.value, ReviewStatus.ACTIONS_OPEN.value} <= statuses
    assert all(r.reviewer_id != r.adviser_id for r in reviews)
    assert file_review.feedback_waiting(made["officer"])
    manager, officer = _demo_browser(app, "manager"), _demo_browser(app, "officer")
    assert "Feedback on your case files" in officer.get("/staff/").get_data(as_text=True)
    assert manager.get("/staff/file-reviews").status_code == 200
    for r in reviews:
        assert manager.get(f"/staff/file-reviews/{r.id}").status_code == 200
        if r.adviser_id == made["officer"].id:
            assert officer.get(f"/staff/file-reviews/{r.id}/feedback").status_code == 200

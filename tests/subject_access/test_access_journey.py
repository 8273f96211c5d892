"""The whole journey, through the pages: the student asks, a reviewer reviews, redacts and releases,
the student downloads while signed in; refusals and extensions are explained to the student."""

from __future__ import annotations

from datetime import timedelta

from shared.models import AccessRequest, AuditEvent, Redaction, utcnow
from shared.platform.extensions import db as _db
from shared.platform.mail import sent_messages
from tests import factories_access as fa
from tests.support.pdf import text as pdf_text


def _only_request():
    return _db.session.query(AccessRequest).one()


def test_request_review_redact_release_download(student, officer, manager, student_browser, officer_browser,
                                                manager_browser, db):
    data = fa.make_full_record(student, officer, tag=" [mine]")
    third = fa.make_entry(data["case"], officer, "Spoke to the neighbour Chris Thirdparty about the noise.")

    # the student asks for everything
    resp = student_browser.submit("/records/request", {"scope": "all", "note": "Especially the meeting notes"})
    assert resp.status_code == 302
    req = _only_request()
    page = student_browser.get(resp.headers["Location"]).get_data(as_text=True)
    assert req.reference in page and "We will reply by" in page

    # the reviewer sees it in the queue with its due date and days left
    queue = officer_browser.get("/staff/access").get_data(as_text=True)
    assert req.reference in queue and student.email in queue
    assert req.due_on.strftime("%-d %b %Y") in queue
    review = officer_browser.get(f"/staff/access/{req.id}/review").get_data(as_text=True)
    assert "Officer&#39;s impression: student seemed anxious [mine]." in review
    assert "Chris Thirdparty" in review

    # redact a passage, with its reason
    version_id = third.versions[0].id
    url = f"/staff/access/{req.id}/redact/entry_version/{version_id}"
    missing_reason = officer_browser.submit(url, {"extent": "passage", "passage": "Chris Thirdparty"})
    assert missing_reason.status_code == 400
    assert "Give the reason for the redaction." in missing_reason.get_data(as_text=True)
    assert "Chris Thirdparty" in missing_reason.get_data(as_text=True)  # the answer is kept
    resp = officer_browser.submit(url, {"extent": "passage", "passage": "Chris Thirdparty", "reason": "Names a neighbour"})
    assert resp.status_code == 302
    log = officer_browser.get(f"/staff/access/{req.id}/review").get_data(as_text=True)
    assert "Names a neighbour" in log and "[withheld" in log

    # the officer marks the copy reviewed; having redacted it, they cannot release it themselves
    review_page = f"/staff/access/{req.id}/review"
    assert officer_browser.submit(f"/staff/access/{req.id}/reviewed", page=review_page).status_code == 302
    reviewed = officer_browser.get(review_page).get_data(as_text=True)
    assert "another officer must release it" in reviewed and "Release the copy" not in reviewed

    # a second officer releases: the render runs as a job (synchronously in tests) and the student is
    # emailed, without detail
    assert "Release the copy" in manager_browser.get(review_page).get_data(as_text=True)
    resp = manager_browser.submit(f"/staff/access/{req.id}/release", page=review_page)
    assert resp.status_code == 302
    db.session.expire_all()
    req = _only_request()
    assert req.status == "released" and len(req.pdf_sha256) == 64
    assert (req.reviewed_by_id, req.released_by_id) == (officer.id, manager.id)
    email = sent_messages()[-1]
    assert email["To"] == student.email
    body = email.get_content()
    assert "[mine]" not in body and data["case"].reference not in body and "/records" in body

    # the student downloads it while signed in
    show = student_browser.get(f"/records/{req.id}").get_data(as_text=True)
    assert "Download your copy" in show
    resp = student_browser.get(f"/records/{req.id}/download")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    text = pdf_text(resp.data)
    assert "Officer's impression: student seemed anxious [mine]." in text
    assert "Chris Thirdparty" not in text
    assert "about the noise" in text
    assert _db.session.query(AuditEvent).filter_by(action="access.downloaded", student_id=student.id).count() == 1

    # the stored file is encrypted: the PDF's text is not readable on disk
    from tests.support.blobs import stored_files

    stored = stored_files()[req.pdf_path]
    assert not stored.startswith(b"%PDF") and b"seemed anxious" not in stored


def test_download_needs_sign_in_and_is_the_students_own(student, officer, other_student_browser, client, db):

    fa.make_full_record(student, officer)
    req = fa.make_request(student)
    fa.review_and_release(officer, req)
    assert client.get(f"/records/{req.id}/download").status_code == 302  # to sign-in
    assert other_student_browser.get(f"/records/{req.id}/download").status_code == 404
    assert other_student_browser.get(f"/records/{req.id}").status_code == 404


def test_download_expires_after_the_configured_period_then_ask_again(student, officer, student_browser, db, app):

    req = fa.make_request(student)
    fa.review_and_release(officer, req)
    assert student_browser.get(f"/records/{req.id}/download").status_code == 200
    req = db.session.get(AccessRequest, req.id)
    assert req.download_expires_at - req.ready_at == timedelta(days=app.config["ACCESS_DOWNLOAD_DAYS"]) == timedelta(days=30)
    req.download_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    resp = student_browser.get(f"/records/{req.id}/download", follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "no longer be downloaded" in page and "Ask for a new copy" in page
    db.session.expire_all()
    assert db.session.get(AccessRequest, req.id).pdf_path is None  # the stored copy is deleted


def test_refusal_needs_a_reason_which_the_student_sees(student, officer, student_browser, officer_browser, db):
    req = fa.make_request(student)
    page = f"/staff/access/{req.id}"
    resp = officer_browser.submit(f"{page}/refuse", {"reason": "  "}, page=page)
    assert resp.status_code == 400 and "Give the reason for refusing." in resp.get_data(as_text=True)
    reason = "This is the fourth identical request this month."
    assert officer_browser.submit(f"{page}/refuse", {"reason": reason}, page=page).status_code == 302
    shown = student_browser.get(f"/records/{req.id}").get_data(as_text=True)
    assert reason in shown and "Refused" in shown
    assert "fourth identical" not in sent_messages()[-1].get_content()


def test_extension_within_the_first_month_is_explained_to_the_student(student, officer, student_browser, officer_browser, db):
    req = fa.make_request(student)
    page = f"/staff/access/{req.id}"
    resp = officer_browser.submit(f"{page}/extend", {"months": "2", "reason": "Six years of records across five cases."}, page=page)
    assert resp.status_code == 302
    db.session.expire_all()
    req = db.session.get(AccessRequest, req.id)
    assert req.extension_months == 2 and req.extension_told_at is not None
    from shared.subject_access.deadlines import add_months

    assert req.due_on == add_months(req.received_on, 3)
    shown = student_browser.get(f"/records/{req.id}").get_data(as_text=True)
    assert "Six years of records across five cases." in shown
    resp = officer_browser.submit(f"{page}/extend", {"months": "1", "reason": "More"}, page=page)
    assert resp.status_code == 400  # the form is gone once two months are used; the service refuses too


def test_extension_after_the_first_month_is_refused(student, officer, db):
    import pytest

    from shared.platform.errors import ValidationFailed
    from shared.subject_access import requests as access

    req = fa.make_request(student, received_at=utcnow() - timedelta(days=40))
    with pytest.raises(ValidationFailed, match="first month has passed"):
        access.extend(officer, req.id, 1, "Too late")


def test_pause_and_resume_move_the_due_date(student, officer, officer_browser, db):
    req = fa.make_request(student, received_at=utcnow() - timedelta(days=10))
    page = f"/staff/access/{req.id}"
    started = (req.received_on + timedelta(days=2)).isoformat()
    resp = officer_browser.submit(f"{page}/pause", {"reason": "identity", "started_on": started}, page=page)
    assert resp.status_code == 302
    ended = (req.received_on + timedelta(days=7)).isoformat()
    assert officer_browser.submit(f"{page}/resume", {"ended_on": ended}, page=page).status_code == 302
    db.session.expire_all()
    req = db.session.get(AccessRequest, req.id)
    assert req.due_on == req.base_due_on + timedelta(days=5)
    assert "(5 days)" in officer_browser.get(page).get_data(as_text=True)


def test_a_redaction_can_only_name_something_in_this_students_copy(student, other_student, officer, officer_browser, db):
    mine = fa.make_full_record(student, officer)
    theirs = fa.make_full_record(other_student, officer)
    req = fa.make_request(student)
    url = f"/staff/access/{req.id}/redact/message/{theirs['message'].id}"
    assert officer_browser.get(url).status_code == 404
    url = f"/staff/access/{req.id}/redact/message/{mine['message'].id}"
    resp = officer_browser.submit(url, {"extent": "passage", "passage": "not in the text", "reason": "x"})
    assert resp.status_code == 400 and "exactly as it appears" in resp.get_data(as_text=True)
    assert db.session.query(Redaction).count() == 0


def test_dashboard_lists_requests_near_their_deadline(student, officer, officer_browser, db):
    near = fa.make_request(student, received_at=utcnow() - timedelta(days=29))
    far = fa.make_request(student)
    page = officer_browser.get("/staff/").get_data(as_text=True)
    assert "Access requests near their deadline" in page
    assert near.reference in page and far.reference not in page
    assert student.email not in page


def test_progress_page_shows_progress_without_a_timed_refresh(student, officer, student_browser, db, app):

    req = fa.make_request(student)
    app.config["JOBS_MODE"] = "rq"  # nothing will run it: Redis is not configured here
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    try:
        fa.review_and_release(officer, req)
    finally:
        app.config["JOBS_MODE"], app.config["REDIS_URL"] = "sync", ""
    page = student_browser.get(f"/records/{req.id}").get_data(as_text=True)
    assert "producing your copy" in page
    assert f'href="/records/{req.id}">Check again' in page
    # WCAG 2.2.1: no timed refresh the student cannot control (axe's meta-refresh rule).
    assert 'http-equiv="refresh"' not in page


def test_every_page_renders_in_every_state(student, officer, student_browser, officer_browser, db):
    from shared.subject_access import requests as access

    fa.make_full_record(student, officer)
    received = fa.make_request(student)
    paused = fa.make_request(student)
    access.pause(officer, paused.id, "clarification")
    refused = fa.make_request(student)
    access.refuse(officer, refused.id, "Repeated request")
    released = fa.make_request(student)
    access.extend(officer, released.id, 1, "Complex")
    fa.review_and_release(officer, released)
    for req in (received, paused, refused, released):
        for url in (f"/staff/access/{req.id}", f"/staff/access/{req.id}/review"):
            assert officer_browser.get(url).status_code == 200, url
        assert student_browser.get(f"/records/{req.id}").status_code == 200
    assert officer_browser.get("/staff/access?all=1").status_code == 200
    index = student_browser.get("/records").get_data(as_text=True)
    assert all(r.reference in index for r in (received, paused, refused, released))
    assert "waiting to hear from you" in index and "Ready to download" in index
    assert student_browser.get("/records/request").status_code == 200
    assert officer_browser.get(f"/staff/access/{received.id}/redact/nonsense/1").status_code == 404
    assert officer_browser.get("/staff/access/9999").status_code == 404


def test_staff_pages_are_closed_to_students_and_portal_pages_to_staff(student, officer, student_browser, officer_browser, client):
    req = fa.make_request(student)
    assert student_browser.get(f"/staff/access/{req.id}").status_code in (302, 403)
    assert student_browser.get("/staff/access").status_code in (302, 403)
    assert officer_browser.get(f"/records/{req.id}").status_code == 302  # to the student sign-in
    assert client.get("/staff/access").status_code == 302
    assert client.post(f"/staff/access/{req.id}/release").status_code in (400, 401)

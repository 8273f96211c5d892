"""A request's states are a state machine the server enforces: one table (`sar_states.TRANSITIONS`) of what may
follow what. Every other action is refused with 409 and its reason, and changes nothing: no field, no
pause, redaction or job, no audit event of the action. A copy is released only after review, and where
redactions were made, not by the one officer who both made them and reviewed the copy."""

from __future__ import annotations

import html
import re

import pytest

from shared.models import AccessRequest, AccessStatus, AuditEvent, RenderJob
from shared.subject_access import copies as sar_copies
from shared.subject_access import records as sar_records
from shared.subject_access import requests as access
from shared.subject_access import states as sar_states
from tests import factories_access as fa

STATES = [s.value for s in AccessStatus]
EVENT_OF = {  # the audit event each action appends when it is allowed
    sar_states.PAUSE: "access.paused", sar_states.RESUME: "access.resumed", sar_states.EXTEND: "access.extended",
    sar_states.REFUSE: "access.refused", sar_states.REDACT: "access.redacted", sar_states.UNREDACT: "access.redaction_removed",
    sar_states.REVIEW: "access.copy_reviewed", sar_states.RELEASE: "access.released", sar_states.RETRY: "access.render_retried",
    sar_states.RENDER: "access.copy_ready", sar_states.EXPIRE: "access.copy_discarded",
}
REFUSED_MOVES = [(state, action) for state in STATES for action in sar_states.ACTIONS
                 if action not in sar_states.TRANSITIONS[state]]


@pytest.fixture(autouse=True)
def _a_small_pdf(monkeypatch):
    """These tests are about states, not the copy's contents (tests/platform/test_pdf.py): the PDF engine is
    replaced by a tiny stand-in, so reaching 'released' costs no rendering."""
    monkeypatch.setattr("shared.platform.pdf.render_pdf", lambda *args, **kwargs: b"%PDF-1.7 a fictional copy")


def _post(officer_browser, req, action):
    """The officer's form for `action`, filled in correctly: only the request's state can refuse it."""
    page = f"/staff/access/{req.id}"
    if action == sar_states.REDACT:
        url = f"{page}/redact/profile/{req.redactions[0].target_id}"
        return officer_browser.submit(url, {"extent": "whole", "reason": "Names a neighbour"})
    url, data = {
        sar_states.PAUSE: (f"{page}/pause", {"reason": "identity"}),
        sar_states.RESUME: (f"{page}/resume", {}),
        sar_states.EXTEND: (f"{page}/extend", {"months": "1", "reason": "Five years of records"}),
        sar_states.REFUSE: (f"{page}/refuse", {"reason": "The same request three times"}),
        sar_states.UNREDACT: (f"{page}/redactions/{req.redactions[0].id}/remove", {}),
        sar_states.REVIEW: (f"{page}/reviewed", {}),
        sar_states.RELEASE: (f"{page}/release", {}),
        sar_states.RETRY: (f"{page}/retry", {}),
    }[action]
    return officer_browser.submit(url, data, page=page)


def _run_system_action(req, action):
    """The actions nobody posts: the job producing the copy, and the copy discarded after its period."""
    if action == sar_states.RENDER:
        sar_copies.render_copy(req.id)
    else:
        sar_copies.discard_copy(req)


def _snapshot(db, req_id):
    db.session.expire_all()
    req = db.session.get(AccessRequest, req_id)
    row = {attr.key: getattr(req, attr.key) for attr in AccessRequest.__mapper__.column_attrs}
    return {
        "row": row,
        "pauses": [(p.started_on, p.ended_on) for p in req.pauses],
        "redactions": [r.id for r in req.redactions],
        "jobs": [(j.id, j.state, j.attempts) for j in db.session.query(RenderJob).filter_by(request_id=req_id)],
    }


def _events(db, action):
    return db.session.query(AuditEvent).filter_by(action=EVENT_OF[action]).count()


@pytest.mark.parametrize(("state", "action"), REFUSED_MOVES, ids=[f"{s}-{a}" for s, a in REFUSED_MOVES])
def test_an_action_the_table_does_not_allow_is_refused_and_changes_nothing(state, action, student, officer, manager,
                                                                          officer_browser, db):
    # The manager made a redaction, so there is one to remove, and the officer may review and release.
    req = fa.make_request_in(state, student, officer, redactor=manager)
    before, events = _snapshot(db, req.id), _events(db, action)
    if action in (sar_states.RENDER, sar_states.EXPIRE):
        with pytest.raises(sar_states.TransitionRefused, match=re.escape(sar_states.refusal_message(state, action))):
            _run_system_action(req, action)
        db.session.rollback()
    else:
        resp = _post(officer_browser, req, action)
        assert resp.status_code == 409
        assert sar_states.refusal_message(state, action) in html.unescape(resp.get_data(as_text=True))
    assert _snapshot(db, req.id) == before
    assert _events(db, action) == events


def test_release_without_review_is_refused_with_the_reason(student, officer, officer_browser, db):
    req = fa.make_request(student)
    resp = officer_browser.submit(f"/staff/access/{req.id}/release", page=f"/staff/access/{req.id}/review")
    assert resp.status_code == 409
    page = html.unescape(resp.get_data(as_text=True))
    assert "This copy has not been reviewed yet, so it can't be released." in page
    db.session.expire_all()
    assert db.session.get(AccessRequest, req.id).status == "received"
    assert db.session.query(RenderJob).count() == 0


def test_the_same_officer_cannot_redact_review_and_release(student, officer, manager, officer_browser,
                                                           manager_browser, db):
    req = fa.make_request_in("reviewed", student, officer, redactor=officer)
    review = f"/staff/access/{req.id}/review"
    resp = officer_browser.submit(f"/staff/access/{req.id}/release", page=review)
    assert resp.status_code == 409
    assert sar_states.SecondOfficerRequired.message in html.unescape(resp.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(AccessRequest, req.id).status == "reviewed"
    assert db.session.query(RenderJob).count() == 0
    assert db.session.query(AuditEvent).filter_by(action="access.released").count() == 0

    # a second officer releases it
    assert manager_browser.submit(f"/staff/access/{req.id}/release", page=review).status_code == 302
    db.session.expire_all()
    req = db.session.get(AccessRequest, req.id)
    assert req.status == "released"
    assert (req.reviewed_by_id, req.released_by_id) == (officer.id, manager.id)
    reviewed = db.session.query(AuditEvent).filter_by(action="access.copy_reviewed").one()
    released = db.session.query(AuditEvent).filter_by(action="access.released").one()
    assert (reviewed.actor_id, released.actor_id) == (officer.id, manager.id)
    assert released.details["reviewed_by"] == officer.id


def test_a_copy_reviewed_by_a_second_officer_may_be_released_by_the_one_who_redacted(student, officer, manager, db):
    req = fa.make_request_in("received", student, officer, redactor=officer)
    fa.review_and_release(manager, req, releaser=officer)
    db.session.expire_all()
    req = db.session.get(AccessRequest, req.id)
    assert (req.status, req.reviewed_by_id, req.released_by_id) == ("released", manager.id, officer.id)


def test_without_redactions_one_officer_may_review_and_release(student, officer, db):
    req = fa.make_request(student)
    fa.review_and_release(officer, req)
    db.session.expire_all()
    assert db.session.get(AccessRequest, req.id).status == "released"


@pytest.mark.parametrize("change", ["redact", "unredact", "pause"])
def test_changing_the_copy_after_review_means_reviewing_it_again(change, student, officer, manager, db):
    req = fa.make_request_in("reviewed", student, officer, redactor=manager)
    if change == "redact":
        access.redact(manager, req.id, "profile", req.redactions[0].target_id, reason="Names a neighbour")
    elif change == "unredact":
        access.remove_redaction(manager, req.id, req.redactions[0].id)
    else:
        access.pause(manager, req.id, "identity")
    db.session.expire_all()
    req = db.session.get(AccessRequest, req.id)
    assert req.status in ("received", "paused") and req.reviewed_by_id is None and req.reviewed_at is None
    with pytest.raises(sar_states.TransitionRefused, match="not been reviewed"):
        access.release(officer, req.id)


def test_a_reviewed_request_looks_to_the_student_as_it_did_before_review(student, officer, student_browser, db):
    req = fa.make_request(student)
    before = student_browser.get(f"/records/{req.id}").get_data(as_text=True)
    access.mark_reviewed(officer, req.id)
    after = student_browser.get(f"/records/{req.id}").get_data(as_text=True)
    assert after == before
    assert "We will reply by" in after and "Received: we are preparing your copy" in after
    index = student_browser.get("/records").get_data(as_text=True)
    assert sar_records.format_day(req.due_on) in index


def test_a_redaction_refused_by_the_state_keeps_what_was_typed(student, officer, manager, officer_browser, db):
    req = fa.make_request_in("released", student, officer, redactor=manager)
    reason = "Identifies the neighbour in the second paragraph"
    url = f"/staff/access/{req.id}/redact/profile/{req.redactions[0].target_id}"
    resp = officer_browser.submit(url, {"extent": "whole", "reason": reason})
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 409
    assert "This copy has been released, so you can't change the redactions now." in page and reason in page


def test_the_table_names_every_state_and_only_states():
    assert set(sar_states.TRANSITIONS) - {None} == set(STATES)
    assert {target for moves in sar_states.TRANSITIONS.values() for target in moves.values()} <= set(STATES)

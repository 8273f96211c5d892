"""The breach-of-confidentiality procedure: two grounds only, another advice officer consulted as a two-person
step (told in the back office, advising in their own session before the decision, except in danger to life
with the reason recorded), a complete and immutable record, the manager told; the terrorism ground never
reaches the student. Security incidents."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared.consent import breach
from shared.models import (
    BreachConsultation,
    BreachConsultationRequest,
    BreachRecord,
    Disclosure,
    ManagerNotice,
    utcnow,
)
from shared.models.consent import ImmutableRecord
from shared.platform.errors import ConsentRequired, InvalidAnswers, PermissionDenied
from shared.platform.mail import sent_messages
from shared.subject_access import copies as sar_copies
from shared.subject_access import reading as sar_reading
from shared.subject_access import requests as access
from shared.subject_access.deadlines import service_today
from tests.factories import make_staff
from tests.factories_access import make_breach
from tests.factories_casework import make_case
from tests.factories_consent import (
    TERRORISM_RECIPIENT,
    TERRORISM_TRACES,
    breach_decision,
    breach_proposal,
    consulted_breach,
    give_consent,
)
from tests.support.pdf import text as pdf_text

SECRET = TERRORISM_RECIPIENT
TRACES = TERRORISM_TRACES


@pytest.fixture
def colleague(ctx):
    return make_staff(email="colleague@example.ac.uk", name="Jo Colleague", job_title="Welfare and Rights Officer")


def _nothing_recorded(db) -> None:
    assert db.session.scalars(select(BreachRecord)).all() == []
    assert db.session.scalars(select(Disclosure)).all() == []


def test_breach_requires_asking_another_active_advice_officer(db, student, officer, colleague, admin):
    case = make_case(student)
    retired = make_staff(email="retired@example.ac.uk", name="Former Officer", active=False)
    for consultees, message in (((), "at least one other advice officer"), ((officer,), "cannot consult yourself"),
                                ((admin,), "other advice officers"), ((retired,), "other advice officers")):
        with pytest.raises(InvalidAnswers, match=message):
            breach.request_consultation(officer, case.reference, breach_proposal(*consultees))
    assert db.session.scalars(select(BreachConsultationRequest)).all() == []
    assert [s.id for s in breach.consultees_for(officer)] == [colleague.id]  # never themselves, the admin, the inactive
    _nothing_recorded(db)


def test_the_administrator_cannot_request_be_consulted_or_decide(db, student, officer, colleague, admin, admin_browser):
    case = make_case(student)
    with pytest.raises(PermissionDenied):
        breach.request_consultation(admin, case.reference, breach_proposal(colleague))
    req = breach.request_consultation(officer, case.reference, breach_proposal(colleague))
    with pytest.raises(PermissionDenied):
        breach.give_advice(admin, req.id, "Go ahead.")
    assert admin_browser.get(f"/staff/cases/{case.reference}/breach").status_code == 403
    assert admin_browser.submit(f"/staff/breach-requests/{req.id}/advice", {"advice": "Go ahead."},
                                page=f"/staff/breach-requests/{req.id}").status_code == 403
    _nothing_recorded(db)


def test_only_the_requesting_officer_decides_and_only_consultees_advise(db, student, officer, colleague, manager):
    case = make_case(student)
    req = breach.request_consultation(officer, case.reference, breach_proposal(colleague))
    with pytest.raises(PermissionDenied, match="asked for advice makes the final decision"):
        breach.decide(colleague, req.id, breach_decision())
    with pytest.raises(PermissionDenied, match="this request was put to"):
        breach.give_advice(manager, req.id, "Go ahead.")
    with pytest.raises(PermissionDenied, match="this request was put to"):
        breach.give_advice(officer, req.id, "I advise myself to go ahead.")
    _nothing_recorded(db)


def test_the_decision_waits_for_the_consultees_advice(db, student, officer, colleague):
    case = make_case(student)
    req = breach.request_consultation(officer, case.reference, breach_proposal(colleague))
    with pytest.raises(InvalidAnswers, match="No advice has been given yet"):
        breach.decide(officer, req.id, breach_decision())
    _nothing_recorded(db)
    breach.give_advice(colleague, req.id, "Call the crisis team now.")
    b = breach.decide(officer, req.id, breach_decision())
    assert b.request_id == req.id and b.urgent_reason is None
    [c] = b.consultations
    assert (c.officer_id, c.advice) == (colleague.id, "Call the crisis team now.")
    assert c.asked_at <= c.consulted_at <= b.decided_at
    with pytest.raises(InvalidAnswers, match="already been decided"):
        breach.decide(officer, req.id, breach_decision())
    assert len(db.session.scalars(select(BreachRecord)).all()) == 1


def test_a_consultee_gives_their_advice_once(db, student, officer, colleague):
    case = make_case(student)
    req = breach.request_consultation(officer, case.reference, breach_proposal(colleague))
    with pytest.raises(InvalidAnswers, match="Write your advice"):
        breach.give_advice(colleague, req.id, "   ")
    breach.give_advice(colleague, req.id, "Call the crisis team now.")
    with pytest.raises(InvalidAnswers, match="cannot be changed"):
        breach.give_advice(colleague, req.id, "On reflection, do not.")
    [c] = db.session.scalars(select(BreachConsultation)).all()
    assert c.advice == "Call the crisis team now."


def test_the_consultee_is_told_in_the_back_office_and_by_an_email_without_detail(db, student, officer, manager,
                                                                                  manager_browser):
    case = make_case(student)
    req = breach.request_consultation(officer, case.reference, breach_proposal(manager))
    dashboard = manager_browser.get("/staff/").get_data(as_text=True)
    assert "Consultations waiting for you" in dashboard and f"/staff/breach-requests/{req.id}" in dashboard
    [msg] = [m for m in sent_messages() if m["To"] == manager.email]
    assert "asks for your advice" in msg["Subject"]
    for detail in ("Duty Team", "Crisis", "harm", case.reference, student.email, "safety"):
        assert detail not in msg.get_content() and detail not in msg["Subject"]
    breach.give_advice(manager, req.id, "Go ahead.")
    assert "Consultations waiting for you" not in manager_browser.get("/staff/").get_data(as_text=True)


def test_breach_record_holds_what_the_policy_lists_and_is_the_basis_of_the_disclosure(db, student, officer, colleague):
    case = make_case(student)
    b = consulted_breach(officer, colleague, case)
    assert b.student_id == student.id and b.case_id == case.id and b.ground == "safety"
    assert "harm themselves" in b.situation and b.achieves.startswith("The crisis team")
    assert [(c.officer_id, c.advice) for c in b.consultations] == [(colleague.id, "Call the crisis team now.")]
    assert (b.recipient_name, b.recipient_organisation, b.decided_by_id) == ("Duty Team", "Fictional Crisis Service", officer.id)
    assert b.request.requested_by_id == officer.id and b.request.requested_at <= b.decided_at
    assert b.decided_at is not None and b.student_told is True and b.student_told_at is not None
    d = db.session.scalars(select(Disclosure)).one()
    assert d.breach_record_id == b.id and d.consent_id is None and d.recipient_name == "Duty Team"


@pytest.mark.parametrize("outline", ["", "   ", "\n\t  \n"])
def test_a_breach_with_an_empty_or_blank_outline_is_refused_and_nothing_recorded_or_disclosed(
        db, student, officer, colleague, outline):
    case = make_case(student)
    with pytest.raises(InvalidAnswers) as refused:
        breach.request_consultation(officer, case.reference, breach_proposal(colleague, situation=outline))
    assert refused.value.errors["situation"] == "Outline the situation and the reason for breaching confidentiality."
    assert db.session.scalars(select(BreachConsultationRequest)).all() == []
    assert [m for m in sent_messages() if m["To"] == colleague.email] == []
    # and a decision is never recorded on a request whose outline is blank (one not made through the service)
    req = BreachConsultationRequest(student_id=student.id, case_id=case.id, requested_by_id=officer.id, ground="safety",
                                    recipient_name="Duty Team", recipient_organisation="Fictional Crisis Service")
    req.situation, req.achieves = outline, "The crisis team can reach them today."
    db.session.add(req)
    db.session.commit()
    with pytest.raises(InvalidAnswers) as refused:
        breach.decide(officer, req.id, breach_decision(urgent=True, urgent_reason="They are on the roof now."))
    assert "situation" in refused.value.errors
    _nothing_recorded(db)


def test_urgent_danger_to_life_may_be_decided_before_advice_with_the_reason(db, student, officer, colleague, officer_browser):
    case = make_case(student)
    req = breach.request_consultation(officer, case.reference, breach_proposal(colleague))
    with pytest.raises(InvalidAnswers, match="no time to wait"):
        breach.decide(officer, req.id, breach_decision(urgent=True, urgent_reason="  "))
    _nothing_recorded(db)
    b = breach.decide(officer, req.id, breach_decision(urgent=True, urgent_reason="They are on the roof now."))
    assert b.urgent_reason == "They are on the roof now."
    assert breach.waiting_for(colleague) == [req]  # still told, and can still advise
    breach.give_advice(colleague, req.id, "Right call; I would have done the same.")
    db.session.expire_all()
    page = re.sub(r"<[^>]+>", "", html.unescape(officer_browser.get(f"/staff/breaches/{b.id}").get_data(as_text=True)))
    assert "Decided before advice was given" in page and "They are on the roof now." in page
    assert "(after the decision): Right call" in page


def test_deciding_not_to_breach_records_the_decision_and_discloses_nothing(db, student, officer, colleague):
    case = make_case(student)
    req = breach.request_consultation(officer, case.reference, breach_proposal(colleague))
    breach.give_advice(colleague, req.id, "Do not: the risk is not imminent.")
    assert breach.decide(officer, req.id, breach_decision(proceed=False)) is None
    db.session.expire_all()
    req = db.session.get(BreachConsultationRequest, req.id)
    assert req.outcome == "not_proceed" and req.decided_at is not None
    _nothing_recorded(db)
    assert db.session.scalars(select(ManagerNotice)).all() == []


def test_safety_ground_records_whether_the_student_was_told_or_why_not(db, student, officer, colleague):
    case = make_case(student)
    req = breach.request_consultation(officer, case.reference, breach_proposal(colleague))
    breach.give_advice(colleague, req.id, "Go ahead.")
    with pytest.raises(InvalidAnswers, match="whether the student has been told"):
        breach.decide(officer, req.id, breach_decision(student_told=None))
    with pytest.raises(InvalidAnswers, match="why the student has not been told"):
        breach.decide(officer, req.id, breach_decision(student_told=False))
    b = breach.decide(officer, req.id, breach_decision(student_told=False, not_told_reason="They could not be reached."))
    assert b.student_told is False and b.not_told_reason == "They could not be reached."


def test_breach_record_cannot_be_edited_or_deleted_only_added_to(db, student, officer, colleague):
    case = make_case(student)
    b = consulted_breach(officer, colleague, case)
    b.recipient_name = "Someone else"
    with pytest.raises(ImmutableRecord):
        db.session.commit()
    db.session.rollback()
    for change in (lambda: db.session.delete(b.consultations[0]), lambda: db.session.delete(b.request),
                   lambda: setattr(b.consultations[0], "advice", "Different advice"),
                   lambda: setattr(b.consultations[0], "officer_id", officer.id),
                   lambda: setattr(b.request, "outcome", "not_proceed"),
                   lambda: setattr(b.request, "situation", "A different story")):
        change()
        with pytest.raises(ImmutableRecord):
            db.session.commit()
        db.session.rollback()
    breach.add_addendum(officer, b.id, "Crisis team confirmed contact.")
    assert [a.text for a in breach.addenda(b.id)] == ["Crisis team confirmed contact."]


def test_a_disclosure_never_rests_on_a_breach_decided_without_advice(db, student, officer, colleague):
    from shared.consent import gate

    b = make_breach(student, officer, case=make_case(student))  # no request, no advice, no urgent reason
    with pytest.raises(ConsentRequired, match="given their advice"):
        gate.disclose_on_breach(b, officer, scope="summary", what="Everything", method="phone")


def test_manager_is_notified_in_app_and_by_an_email_without_detail(db, student, officer, colleague, manager):
    case = make_case(student)
    b = consulted_breach(officer, colleague, case)
    notice = db.session.scalars(select(ManagerNotice)).one()
    assert (notice.kind, notice.subject_id) == ("breach", b.id)
    [msg] = [m for m in sent_messages() if m["To"] == manager.email]
    body = msg.get_content()
    for detail in ("Duty Team", "Crisis", "harm", case.reference, student.email):
        assert detail not in body and detail not in msg["Subject"]


def test_breach_through_the_forms_in_two_sessions_and_the_manager_sees_the_notice(db, student, officer, manager,
                                                                                    officer_browser, manager_browser):
    case = make_case(student)
    proposal = {"ground": "safety", "situation": "Risk described in a meeting.", "achieves": "Keeps them safe.",
                "recipient_name": "Duty Team", "recipient_organisation": "Fictional Crisis Service"}
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/breach", proposal)
    assert resp.status_code == 200 and "Ask at least one other advice officer" in resp.get_data(as_text=True)
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/breach", {**proposal, "consultee_ids": str(manager.id)})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    req_url = resp.headers["Location"]
    decision_form = {"proceed": "yes", "recipient_name": "Duty Team", "recipient_organisation": "Fictional Crisis Service",
                     "scope": "attendance", "method": "phone", "what": "That they are a student here.", "student_told": "yes"}
    resp = officer_browser.submit(f"{req_url}/decision", decision_form, page=req_url)
    assert resp.status_code == 400 and "No advice has been given yet" in resp.get_data(as_text=True)
    assert officer_browser.submit(f"{req_url}/advice", {"advice": "Go ahead."}, page=req_url).status_code == 403
    resp = manager_browser.submit(f"{req_url}/advice", {"advice": "Go ahead."}, page=req_url)
    assert resp.status_code == 302
    resp = officer_browser.submit(f"{req_url}/decision", decision_form, page=req_url)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    dashboard = manager_browser.get("/staff/").get_data(as_text=True)
    assert "A breach of confidentiality was recorded" in dashboard
    record = html.unescape(officer_browser.get(resp.headers["Location"]).get_data(as_text=True))
    assert "Robin Testworth" in record and "Go ahead." in record and "asked" in record and "advised" in record


@pytest.mark.parametrize(("consultee", "status", "message"), [
    ("²", 400, "Choose one of the options shown."), ("99999999999999999999", 400, "Choose one of the options shown."),
    ("x", 400, "Choose one of the options shown."), ("", 200, "Ask at least one other advice officer")])
def test_a_consultee_that_is_no_advice_officer_is_refused_with_a_message(db, student, officer, officer_browser,
                                                                          consultee, status, message):
    case = make_case(student)
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/breach", {
        "ground": "safety", "situation": "Risk described in a meeting.", "achieves": "Keeps them safe.",
        "recipient_name": "Duty Team", "recipient_organisation": "Fictional Crisis Service", "consultee_ids": consultee})
    page = resp.get_data(as_text=True)
    assert resp.status_code == status and message in page and "Keeps them safe." in page
    assert db.session.scalars(select(BreachConsultationRequest)).all() == []


def _seed_terrorism(student, officer, colleague):
    case = make_case(student)
    consent_row = give_consent(student)
    from shared.consent import gate

    gate.record_disclosure(officer, student, "summary", gate.Recipient(consent_row.recipient_name, consent_row.recipient_organisation),
                           what="Shared with consent", method="email", case=case)
    consulted_breach(officer, colleague, case, proposal=breach_proposal(
        colleague, ground="terrorism", situation="TT-SITUATION described to the officer", achieves="TT-ACHIEVES",
        recipient_name="TT Officer", recipient_organisation=SECRET),
        recipient_name="TT Officer", recipient_organisation=SECRET, what="TT-WHAT was disclosed")
    return case, consent_row


def _student_facing_urls(app, case, consent_row, req) -> list[str]:
    values = {"reference": case.reference, "consent_id": consent_row.id, "request_id": req.id}
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("portal.") or "GET" not in rule.methods:
            continue
        if not set(rule.arguments) <= set(values) or "download" in rule.endpoint or "document" in rule.endpoint:
            continue
        urls.append(re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule.rule))
    return urls


def test_terrorism_ground_never_shown_to_student(app, db, student, officer, colleague, student_browser):
    case, consent_row = _seed_terrorism(student, officer, colleague)
    req = access.request_copy(student, case_id=None)
    urls = _student_facing_urls(app, case, consent_row, req)
    assert {"/consents/history", f"/consents/{consent_row.id}", f"/consents/{consent_row.id}/receipt.pdf"} <= set(urls)
    assert len(urls) > 8
    for url in urls:
        resp = student_browser.get(url, follow_redirects=True)
        page = pdf_text(resp.get_data()) if resp.mimetype == "application/pdf" else html.unescape(resp.get_data(as_text=True))
        for secret in TRACES:
            assert secret not in page, f"{url} shows {secret!r}"
    history = html.unescape(student_browser.get("/consents/history").get_data(as_text=True))
    assert "Shared with consent" in history and history.count('<section class="card"') == 1
    for msg in sent_messages():  # notifications
        if msg["To"] == student.email:
            assert not any(t in msg.get_content() for t in TRACES)
    record = sar_reading.copy_contents(req)
    text = repr(record)
    assert not any(t in text for t in TRACES)
    from shared.platform.pdf import render_pdf

    pdf = pdf_text(render_pdf("records.html", sar_copies.render_context(req, record), title="t"))
    assert "Shared with consent" in pdf and not any(t in pdf for t in TRACES)


def test_staff_see_the_terrorism_ground_with_a_warning(db, student, officer, colleague, officer_browser):
    case, _ = _seed_terrorism(student, officer, colleague)
    b = db.session.scalars(select(BreachRecord)).one()
    page = html.unescape(officer_browser.get(f"/staff/breaches/{b.id}").get_data(as_text=True))
    assert "Warning: terrorism ground" in page and SECRET in page and "TT-SITUATION" in page
    sharing = html.unescape(officer_browser.get(f"/staff/cases/{case.reference}/sharing").get_data(as_text=True))
    assert "tipping off is an offence" in sharing and SECRET in sharing


def test_security_incident_deadline_is_shown_to_the_manager_until_resolved(db, officer, manager, manager_browser):
    incident = breach.report_incident(officer, kind="lost_device", description="Laptop left on a train.",
                                      discovered_at=utcnow() - timedelta(hours=2))
    assert incident.notify_by == incident.discovered_at + timedelta(hours=72)
    assert breach.hours_left(incident) in (69, 70)
    assert db.session.scalars(select(BreachRecord)).all() == []  # a separate record from a policy breach
    page = manager_browser.get("/staff/").get_data(as_text=True)
    assert f"Incident {incident.id}" in page and "hours left" in page
    resp = manager_browser.submit(f"/staff/incidents/{incident.id}/resolve",
                                  {"resolution": "Device wiped remotely; ICO told.", "ico_notified": "y"})
    assert resp.status_code == 302
    page = manager_browser.get("/staff/").get_data(as_text=True)
    assert f"Incident {incident.id}:" not in page


def test_officers_cannot_resolve_incidents(db, officer, officer_browser):
    incident = breach.report_incident(officer, kind="wrong_recipient", description="Email to the wrong tutor.",
                                      discovered_at=utcnow())
    assert officer_browser.get(f"/staff/incidents/{incident.id}/resolve").status_code == 403


def test_telling_the_student_later_is_added_to_a_safety_record_never_edited_in(db, student, officer, colleague, officer_browser):
    case = make_case(student)
    b = consulted_breach(officer, colleague, case, student_told=False, not_told_reason="Could not reach them yet.")
    resp = officer_browser.submit(f"/staff/breaches/{b.id}/addenda", {"text": "Told the student by phone.",
                                  "student_told_on": service_today().strftime("%d/%m/%Y")},
                                  page=f"/staff/breaches/{b.id}")
    assert resp.status_code == 302
    db.session.expire_all()
    b = db.session.get(BreachRecord, b.id)
    assert b.student_told is False and b.not_told_reason == "Could not reach them yet."  # the record is unchanged
    [a] = breach.addenda(b.id)
    assert a.text == "Told the student by phone." and a.student_told_at is not None


def test_on_the_terrorism_ground_the_student_is_never_recorded_as_told(db, student, officer, colleague):
    case = make_case(student)
    b = consulted_breach(officer, colleague, case, proposal=breach_proposal(colleague, ground="terrorism"))
    assert b.student_told is None and b.student_told_at is None
    with pytest.raises(InvalidAnswers, match="never told"):
        breach.add_addendum(officer, b.id, "Told them", student_told_at=utcnow())

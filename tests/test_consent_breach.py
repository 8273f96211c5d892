"""The breach-of-confidentiality procedure: two grounds only, another officer consulted, a complete and
immutable record, the manager told; the terrorism ground never reaches the student. Security incidents."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from shared import access, breach
from shared.consent import InvalidConsent
from shared.deadlines import service_today
from shared.mail import sent_messages
from shared.models import BreachRecord, Disclosure, ManagerNotice, utcnow
from shared.models.consent import ImmutableRecord
from tests.factories import make_staff
from tests.factories_casework import make_case
from tests.factories_consent import breach_decision as decision
from tests.factories_consent import give_consent
from tests.support.pdf import text as pdf_text

SECRET = "Fictional Counter Terrorism Unit"
# Distinctive words of the seeded record (the public pages explain the policy's two grounds in general,
# which is not tipping off; what must never show is anything from this record).
TRACES = (SECRET, "TT Officer", "TT-SITUATION", "TT-WHAT", "TT-ACHIEVES", breach.GROUND_LABELS["terrorism"])


@pytest.fixture
def colleague(ctx):
    return make_staff(email="colleague@example.ac.uk", name="Jo Colleague", job_title="Welfare and Rights Officer")


def test_breach_requires_another_officer(db, student, officer, colleague):
    case = make_case(student)
    with pytest.raises(InvalidConsent, match="at least one other advice officer"):
        breach.record_breach(officer, case.reference, decision(colleague, consultations=[]))
    with pytest.raises(InvalidConsent, match="cannot consult yourself"):
        breach.record_breach(officer, case.reference, decision(officer))
    with pytest.raises(InvalidConsent, match="in their words"):
        breach.record_breach(officer, case.reference, decision(colleague, consultations=[
            breach.Consultation(colleague.id, "  ", utcnow())]))
    assert db.session.scalars(select(BreachRecord)).all() == []


def test_only_the_two_grounds_the_policy_allows(db, student, officer, colleague):
    case = make_case(student)
    with pytest.raises(InvalidConsent, match="two grounds"):
        breach.record_breach(officer, case.reference, decision(colleague, ground="police_asked_nicely"))
    with pytest.raises(IntegrityError):  # and the database refuses it too
        db.session.execute(insert(BreachRecord.__table__).values(
            student_id=student.id, ground="other", situation_enc="x", achieves_enc="x", recipient_name="x",
            recipient_organisation="x", decided_by_id=officer.id, decided_at=utcnow()))
        db.session.commit()
    db.session.rollback()


def test_breach_record_holds_what_the_policy_lists_and_is_the_basis_of_the_disclosure(db, student, officer, colleague):
    case = make_case(student)
    b = breach.record_breach(officer, case.reference, decision(colleague))
    assert b.student_id == student.id and b.case_id == case.id and b.ground == "safety"
    assert "harm themselves" in b.situation and b.achieves.startswith("The crisis team")
    assert [(c.officer_id, c.advice) for c in b.consultations] == [(colleague.id, "Call the crisis team now.")]
    assert (b.recipient_name, b.recipient_organisation, b.decided_by_id) == ("Duty Team", "Fictional Crisis Service", officer.id)
    assert b.decided_at is not None and b.student_told is True and b.student_told_at is not None
    d = db.session.scalars(select(Disclosure)).one()
    assert d.breach_record_id == b.id and d.consent_id is None and d.recipient_name == "Duty Team"


def test_safety_ground_records_whether_the_student_was_told_or_why_not(db, student, officer, colleague):
    case = make_case(student)
    with pytest.raises(InvalidConsent, match="whether the student has been told"):
        breach.record_breach(officer, case.reference, decision(colleague, student_told=None))
    with pytest.raises(InvalidConsent, match="why the student has not been told"):
        breach.record_breach(officer, case.reference, decision(colleague, student_told=False))
    b = breach.record_breach(officer, case.reference, decision(colleague, student_told=False,
                                                               not_told_reason="They could not be reached."))
    assert b.student_told is False and b.not_told_reason == "They could not be reached."


def test_breach_record_cannot_be_edited_or_deleted_only_added_to(db, student, officer, colleague):
    case = make_case(student)
    b = breach.record_breach(officer, case.reference, decision(colleague))
    b.recipient_name = "Someone else"
    with pytest.raises(ImmutableRecord):
        db.session.commit()
    db.session.rollback()
    db.session.delete(b.consultations[0])
    with pytest.raises(ImmutableRecord):
        db.session.commit()
    db.session.rollback()
    breach.add_addendum(officer, b.id, "Crisis team confirmed contact.")
    assert [a.text for a in breach.addenda(b.id)] == ["Crisis team confirmed contact."]


def test_manager_is_notified_in_app_and_by_an_email_without_detail(db, student, officer, colleague, manager):
    case = make_case(student)
    b = breach.record_breach(officer, case.reference, decision(colleague))
    notice = db.session.scalars(select(ManagerNotice)).one()
    assert (notice.kind, notice.subject_id) == ("breach", b.id)
    [msg] = [m for m in sent_messages() if m["To"] == manager.email]
    body = msg.get_content()
    for detail in ("Duty Team", "Crisis", "harm", case.reference, student.email):
        assert detail not in body and detail not in msg["Subject"]


def test_breach_through_the_form_and_the_manager_sees_the_notice(db, student, colleague, officer_browser, manager_browser):
    case = make_case(student)
    resp = officer_browser.submit(f"/staff/cases/{case.reference}/breach", {
        "ground": "safety", "situation": "Risk described in a meeting.", "achieves": "Keeps them safe.",
        "consulted_officer_id": str(colleague.id), "advice": "Go ahead.", "recipient_name": "Duty Team",
        "recipient_organisation": "Fictional Crisis Service", "scope": "attendance", "method": "phone",
        "what": "That they are a student here.", "student_told": "yes"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    dashboard = manager_browser.get("/staff/").get_data(as_text=True)
    assert "A breach of confidentiality was recorded" in dashboard


def _seed_terrorism(student, officer, colleague):
    case = make_case(student)
    consent_row = give_consent(student)
    from shared import consent as gate

    gate.record_disclosure(officer, student, "summary", gate.Recipient(consent_row.recipient_name, consent_row.recipient_organisation),
                           what="Shared with consent", method="email", case=case)
    breach.record_breach(officer, case.reference, decision(
        colleague, ground="terrorism", situation="TT-SITUATION described to the officer", achieves="TT-ACHIEVES",
        recipient_name="TT Officer", recipient_organisation=SECRET, what="TT-WHAT was disclosed"))
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
    record = access.contents(req)
    text = repr(record)
    assert not any(t in text for t in TRACES)
    from shared.pdf import render_pdf

    pdf = pdf_text(render_pdf("records.html", access.render_context(req, record), title="t"))
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
    b = breach.record_breach(officer, case.reference, decision(colleague, student_told=False,
                                                               not_told_reason="Could not reach them yet."))
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
    b = breach.record_breach(officer, case.reference, decision(colleague, ground="terrorism"))
    assert b.student_told is None and b.student_told_at is None
    with pytest.raises(InvalidConsent, match="never told"):
        breach.add_addendum(officer, b.id, "Told them", student_told_at=utcnow())

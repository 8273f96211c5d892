"""The student's side: consent is explicit and informed, withdrawal is one step, every use is visible."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared.consent import gate
from shared.consent import giving as consent_giving
from shared.consent import history as student_history
from shared.models import AuditEvent, Consent
from shared.platform.errors import ConsentRequired
from shared.subject_access.deadlines import add_months, service_today
from tests.factories_casework import make_case
from tests.factories_consent import GP, TUTOR, give_consent
from tests.support.consent_form import HIDDEN, confirm, details, hidden_fields, review  # noqa: F401


def test_nothing_is_pre_ticked(student_browser):
    page = student_browser.get("/consents/new").get_data(as_text=True)
    boxes = re.findall(r'<input[^>]*type="checkbox"[^>]*>', page)
    assert boxes and not any("checked" in b for b in boxes)


def test_review_shows_in_plain_words_what_with_whom_why_until_when_and_how_to_withdraw(student_browser):
    page = review(student_browser)
    text = html.unescape(page)
    assert "Check what you are agreeing to" in text
    for expected in ("A summary of your case", TUTOR.name, TUTOR.organisation, "support my extension request",
                     consent_giving.format_day(add_months(service_today(), 6)), "How to withdraw"):
        assert expected in text
    assert 'name="confirm"' in page and "checked" not in re.search(r'<input[^>]*name="confirm"[^>]*>', page).group(0)


def test_consent_keeps_the_exact_words_shown_their_hash_wording_version_and_method(db, student, student_browser):
    page = review(student_browser)
    resp = confirm(student_browser, page)
    assert resp.status_code == 302
    c = db.session.scalars(select(Consent)).one()
    shown = html.unescape(re.search(r'<blockquote class="pre-wrap" id="consent-statement">(.*?)</blockquote>', page, re.S).group(1))
    assert c.shown_text == shown
    assert c.wording_sha256 == consent_giving.sha256(shown) and c.wording_version == "1"
    assert c.collection_method == "portal" and c.typed_name == "Alex Fictional" and c.recorded_by_id is None
    assert c.scopes == ["summary"] and c.case_id is None and c.student_id == student.id


def test_unticked_confirmation_gives_no_consent(db, student_browser):
    resp = confirm(student_browser, review(student_browser), tick=False)
    assert resp.status_code == 200
    assert "Tick the box to confirm" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Consent)).all() == []


def test_typed_name_is_required(db, student_browser):
    resp = confirm(student_browser, review(student_browser), name="  ")
    assert "Type your name to confirm" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Consent)).all() == []


def test_details_changed_after_the_review_are_not_accepted(db, student_browser):
    resp = confirm(student_browser, review(student_browser), recipient_name="Someone Else")
    assert resp.status_code == 200
    assert "changed after you reviewed them" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Consent)).all() == []


def test_expiry_is_limited_to_the_maximum(db, student_browser, app):
    too_late = add_months(service_today(), app.config["CONSENT_MAX_MONTHS"]) + timedelta(days=1)
    resp = student_browser.submit("/consents/new", details(expires_on=too_late.isoformat()))
    assert "at most" in resp.get_data(as_text=True)
    assert "Check what you are agreeing to" not in resp.get_data(as_text=True)


def test_missing_answers_are_explained_and_kept(student_browser):
    resp = student_browser.submit("/consents/new", details(recipient_name="", scopes=[]))
    page = resp.get_data(as_text=True)
    assert "Enter the name of the person" in page and "Choose at least one thing" in page
    assert "So they can support my extension request." in page


def test_consent_can_cover_one_case_only(db, student, student_browser):
    case = make_case(student)
    confirm(student_browser, review(student_browser, case_id=str(case.id)))
    c = db.session.scalars(select(Consent)).one()
    assert c.case_id == case.id and case.reference in c.shown_text


@pytest.mark.parametrize("sent", ["9" * 400, "²", "x", "-1", "0"])
def test_a_case_choice_that_is_none_of_theirs_is_refused_not_widened_to_all(db, student, student_browser, sent):
    """A case number no form offers (too long for the database, not a number, nobody's) asks the student to
    choose again: never a 500, and never read as "all my cases", which would give more than they chose."""
    make_case(student)
    resp = student_browser.submit("/consents/new", details(case_id=sent))
    assert resp.status_code == 200
    assert "Choose one of your cases, or all of them." in resp.get_data(as_text=True)
    assert db.session.scalars(select(Consent)).first() is None


def test_whole_journey_grant_see_it_used_withdraw_see_sharing_refused(db, student, officer, student_browser):
    confirm(student_browser, review(student_browser))
    c = db.session.scalars(select(Consent)).one()
    gate.record_disclosure(officer, student, "summary", TUTOR, what="Confirmed the extension request is genuine.",
                           method="email")
    history = html.unescape(student_browser.get("/consents/history").get_data(as_text=True))
    assert "Confirmed the extension request is genuine." in history and c.receipt_id in history

    resp = student_browser.submit(f"/consents/{c.id}/withdraw", page=f"/consents/{c.id}")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Consent, c.id).withdrawn_at is not None
    assert "withdrawn" in student_browser.get(f"/consents/{c.id}").get_data(as_text=True)
    try:
        gate.record_disclosure(officer, student, "summary", TUTOR, what="More detail", method="email")
    except ConsentRequired as exc:
        assert "withdrawn" in exc.message
    else:
        raise AssertionError("a withdrawn consent let something out")
    assert db.session.get(Consent, c.id) is not None  # history is never deleted


def test_another_students_consent_is_not_found(db, other_student, student_browser):
    theirs = give_consent(other_student, GP)
    page = student_browser.get(f"/consents/{theirs.id}")
    assert page.status_code == 404
    assert "We could not find that consent." in page.text  # the same words as for a consent that never was
    assert "We could not find that consent." in student_browser.get("/consents/999999").text
    assert student_browser.submit(f"/consents/{theirs.id}/withdraw", page="/consents").status_code == 404
    db.session.expire_all()
    assert db.session.get(Consent, theirs.id).withdrawn_at is None


def test_viewing_consents_and_history_is_audited(db, student, student_browser):
    student_browser.get("/consents")
    student_browser.get("/consents/history")
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.student_id == student.id)))
    assert {"consents.viewed", "disclosures.viewed"} <= actions


def test_nav_links_to_who_we_may_talk_to(student_browser):
    assert "Who we may talk to" in student_browser.get("/consents").get_data(as_text=True)


def test_a_confirmation_without_the_reviewed_words_is_refused(db, student_browser):
    page = review(student_browser)
    resp = confirm(student_browser, page, shown_sha256="")
    assert "changed after you reviewed them" in resp.get_data(as_text=True)
    assert db.session.scalars(select(Consent)).all() == []


KANTARA = {"version", "jurisdiction", "consentTimestamp", "collectionMethod", "consentReceiptID", "piiPrincipalId",
           "piiControllers", "policyUrl", "services", "sensitive", "spiCat"}
PURPOSE = {"purpose", "consentType", "piiCategory", "termination", "thirdPartyDisclosure", "thirdPartyName"}


def test_receipt_json_has_the_kantara_fields_and_the_withdrawal(db, student, student_browser):
    import json

    confirm(student_browser, review(student_browser))
    c = db.session.scalars(select(Consent)).one()
    data = json.loads(student_browser.get(f"/consents/{c.id}/receipt.json").get_data())
    assert KANTARA <= set(data) and data["consentReceiptID"] == c.receipt_id and data["piiPrincipalId"] == student.email
    purpose = data["services"][0]["purposes"][0]
    assert PURPOSE <= set(purpose) and purpose["thirdPartyName"] == f"{TUTOR.name}, {TUTOR.organisation}"
    assert purpose["consentType"] == "EXPLICIT" and data["consentStatus"] == "active" and data["withdrawalTimestamp"] is None
    student_browser.submit(f"/consents/{c.id}/withdraw", page=f"/consents/{c.id}")
    data = json.loads(student_browser.get(f"/consents/{c.id}/receipt.json").get_data())
    assert data["consentStatus"] == "withdrawn" and data["withdrawalTimestamp"] >= data["consentTimestamp"]


def test_receipt_pdf_carries_the_words_agreed_to(db, student, student_browser):
    from tests.support.pdf import text as pdf_text

    confirm(student_browser, review(student_browser))
    c = db.session.scalars(select(Consent)).one()
    resp = student_browser.get(f"/consents/{c.id}/receipt.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = " ".join(pdf_text(resp.get_data()).split())
    assert c.receipt_id in text and TUTOR.organisation in text and "Consent receipt" in text


def test_another_students_receipt_is_not_found(db, other_student, student_browser):
    theirs = give_consent(other_student)
    assert student_browser.get(f"/consents/{theirs.id}/receipt.json").status_code == 404
    assert student_browser.get(f"/consents/{theirs.id}/receipt.pdf").status_code == 404


def test_the_statement_names_the_chosen_documents_exactly(db, student, student_browser):
    from tests.factories_access import make_document

    case = make_case(student)
    doc = make_document(case, "Letter to your tutor", b"%PDF-1.4 letter", "application/pdf")
    page = html.unescape(review(student_browser, scopes=["documents"], document_ids=[str(doc.id)]))
    assert "these documents: Letter to your tutor" in page
    confirm(student_browser, review(student_browser, scopes=["documents"], document_ids=[str(doc.id)]))
    c = db.session.scalars(select(Consent)).one()
    assert c.document_ids == [doc.id] and "Letter to your tutor" in c.shown_text


def test_the_consent_pages_show_a_withdrawal_from_what_is_stored_not_only_from_a_one_off_notice(
        db, student, student_browser):
    """The notice after withdrawing is shown once; if its page is lost (a 503, a closed tab), the consent
    page and the list still say, from the stored record, that and when the consent was withdrawn. Here the
    withdrawal left no notice at all."""
    given = give_consent(student, GP)
    consent_giving.withdraw(student, student, given.id)
    db.session.commit()
    moment = student_history.format_moment(given.withdrawn_at)
    for _ in range(2):
        page = html.unescape(student_browser.get(f"/consents/{given.id}").get_data(as_text=True))
        assert f"You withdrew this consent on {moment}." in page
        assert "Withdraw consent" not in page
    listing = html.unescape(student_browser.get("/consents").get_data(as_text=True))
    assert f"withdrawn</span> on {moment}" in listing


def test_receipt_pdf_gives_each_detail_on_its_own_line_as_the_page_does(db, student, student_browser):
    from tests.support.pdf import text_lines

    confirm(student_browser, review(student_browser))
    c = db.session.scalars(select(Consent)).one()
    lines = text_lines(student_browser.get(f"/consents/{c.id}/receipt.pdf").get_data()).splitlines()
    for label in ("Status", "Given", "How", "Shared with", "Why", "What", "Cases", "Until", "Ends"):
        assert any(line.startswith(label + " ") or line == label for line in lines), (label, lines[:30])
    assert not any(line.startswith("Status") and "Given" in line for line in lines)  # not one run-on paragraph

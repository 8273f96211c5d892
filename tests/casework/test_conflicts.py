"""Conflicts of interest and the ethical wall (Advice Quality Standard): two students on opposite sides of one
matter are found as early as possible, advised by different advisers without either learning anything
about the other, and neither student can see, receive or time anything different because of it."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from flask import url_for
from sqlalchemy import select

from shared.casework import case_list, conflicts, reflective, wall
from shared.casework import record as case_record
from shared.casework.case_list import CaseFilters
from shared.casework.cases import InvalidAnswers
from shared.casework.documents import Upload
from shared.consent import breach
from shared.models import AuditEvent, Case, ConflictDecision, FileReview, PersonInvolved, utcnow
from shared.platform.errors import NotFound
from shared.platform.extensions import db
from shared.platform.mail import sent_messages
from shared.security.authz import ROLES_ATTR
from shared.subject_access import reading as sar_reading
from shared.subject_access.records import collect
from tests import factories
from tests.factories_access import make_request
from tests.factories_casework import PDF, intake_form, make_case
from tests.factories_conflicts import JORDAN, SAM, conflict_between, dispute, names_jordan
from tests.factories_consent import breach_decision, breach_proposal, give_consent
from tests.factories_reviews import draw, work_through
from tests.hostile import csrf_token
from tests.support.web import signed_in, without_form_keys

# ----------------------------------------------------------------------------------------------- finding it


def test_a_student_named_on_the_casework_form_is_found_as_a_possible_conflict(app, db):
    """Sam fills in the portal's form and names Jordan (another spelling of the name, the same college)."""
    jordan = factories.make_student(email="jordan.quillfeather@example.ac.uk")
    jordan_case = make_case(jordan, **JORDAN)
    sam = factories.make_student(email="sam.whitlocke@example.ac.uk")
    b = signed_in(app, sam, factories.PASSWORD, "portal")
    resp = b.submit("/ask", intake_form(full_name="Sam Whitlocke", college_code="girton", person1_name="Jordan Quillfeather",
                                        person1_relation="student", person1_college_code="newnham"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    sam_case = db.session.scalars(select(PersonInvolved)).one()
    found = conflict_between(jordan_case, db.session.get(type(jordan_case), sam_case.case_id))
    assert found is not None and found.matched_on == "name_college" and found.outcome is None


def test_a_person_named_by_email_is_found_whatever_the_spelling_of_the_address(db):
    jordan = factories.make_student(email="jordan.quillfeather@example.ac.uk")
    jordan_case = make_case(jordan, full_name="Jordan Q", college_code="newnham")
    sam = factories.make_student(email="sam.whitlocke@example.ac.uk")
    sam_case = make_case(sam, **SAM, people=[conflicts.PersonAnswers(
        name="J.", relation="student", email="Jordan.Quillfeather@EXAMPLE.ac.uk")])
    assert conflict_between(jordan_case, sam_case).matched_on == "email"


def test_a_new_case_is_checked_against_the_people_named_before(db):
    """Sam asked first and named Jordan; when Jordan opens a case later, the conflict is found then."""
    sam = factories.make_student(email="sam.whitlocke@example.ac.uk")
    sam_case = make_case(sam, **SAM, people=[names_jordan()])
    jordan = factories.make_student(email="jordan.quillfeather@example.ac.uk")
    jordan_case = make_case(jordan, **JORDAN)
    assert conflict_between(jordan_case, sam_case) is not None


def test_an_officer_adding_a_person_runs_the_check(db, officer):
    jordan = factories.make_student(email="jordan.quillfeather@example.ac.uk")
    jordan_case = make_case(jordan, **JORDAN)
    sam = factories.make_student(email="sam.whitlocke@example.ac.uk")
    sam_case = make_case(sam, **SAM)
    assert conflict_between(jordan_case, sam_case) is None
    conflicts.add_person(officer, sam_case.reference, names_jordan())
    assert conflict_between(jordan_case, sam_case) is not None


def test_people_who_are_not_students_of_the_service_raise_no_conflict(db):
    jordan = factories.make_student(email="jordan.quillfeather@example.ac.uk")
    make_case(jordan, **JORDAN)
    sam = factories.make_student(email="sam.whitlocke@example.ac.uk")
    make_case(sam, **SAM, people=[
        names_jordan(college_code="girton"),  # the same name at another college is someone else
        conflicts.PersonAnswers(name="Pat Landlordly", relation="landlord", organisation="Fictional Lettings"),
    ])
    assert db.session.scalars(select(conflicts.PossibleConflict)).all() == []


def test_the_people_on_the_form_are_checked_and_kept_as_typed(app, db, student):
    b = signed_in(app, student, factories.PASSWORD, "portal")
    resp = b.submit("/ask", intake_form(person1_name="Someone", person1_relation="", person2_email="not an address",
                                        person2_relation="landlord"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Choose how they are involved." in html
    assert "Enter their email address like name@example.ac.uk, or leave it blank." in html
    assert "Enter their name." in html  # person 2 has an email but no name
    assert 'value="Someone"' in html and 'value="not an address"' in html  # nothing typed is lost
    assert db.session.scalars(select(PersonInvolved)).all() == []


# ----------------------------------------------------------------------------------- who is told, and who not


def test_the_possible_conflict_goes_to_the_manager_and_the_two_cases_officers_only(app, db, manager):
    d = dispute()
    other = factories.make_staff(email="uninvolved@example.ac.uk", name="Cy Uninvolved")
    for staff, sees in ((manager, True), (d.jordan_adviser, True), (d.sam_adviser, True), (other, False)):
        b = signed_in(app, staff, factories.PASSWORD, "backoffice")
        html = b.get("/staff/").get_data(as_text=True)
        assert ("Possible conflicts of interest: decide before advising" in html) is sees, staff.name
        page = b.get(f"/staff/conflicts/{d.conflict.id}")
        assert page.status_code == (200 if sees else 404), staff.name


def _portal_pages(app, student) -> dict[str, str]:
    b = signed_in(app, student, factories.PASSWORD, "portal")
    refs = db.session.scalars(select(Case.reference).where(Case.student_id == student.id)).all()
    pages = {}
    for url in ["/cases", "/consents", "/consents/history", "/records", *[f"/cases/{r}" for r in refs]]:
        resp = b.get(url)
        assert resp.status_code == 200, url
        pages[url] = _masked(resp.get_data(as_text=True))
    return pages


def _masked(html: str) -> str:
    """A page without what differs from one view to the next (CSRF tokens, the nonce)."""
    html = without_form_keys(re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1"', html))
    html = re.sub(r'nonce="[^"]+"', 'nonce=""', html)
    return re.sub(r'<meta name="csrf-token" content="[^"]+"', '<meta name="csrf-token" content=""', html)


def test_being_named_changes_nothing_the_named_student_sees_receives_or_can_ask_for(app, db, manager):
    jordan = factories.make_student(email="jordan.quillfeather@example.ac.uk")
    jordan_case = make_case(jordan, **JORDAN)
    before_pages = _portal_pages(app, jordan)
    before_copy = collect(jordan.id)
    mail_before = [m["To"] for m in sent_messages()]
    sam = factories.make_student(email="sam.whitlocke@example.ac.uk")
    sam_case = make_case(sam, **SAM, people=[names_jordan()])
    found = conflict_between(jordan_case, sam_case)
    conflicts.decide(manager, found.id, conflicts.Decision(outcome="different_advisers", reason="Opposite sides."))
    assert _portal_pages(app, jordan) == before_pages
    assert collect(jordan.id) == before_copy
    assert [m["To"] for m in sent_messages()][:len(mail_before)] == mail_before
    assert jordan.email not in [m["To"] for m in sent_messages()][len(mail_before):]


def test_the_student_whose_form_finds_a_conflict_sees_and_receives_what_anyone_else_does(app, db):
    """Sam names Jordan (a conflict); Lee names someone unknown (none): the same pages and the same email."""
    jordan = factories.make_student(email="jordan.quillfeather@example.ac.uk")
    make_case(jordan, **JORDAN)
    seen = {}
    for email, person in (("sam.whitlocke@example.ac.uk", "Jordan Quillfeather"), ("lee.other@example.ac.uk", "Nobody Known")):
        student = factories.make_student(email=email)
        b = signed_in(app, student, factories.PASSWORD, "portal")
        start = len(sent_messages())
        resp = b.submit("/ask", intake_form(full_name="Same Name", person1_name=person, person1_relation="student",
                                            person1_college_code="newnham"))
        reference = resp.headers["Location"].split("/cases/")[1].split("/")[0]
        pages = [_masked(b.get(url).get_data(as_text=True)).replace(reference, "REF")
                 for url in (resp.headers["Location"], f"/cases/{reference}", "/cases")]
        mails = [(m["Subject"], m.get_content()) for m in sent_messages()[start:]]
        seen[email] = (resp.status_code, pages, mails)
    assert seen["sam.whitlocke@example.ac.uk"] == seen["lee.other@example.ac.uk"]
    assert len(db.session.scalars(select(conflicts.PossibleConflict)).all()) == 1


def test_the_people_a_student_named_are_in_their_copy_and_those_an_officer_added_are_not(db, officer):
    d_case = make_case(factories.make_student(), **SAM, people=[names_jordan(name="Jordan Quillfeather")])
    conflicts.add_person(officer, d_case.reference, conflicts.PersonAnswers(name="Dr Quentin Officeronly",
                                                                            relation="university_staff"))
    copy = collect(d_case.student_id)
    facts = [f.value for f in copy.cases[0].form.facts]
    assert any("Jordan Quillfeather (Another student, Newnham" in f for f in facts), facts
    assert not any("Officeronly" in f for f in facts)


# ---------------------------------------------------------------------------------------------- the decision


def test_a_decision_needs_a_reason_and_a_referral_needs_where_and_who(db, manager):
    d = dispute()
    with pytest.raises(InvalidAnswers) as exc:
        conflicts.decide(manager, d.conflict.id, conflicts.Decision(outcome="no_conflict", reason="   "))
    assert exc.value.errors == {"reason": "Enter the reason for the decision."}
    with pytest.raises(InvalidAnswers) as exc:
        conflicts.decide(manager, d.conflict.id, conflicts.Decision(outcome="refer_elsewhere", reason="Opposite sides."))
    assert set(exc.value.errors) == {"referred_to", "referred_reference"}
    assert db.session.get(conflicts.PossibleConflict, d.conflict.id).outcome is None


def test_every_decision_is_kept_and_audited(db, manager):
    d = dispute()
    conflicts.decide(d.jordan_adviser, d.conflict.id, conflicts.Decision(outcome="no_conflict",
                                                                         reason="Different houses, it seems."))
    conflicts.decide(manager, d.conflict.id, conflicts.Decision(outcome="different_advisers",
                                                                reason="The same house after all."))
    decisions = db.session.scalars(select(ConflictDecision).order_by(ConflictDecision.id)).all()
    assert [x.outcome for x in decisions] == ["no_conflict", "different_advisers"]
    assert decisions[0].reason == "Different houses, it seems."
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "conflict.decided")).all()
    assert [(e.actor_id, e.details["outcome"]) for e in events] == [
        (d.jordan_adviser.id, "no_conflict"), (manager.id, "different_advisers")]


def test_a_conflict_cannot_be_walled_while_one_adviser_holds_both_cases(db, manager):
    d = dispute()
    case_record.assign(manager, d.sam_case.reference, d.jordan_adviser.id)
    with pytest.raises(InvalidAnswers) as exc:
        conflicts.decide(manager, d.conflict.id, conflicts.Decision(outcome="different_advisers", reason="Opposite sides."))
    assert "different advisers" in exc.value.errors["outcome"]


def test_allocation_refuses_to_give_both_sides_to_one_adviser(db, manager):
    d = dispute(decide="different_advisers", manager=manager)
    with pytest.raises(InvalidAnswers) as exc:
        case_record.assign(manager, d.sam_case.reference, d.jordan_adviser.id)
    assert "other side of a recorded conflict" in exc.value.errors["officer_id"]
    assert db.session.get(Case, d.sam_case.id).assigned_to_id == d.sam_adviser.id


def test_no_conflict_puts_up_no_wall(db, manager):
    d = dispute(decide="no_conflict", manager=manager)
    assert wall.walled_case_ids(d.jordan_adviser) == frozenset()
    assert case_record.staff_case_page(d.jordan_adviser, d.sam_case.reference).case.id == d.sam_case.id


# --------------------------------------------------------------------------------------------- the wall


def test_walled_adviser_cannot_list_search_or_see_the_other_case_on_the_dashboard_or_agenda(db, manager):
    d = dispute(decide="different_advisers", manager=manager)
    reflective.flag_for_reflection(d.sam_adviser, d.sam_case.reference, "A hard one.")
    case_record.assign(manager, d.sam_case.reference, None)  # unassigned: on everyone's dashboard
    case_record.assign(manager, d.sam_case.reference, d.sam_adviser.id)
    adviser = d.jordan_adviser
    listed = {r.case.reference for r in case_list.list_cases(adviser, CaseFilters()).rows}
    assert d.jordan_case.reference in listed and d.sam_case.reference not in listed
    assert case_list.list_cases(adviser, CaseFilters(q="Whitlocke")).rows == []
    assert case_list.list_cases(adviser, CaseFilters(q=d.sam_case.reference)).total == 0
    board = case_list.dashboard(adviser)
    assert d.sam_case.id not in {r.case.id for rows in vars(board).values() for r in rows}
    assert [i.case.id for i in reflective.reflective_agenda(adviser)] == []
    assert [i.case.id for i in reflective.reflective_agenda(d.sam_adviser)] == [d.sam_case.id]
    # The other adviser is walled the same way, and someone on neither side is not walled at all.
    assert d.jordan_case.reference not in {r.case.reference for r in case_list.list_cases(d.sam_adviser, CaseFilters()).rows}
    other = factories.make_staff(email="uninvolved@example.ac.uk")
    assert {d.jordan_case.reference, d.sam_case.reference} <= {
        r.case.reference for r in case_list.list_cases(other, CaseFilters()).rows}


def test_walled_adviser_gets_not_found_on_every_route_that_would_show_the_other_case(app, db, manager):
    d = dispute(decide="different_advisers", manager=manager)
    sam_case = d.sam_case
    entry = case_record.add_entry(d.sam_adviser, sam_case.reference, "advice", utcnow(), "Advised on the deposit.")
    appointment = case_record.add_appointment(
        d.sam_adviser, sam_case.reference, day=utcnow().date() + timedelta(days=2), at=time(10),
        duration_minutes=30, mode="online", location="", private_room=False, officer_id=None)
    document = case_record.add_case_document(d.sam_adviser, sam_case.reference, Upload("letter.pdf", PDF))
    flag = reflective.flag_for_reflection(d.sam_adviser, sam_case.reference, "A hard one.")
    access_request = make_request(d.sam, case=sam_case)
    consent = give_consent(d.sam, case=sam_case)
    colleague = factories.make_staff(email="colleague@example.ac.uk", name="Cal Colleague")
    consultation = breach.request_consultation(d.sam_adviser, sam_case.reference, breach_proposal(colleague))
    breach.give_advice(colleague, consultation.id, "Go ahead.")
    record = breach.decide(d.sam_adviser, consultation.id, breach_decision())
    draw(manager, reviewer=colleague)
    review = db.session.scalars(select(FileReview).where(FileReview.case_id == sam_case.id)).one()
    work_through(colleague, review)
    about_the_other_case = {
        "reference": sam_case.reference, "entry_id": entry.id, "appointment_id": appointment.id,
        "document_id": document.id, "flag_id": flag.id, "consent_id": consent.id, "breach_id": record.id,
        "conflict_id": d.conflict.id, "review_id": review.id, "action_id": review.actions[0].id,
    }
    request_ids = {"backoffice.breach_request": consultation.id, "backoffice.breach_advise": consultation.id,
                   "backoffice.breach_decide": consultation.id}
    # Endpoints whose arguments name no case, student or record of one (accounts, lists, notices, tokens...).
    not_about_a_case = {"staff_id", "item_id", "notice_id", "incident_id", "session_id", "token", "action", "kind",
                        "enquiry_id", "redaction_id", "filename"}
    b = signed_in(app, d.jordan_adviser, factories.PASSWORD, "backoffice")
    token = csrf_token(app, b.client)
    checked, problems = [], []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("backoffice.") or not rule.arguments:
            continue
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, ROLES_ATTR, None)
        if allowed is not None and "officer" not in allowed:
            continue  # refused to every officer before any case is read
        args = {}
        for name in rule.arguments:
            if name == "request_id":
                args[name] = request_ids.get(rule.endpoint, access_request.id)
            elif name in about_the_other_case:
                args[name] = about_the_other_case[name]
        if set(rule.arguments) - set(args) - not_about_a_case:
            problems.append(f"{rule.endpoint}: no value for {set(rule.arguments) - set(args)}: add it to this test")
            continue
        if set(rule.arguments) - set(args):
            if rule.endpoint == "backoffice.access_redact":
                args.update(kind="message", item_id=1)
            else:
                continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **args)
        for method in sorted(rule.methods & {"GET", "POST"}):
            resp = b.client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            checked.append(rule.endpoint)
            if resp.status_code != 404:
                problems.append(f"{method} {url} ({rule.endpoint}) answered {resp.status_code}")
    assert not problems, "\n".join(problems)
    for endpoint in ("backoffice.case", "backoffice.case_add_entry", "backoffice.document", "backoffice.access_request",
                     "backoffice.breach_show", "backoffice.breach_request", "backoffice.reflective_discussed",
                     "backoffice.conflict", "backoffice.consent_sharing", "backoffice.review_show",
                     "backoffice.review_feedback"):
        assert endpoint in checked
    # Nothing was changed through the wall, and the same routes still answer the other side's own adviser.
    assert db.session.get(Case, sam_case.id).assigned_to_id == d.sam_adviser.id
    own = signed_in(app, d.sam_adviser, factories.PASSWORD, "backoffice")
    assert own.get(f"/staff/cases/{sam_case.reference}").status_code == 200
    assert own.get(f"/staff/access/{access_request.id}").status_code == 200


def test_an_attempt_through_the_wall_is_refused_as_not_found_and_audited(db, manager):
    d = dispute(decide="refer_elsewhere", manager=manager)
    with pytest.raises(NotFound):
        case_record.staff_case_page(d.jordan_adviser, d.sam_case.reference)
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "wall.refused")).one()
    assert (refused.actor_id, refused.case_id) == (d.jordan_adviser.id, d.sam_case.id)
    with pytest.raises(NotFound):  # the other student's access request holds the walled case
        sar_reading.view_request(d.jordan_adviser, make_request(d.sam).id)
    assert sar_reading.request_queue(d.jordan_adviser) == []
    assert sar_reading.near_deadline(d.jordan_adviser, within_days=40) == []  # nor on the dashboard
    assert len(sar_reading.near_deadline(d.sam_adviser, within_days=40)) == 1


def test_the_manager_sees_both_sides_and_the_record_says_it_was_across_the_wall(app, db, manager):
    d = dispute(decide="different_advisers", manager=manager)
    b = signed_in(app, manager, factories.PASSWORD, "backoffice")
    for case in (d.jordan_case, d.sam_case):
        html = b.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
        assert "Ethical wall." in html and "as the manager, to supervise both" in html
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.viewed",
                                                        AuditEvent.actor_id == manager.id)).all()
    assert len(views) == 2 and all(v.details.get("across_wall") is True for v in views)


def test_the_walled_adviser_sees_the_decision_on_their_own_case_but_not_the_other_side(app, db, manager):
    d = dispute(decide="different_advisers", manager=manager)
    b = signed_in(app, d.jordan_adviser, factories.PASSWORD, "backoffice")
    html = b.get(f"/staff/cases/{d.jordan_case.reference}").get_data(as_text=True)
    assert "Conflict of interest: Conflict: advise the two students with different advisers" in html
    assert "The other side is behind the ethical wall." in html
    assert d.sam_case.reference not in html and "Whitlocke" not in html


# --------------------------------------------------------------------------------------------- statistics


def test_the_statistics_count_conflicts_handled_and_publish_a_small_count_suppressed(app, db, manager):
    from shared.statistics import publication
    from shared.statistics import queries as statistics
    from shared.statistics.disclosure_control import SUPPRESSED_MARK, Policy

    d = dispute(decide="different_advisers", manager=manager)
    internal = statistics.conflicts_handled(statistics.Filters())
    assert dict(internal.rows)["Advised by different advisers"] == [1]
    assert dict(internal.rows)["No conflict found"] == [0]
    table = publication.protected_table(internal, Policy(threshold=10))
    published = {r["label"]: r["cells"][0] for r in table["rows"]}
    assert published["Advised by different advisers"] == SUPPRESSED_MARK  # one conflict could point at two students
    assert d.sam_case.reference not in str(table) and "Whitlocke" not in str(table)


def test_an_anonymised_case_keeps_no_one_it_named_and_matches_no_one_again(db, manager):
    from shared.lifecycle import retention

    d = dispute(decide="different_advisers", manager=manager)
    retention.anonymise_case(db.session.get(Case, d.sam_case.id), retention.placeholder_student())
    db.session.commit()
    person = db.session.scalars(select(PersonInvolved).where(PersonInvolved.case_id == d.sam_case.id)).one()
    assert (person.name, person.email_key, person.name_key) == ("", None, None)
    assert db.session.scalars(select(ConflictDecision)).one().reason == ""
    later = make_case(factories.make_student(email="jordan.again@example.ac.uk"), **JORDAN)
    assert conflict_between(later, d.sam_case) is None


def test_a_file_review_never_gives_a_reviewer_the_other_side_of_their_wall(db, manager):
    d = dispute(decide="different_advisers", manager=manager)
    draw(manager, reviewer=d.jordan_adviser, second_reviewer=manager)
    reviewed = set(db.session.scalars(select(FileReview.case_id).where(FileReview.reviewer_id == d.jordan_adviser.id)))
    assert d.sam_case.id not in reviewed

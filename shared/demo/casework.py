"""Fictional casework for the demo student (`flask --app wsgi seed-demo`). Every person and event is invented."""

from __future__ import annotations

import secrets
from datetime import time, timedelta

from shared.casework import cases as casework
from shared.casework import conflicts, intake, reflective
from shared.casework import record as case_record
from shared.casework.intake import IntakeAnswers
from shared.consent import breach
from shared.models import Staff, Student, utcnow
from shared.platform.extensions import db
from shared.platform.passwords import hash_password


def demo_casework(made: dict) -> None:
    student, officer, manager = made["student"], made["officer"], made["manager"]
    today = casework.today_local()
    appeal = intake.submit_case(student, IntakeAnswers(
        full_name="Alex Rivers", preferred_name="Alex", pronouns="they/them", college_code="wolfson",
        faculty="Department of Geography", course="MPhil Environmental Policy", year_of_study="Postgraduate, year 1",
        crsid="ar999", phone="07700 900123", safe_channels=["email", "text"], may_leave_message=False,
        contact_notes="Please do not call during lab hours (9 to 5 on weekdays).",
        area_code="appeals",
        what_happened="My examiners' report for the first-term essay was marked down for a late submission, "
                      "but I had an extension agreed by email with my supervisor because I was unwell.",
        outcome_wanted="The penalty removed and the essay marked as on time.",
        urgency="soon", deadline=today + timedelta(days=5), meeting_preference="online", private_room=False,
        accessibility_needs="Captions on video calls, please.",
    ))
    housing = intake.submit_case(student, IntakeAnswers(
        full_name="Alex Rivers", college_code="wolfson", faculty="Department of Geography",
        area_code="housing", what_happened="My landlord is keeping my deposit and says I damaged a carpet "
        "that was already worn when I moved in.", urgency="normal", meeting_preference="in_person",
        private_room=True, safe_channels=["email"],
    ))
    case_record.assign(officer, appeal.reference, officer.id)
    case_record.add_entry(officer, appeal.reference, "advice", utcnow() - timedelta(hours=2),
                       "Explained the appeal route and the evidence needed (the supervisor's email and a "
                       "medical note). Student will send both.")
    casework.staff_sends_message(officer, appeal.reference,
                                 "Hello Alex, thank you for your form. Could you send me the email in which "
                                 "your supervisor agreed the extension?")
    casework.student_sends_message(student, appeal.reference, "Thank you! I will find it tonight.")
    case_record.add_appointment(officer, appeal.reference, day=today + timedelta(days=2), at=time(14, 0),
                             duration_minutes=45, mode="online", location="Video link sent in a message",
                             private_room=False, officer_id=officer.id)
    reflective.flag_for_reflection(manager, appeal.reference, "A good example of extension evidence problems.")
    case_record.assign(manager, housing.reference, manager.id)
    case_record.change_status(manager, housing.reference, "waiting", "Asked the student for the tenancy inventory.")
    db.session.commit()
    # The breach procedure's first step, waiting for the manager's advice in their own session (fictional).
    breach.request_consultation(officer, housing.reference, breach.Proposal(
        ground="safety", situation="The student says the gas boiler in the shared house has been leaking and the "
        "landlord refuses to have it checked; two housemates have had headaches and dizziness this week.",
        achieves="The council can inspect the boiler before anyone in the house is harmed.",
        recipient_name="Private Sector Housing Team", recipient_organisation="Fictional City Council",
        consultee_ids=[manager.id]))


def demo_conflict(made: dict) -> None:
    """Two fictional housemates on opposite sides of one deposit dispute: Dana asks first, Eli later names
    Dana on the casework form, the check finds it, and the manager walls the two cases (the demo officer
    advises Dana; a colleague, who has no login in the demo, advises Eli)."""
    officer, manager = made["officer"], made["manager"]
    colleague = Staff(email="colleague.demo@example.ac.uk", name="Priya Demoworth", job_title="Welfare and Rights Officer",
                      role="officer", password_hash=hash_password(secrets.token_urlsafe(32)))
    db.session.add(colleague)
    dana = Student(email="dana.demo@example.ac.uk", password_hash=hash_password(secrets.token_urlsafe(32)),
                   email_confirmed_at=utcnow())
    eli = Student(email="eli.demo@example.ac.uk", password_hash=hash_password(secrets.token_urlsafe(32)),
                  email_confirmed_at=utcnow())
    db.session.add_all([dana, eli])
    db.session.commit()
    dana_case = intake.submit_case(dana, IntakeAnswers(
        full_name="Dana Fairweather", college_code="girton", faculty="Faculty of Law", area_code="housing",
        what_happened="My housemate has kept the whole house's deposit refund and will not pay my share.",
        urgency="normal", meeting_preference="online", safe_channels=["email"],
    ))
    case_record.assign(officer, dana_case.reference, officer.id)
    eli_case = intake.submit_case(eli, IntakeAnswers(
        full_name="Eli Brookmere", college_code="girton", faculty="Faculty of Music", area_code="housing",
        what_happened="A housemate says I owe them part of the deposit, but the landlord kept it for damage "
                      "they caused.", urgency="soon", meeting_preference="in_person", safe_channels=["email"],
        people=[conflicts.PersonAnswers(name="Dana Fairweather", relation="student", college_code="girton")],
    ))
    case_record.assign(manager, eli_case.reference, colleague.id)
    found = conflicts.conflict_between(dana_case, eli_case)
    conflicts.decide(manager, found.id, conflicts.Decision(
        outcome="different_advisers",
        reason="Both students are on opposite sides of one deposit dispute in the same house: advised by "
               "different advisers, neither told about the other."))

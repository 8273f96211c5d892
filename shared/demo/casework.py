"""Fictional casework for the demo student (`flask --app wsgi seed-demo`). Every person and event is invented."""

from __future__ import annotations

from datetime import time, timedelta

from shared.casework import cases as casework
from shared.casework import intake, reflective
from shared.casework import record as case_record
from shared.casework.intake import IntakeAnswers
from shared.consent import breach
from shared.models import utcnow
from shared.platform.extensions import db


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

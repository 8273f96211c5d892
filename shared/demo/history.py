"""The demo service's recent past (`flask --app wsgi seed-demo`): six months of closed, fictional cases.

Without a past the publishable report has nothing it may publish: the demo student's two cases are far
below the suppression threshold. These cases are spread over the six whole months before the one the demo
is seeded in, every month with enough cases opened and closed for the report to publish that period
(`period`), while small groups (rare areas of concern, most colleges, faculties typed by few) are still
suppressed. The current month holds only the demo student's cases, so a report reaching it is refused: the
demo shows all three behaviours. Every case is closed, so the officers' dashboards stay the small demo.

Written with bulk inserts (shared.demo.scale's helpers: ids given up front, text encrypted as the model would),
so seeding stays quick. Every person, college choice and story is invented; a fixed random seed makes the
same history each time, relative to the month it is seeded in.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select

from shared.audit import log as audit
from shared.casework.intake import next_reference
from shared.demo.scale import FIRST, LAST, Ids, encrypted_value, fix_sequences
from shared.models import (
    Case,
    CaseChange,
    CaseEntry,
    CaseEntryVersion,
    CaseStatus,
    EntryKind,
    ListItem,
    ListKind,
    Student,
    StudentProfile,
    utcnow,
)
from shared.platform.crypto import new_uid
from shared.platform.extensions import db
from shared.platform.passwords import hash_password
from shared.statistics.queries import labels, next_month

MONTHS = 6
CASES_PER_MONTH = (17, 24)  # each month's count is drawn from this range: never below the threshold of 10
STUDENTS = 60
SEED = 2024

# Weighted choices: a few common values, so some counts are large enough to publish, and a long tail of
# rare ones, which the report must suppress.
COLLEGES = {"wolfson": 6, "girton": 6, "homerton": 5, "trinity": 5, "churchill": 4, "*": 10}  # "*": any other
AREAS = {"housing": 8, "exams": 7, "appeals": 5, "money": 4, "health": 3, "complaints": 2, "intermission": 1,
         "fitness_to_study": 1, "harassment": 1, "relationships": 1, "other_welfare": 1}
FACULTIES = {"Law": 5, "Engineering": 5, "History": 4, "Natural Sciences": 4, "Clinical Medicine": 3,
             "Centre for Invented Languages": 1, "Land Economy": 1, "Music": 1}
YEARS = {"1st year": 4, "2nd year": 4, "3rd year": 3, "4th year": 1, "Masters": 2, "PhD": 2}
CONTACT = {"portal": 6, "email": 3, "drop_in": 2, "phone": 1, "referral": 1}
OUTCOMES = {"advice_given": 5, "resolved": 3, "partly_resolved": 2, "referred": 2, "not_resolved": 1,
            "withdrawn": 1}
OFFICER_SHARE = 0.65  # the rest were the manager's

# What the student wrote, and the advice recorded, by area of concern: invented, and about no one.
STORIES = {
    "housing": ("My landlord has not returned my deposit and says the flat needed cleaning.",
                "Explained the deposit protection scheme and how to ask for the deposit back in writing."),
    "exams": ("I was ill during my exams and do not know whether to apply for an allowance.",
              "Went through the examination allowance process and the medical evidence it needs."),
    "appeals": ("My mark was lowered for a late submission although my extension had been agreed.",
                "Explained the grounds for an appeal and the evidence the panel will want to see."),
    "money": ("My funding has been delayed and I cannot pay this term's rent.",
              "Signposted to the hardship fund and helped the student plan the application."),
    "health": ("I am finding it hard to keep up with work while waiting for treatment.",
               "Discussed adjustments the department could make and how to ask for them."),
    "complaints": ("A supervision was cancelled repeatedly and I would like to complain.",
                   "Explained the complaints procedure and the early resolution stage."),
    "intermission": ("I am thinking about taking a year out and want to know what happens to my funding.",
                     "Explained how intermission works and who to speak to about funding."),
    "fitness_to_study": ("My college has asked me to a fitness to study meeting and I am worried.",
                         "Explained the procedure and offered to attend the meeting with the student."),
    "harassment": ("I have been receiving unwanted messages from someone on my course.",
                   "Talked through the reporting options and the support available meanwhile."),
    "relationships": ("A falling-out with my housemates is making it hard to stay in the house.",
                      "Discussed mediation through the college and the student's housing options."),
    "other_welfare": ("I am not sure where to go for help with a visa question.",
                      "Signposted to the international student team and explained what to bring."),
}
CLOSING_NOTE = "Nothing further needed from the Advice Service."


def period(today: date) -> tuple[date, date]:
    """The first and last months of the history (first days): the six whole months before `today`'s."""
    last = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    first = last
    for _ in range(MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, last


def _months(first: date, count: int) -> list[date]:
    months = [first]
    while len(months) < count:
        months.append(next_month(months[-1]))
    return months


def _pick(rng: random.Random, weights: dict[str, int], others: list[str] = ()) -> str:
    """A weighted choice; "*" stands for any one of `others`."""
    choice = rng.choices(list(weights), weights=list(weights.values()))[0]
    return rng.choice(others) if choice == "*" else choice


def _students(rng: random.Random, ids: Ids, rows: dict, colleges: list[str], since: datetime) -> list[dict]:
    password_hash = hash_password(secrets.token_urlsafe(24))  # nobody signs in as these students
    others = [c for c in colleges if c not in COLLEGES]
    people = []
    for n in range(STUDENTS):
        student_id = ids.take(Student)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        person = {"id": student_id, "name": f"{first} {last}", "college": _pick(rng, COLLEGES, others),
                  "faculty": _pick(rng, FACULTIES), "year": _pick(rng, YEARS)}
        registered = since - timedelta(days=rng.randint(1, 300))
        rows[Student].append({"id": student_id, "email": f"{first}.{last}.{n + 1}@example.ac.uk".lower(),
                              "password_hash": password_hash, "email_confirmed_at": registered,
                              "created_at": registered})
        rows[StudentProfile].append({
            "id": ids.take(StudentProfile), "uid": new_uid(), "student_id": student_id, "full_name": person["name"],
            "college_code": person["college"], "faculty": person["faculty"], "course": person["faculty"],
            "year_of_study": person["year"], "crsid": f"{first[0]}{last[0]}{700 + n}".lower(),
            "safe_channels": "email", "may_leave_message": False, "updated_at": registered,
        })
        people.append(person)
    return people


def _case(rng: random.Random, ids: Ids, rows: dict, events: list, person: dict, opened: datetime,
          officer_id: int) -> None:
    area = _pick(rng, AREAS)
    what_happened, advice = STORIES[area]
    responded = opened + timedelta(hours=rng.randint(2, 40))
    closed = opened + timedelta(days=2, hours=rng.randint(0, 6 * 24))  # the same month: opened by the 20th
    outcome = _pick(rng, OUTCOMES)
    case_id, case_uid = ids.take(Case), new_uid()
    rows[Case].append({
        "id": case_id, "uid": case_uid, "reference": next_reference(opened.year), "student_id": person["id"],
        "status": CaseStatus.CLOSED.value, "area_code": area, "college_code": person["college"],
        "faculty": person["faculty"], "year_of_study": person["year"], "contact_method": _pick(rng, CONTACT),
        "urgency": rng.choice(["normal", "normal", "soon"]), "deadline": None,
        "meeting_preference": rng.choice(["in_person", "online", None]), "private_room": False,
        "what_happened_enc": encrypted_value("cases", "what_happened", case_uid, what_happened),
        "outcome_wanted_enc": None, "accessibility_enc": None, "assigned_to_id": officer_id,
        "opened_at": opened, "first_response_at": responded, "closed_at": closed, "outcome_code": outcome,
        "anonymised_at": None, "awaiting_reply_since": None,
    })
    entry_id, version_uid = ids.take(CaseEntry), new_uid()
    rows[CaseEntry].append({"id": entry_id, "case_id": case_id, "kind": EntryKind.ADVICE.value,
                            "occurred_at": responded, "author_id": officer_id, "created_at": responded,
                            "current_version": 1})
    rows[CaseEntryVersion].append({
        "id": ids.take(CaseEntryVersion), "uid": version_uid, "entry_id": entry_id, "version": 1,
        "text_enc": encrypted_value("case_entry_versions", "text", version_uid, advice), "reason_enc": None,
        "edited_by_id": officer_id, "edited_at": responded,
    })
    closing_uid = new_uid()
    rows[CaseChange] += [
        {"id": ids.take(CaseChange), "uid": new_uid(), "case_id": case_id, "kind": "assigned", "old_value": None,
         "new_value": str(officer_id), "reason_enc": None, "changed_by_id": officer_id, "changed_at": responded},
        {"id": ids.take(CaseChange), "uid": closing_uid, "case_id": case_id, "kind": "status",
         "old_value": CaseStatus.OPEN.value, "new_value": CaseStatus.CLOSED.value,
         "reason_enc": encrypted_value("case_changes", "reason", closing_uid, CLOSING_NOTE),
         "changed_by_id": officer_id, "changed_at": closed},
    ]
    subject = {"subject": ("cases", case_id), "student_id": person["id"], "case_id": case_id}
    events += [
        {"action": "case.submitted", "at": opened, "actor": ("student", person["id"]), **subject},
        {"action": "case.closed", "at": closed, "actor": ("staff", officer_id), "details": {"outcome": outcome},
         **subject},
    ]


# The demo's faculty and year lists: the publishable report names only these. The one faculty left out is
# counted under Other there, as anything a student types that is not in the list would be.
LISTED_FACULTIES = [f for f in FACULTIES if f != "Centre for Invented Languages"]


def _demo_lists() -> None:
    for kind, names in ((ListKind.FACULTY, LISTED_FACULTIES), (ListKind.YEAR_OF_STUDY, list(YEARS))):
        if db.session.scalar(select(ListItem.id).where(ListItem.kind == kind.value).limit(1)) is None:
            db.session.add_all(ListItem(kind=kind.value, code=name.lower().replace(" ", "_"), label=name, position=i)
                               for i, name in enumerate(names, start=1))
    db.session.flush()


def demo_history(made: dict) -> None:
    """Six months of closed cases before this one, handled by the demo officer and manager."""
    _demo_lists()
    rng = random.Random(SEED)
    first, _ = period(utcnow().date())
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    ids = Ids()
    rows: dict = {model: [] for model in (Student, StudentProfile, Case, CaseEntry, CaseEntryVersion, CaseChange)}
    events: list[dict] = []
    people = _students(rng, ids, rows, [code for code, _ in labels(ListKind.COLLEGE)], start)
    officer_id, manager_id = made["officer"].id, made["manager"].id
    for month in _months(first, MONTHS):
        opened_days = sorted(rng.randint(1, 20) for _ in range(rng.randint(*CASES_PER_MONTH)))
        for day in opened_days:
            opened = datetime(month.year, month.month, day, rng.randint(8, 17), rng.randint(0, 59), tzinfo=UTC)
            handler = officer_id if rng.random() < OFFICER_SHARE else manager_id
            _case(rng, ids, rows, events, rng.choice(people), opened, handler)
    for model, batch in rows.items():  # dict order is foreign-key order
        db.session.execute(insert(model.__table__), batch)
    audit.append_many(events)
    db.session.commit()
    fix_sequences(list(rows))

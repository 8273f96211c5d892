"""A month the publishable report may publish, for the live server: a few fictional students with fifteen cases,
all opened in one past month, made through the casework service as if each had sent the form.

The demo seed has its own six months of cases (shared/demo/history.py), written in bulk; these fifteen go
through the form's own service and are known one by one, so the journey knows exactly what must not appear.
Their month is the one before the demo's history, so the two never mix. LiveServer.start runs this once
(`python -m tests.browser.live_data`, with the server's environment) and reads back, as JSON, the month and
everything that identifies someone in it (names, CRSids, emails, references, typed text), which a journey
then looks for in the downloaded report. No journey writes cases into a past month, so whatever the journeys
do, and in whatever order, that month keeps exactly these cases.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

# (name, CRSid, college, faculty as typed, areas of their cases). A faculty typed for fewer than ten cases
# identifies its students, so the report must never name it; "Law" (ten cases) may be named.
PEOPLE = [
    ("Ottilie Fernsby", "of412", "girton", "Department of Fictional Cartography",
     ["housing", "housing", "housing", "money", "exams"]),
    ("Barnaby Quillon", "bq733", "trinity", "Law", ["housing", "housing", "exams", "exams", "appeals"]),
    ("Ines Marwood-Tey", "imt58", "girton", "Law", ["housing", "exams", "exams", "health", "housing"]),
]


def sample_month(today: date) -> date:
    """The first day of the month before the demo's history: in the past whatever the time zone, and empty."""
    from shared.demo.history import period

    return (period(today)[0] - timedelta(days=1)).replace(day=1)


def create() -> dict:
    from sqlalchemy import update

    from shared.casework import intake
    from shared.casework.intake import IntakeAnswers
    from shared.models import Case, Student, utcnow
    from shared.platform.extensions import db
    from shared.platform.passwords import hash_password

    month = sample_month(utcnow().date())
    identifiers: list[str] = []
    case_ids: list[int] = []
    for name, crsid, college, faculty, areas in PEOPLE:
        email = f"{crsid}@example.ac.uk"
        student = Student(email=email, password_hash=hash_password("a fictional passphrase"), email_confirmed_at=utcnow())
        db.session.add(student)
        db.session.commit()
        for n, area in enumerate(areas):
            what = f"{name} wrote about a problem with the flat at {n + 1} Fictional Lane."
            case = intake.submit_case(student, IntakeAnswers(
                full_name=name, crsid=crsid, college_code=college, faculty=faculty, year_of_study="2",
                area_code=area, what_happened=what, meeting_preference="online",
            ))
            case_ids.append(case.id)
            identifiers += [case.reference, what]
        identifiers += [name, crsid, email] + ([faculty] if faculty != "Law" else [])
    for i, case_id in enumerate(case_ids):
        opened = datetime(month.year, month.month, 3 + i, 11, tzinfo=UTC)
        db.session.execute(update(Case).where(Case.id == case_id).values(opened_at=opened))
    db.session.commit()
    return {"month": f"{month:%Y-%m}", "cases": len(case_ids), "identifiers": sorted(set(identifiers))}


def main() -> None:
    from wsgi import app

    with app.app_context():
        print(json.dumps(create()))


if __name__ == "__main__":
    main()

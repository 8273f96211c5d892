"""The demo service (`flask --app wsgi seed-demo`): fictional accounts, then each area's demo data, in an
explicit order (the older history first, so the demo student's own cases are the newest). Never in production."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from shared.audit import log as audit
from shared.demo.casework import demo_casework, demo_conflict
from shared.demo.history import demo_history
from shared.demo.reviews import demo_reviews
from shared.models import Staff, Student, utcnow
from shared.platform.errors import ServiceError
from shared.platform.extensions import db
from shared.platform.passwords import hash_password
from shared.security import mfa, staff_policy
from shared.subject_access import requests as access


def demo_access_request(made: dict) -> None:
    """The demo student has asked for a copy of everything, so the officers' queue is not empty."""
    access.request_copy(made["student"], note="Demo: I would like to see my records.")


# Each step is given the demo accounts by role; each commits its own work.
STEPS = (demo_access_request, demo_history, demo_casework, demo_conflict, demo_reviews)

DEMO_ACCOUNTS = {
    "student": {"email": "alex.student@example.ac.uk", "password": "demo student passphrase"},
    "officer": {
        "email": "sam.officer@example.ac.uk",
        "password": "demo officer passphrase",
        "name": "Sam Okafor",
        "job_title": "Student Advisor",
    },
    "manager": {
        "email": "jo.manager@example.ac.uk",
        "password": "demo manager passphrase",
        "name": "Jo Whitfield",
        "job_title": "Advice Service Manager",
    },
    "admin": {
        "email": "kim.admin@example.ac.uk",
        "password": "demo admin passphrase",
        "name": "Kim Adeyemi",
        "job_title": "Administrator",
    },
}

def seed_demo() -> dict:
    """Create the demo accounts and sample data once; later calls change nothing."""
    made = {}
    student = db.session.scalar(select(Student).where(Student.email == DEMO_ACCOUNTS["student"]["email"]))
    fresh = student is None
    if fresh:
        spec = DEMO_ACCOUNTS["student"]
        student = Student(email=spec["email"], password_hash=hash_password(spec["password"]), email_confirmed_at=utcnow())
        db.session.add(student)
        db.session.flush()
        audit.record("system", "demo.seeded", student, student_id=student.id)
    made["student"] = student
    for role in ("officer", "manager", "admin"):
        spec = DEMO_ACCOUNTS[role]
        staff = db.session.scalar(select(Staff).where(Staff.email == spec["email"]))
        if staff is None:
            staff = Staff(
                email=spec["email"],
                name=spec["name"],
                job_title=spec["job_title"],
                role=role,
                password_hash=hash_password(spec["password"]),
            )
            db.session.add(staff)
            db.session.flush()
            audit.record("system", "staff.created", staff, role=role)
        if not staff.mfa_enrolled:
            # Already enrolled, so the demo (and the browser tests) can compute codes from the printed secret.
            mfa.enrol_for_demo(staff, mfa.new_secret())
        staff_policy.record_for_seed(staff)
        made[role] = staff
    db.session.commit()
    if fresh:
        for step in STEPS:
            step(made)
            db.session.commit()
    return made


class NotADemoAccount(ServiceError):
    message = (
        "demo-mfa-code only shows codes for the demo staff accounts that seed-demo made "
        "(officer, manager, admin); everyone else uses their authenticator app."
    )


def demo_mfa_code(email: str) -> tuple[Staff, str, int]:
    """The two-factor code a demo staff account's authenticator would show now (the demo's stand-in for the
    app), and for how many seconds it is accepted. Refused outside the demo (production configuration) and
    for any account seed-demo did not make; each code shown is audited."""
    if not current_app.config["SEED_DEMO_ALLOWED"]:
        raise ServiceError("demo-mfa-code is not available in production mode: staff use their authenticator app.")
    demo_emails = {DEMO_ACCOUNTS[role]["email"] for role in ("officer", "manager", "admin")}
    wanted = (email or "").strip().lower()
    staff = db.session.scalar(select(Staff).where(Staff.email == wanted)) if wanted in demo_emails else None
    if staff is None:
        raise NotADemoAccount()
    if not staff.mfa_enrolled:
        raise ServiceError(f"{staff.email} has no authenticator set up: sign in and enrol with the QR code shown.")
    code, seconds = mfa.next_code(staff.totp_secret, staff.totp_last_step)
    audit.record("system", "mfa.demo_code_shown", staff)
    db.session.commit()
    return staff, code, seconds


def demo_logins(made: dict) -> dict:
    out = {}
    for role, account in made.items():
        entry = {"email": account.email, "password": DEMO_ACCOUNTS[role]["password"]}
        secret = getattr(account, "totp_secret", None)
        if secret:
            entry["totp_secret"] = secret
        out[role] = entry
    return out

"""Command-line tools: `flask --app wsgi <command>`."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from sqlalchemy import select

from shared import accounts, audit, lifecycle_cli, mfa, staff_policy
from shared.errors import ServiceError
from shared.extensions import db
from shared.models import Staff, Student, utcnow
from shared.passwords import hash_password

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

# Extra demo steps register here (casework, consent, ...); each is given the demo accounts by role.
DEMO_STEPS: list = []


def demo_step(func):
    DEMO_STEPS.append(func)
    return func


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
        for step in DEMO_STEPS:
            step(made)
            db.session.commit()
    return made


def demo_logins(made: dict) -> dict:
    out = {}
    for role, account in made.items():
        entry = {"email": account.email, "password": DEMO_ACCOUNTS[role]["password"]}
        secret = getattr(account, "totp_secret", None)
        if secret:
            entry["totp_secret"] = secret
        out[role] = entry
    return out


def init_app(app: Flask) -> None:
    from shared import scale  # its own module: the bulk benchmark seeder

    scale.init_app(app)

    @app.cli.command("seed-demo")
    @click.option("--json", "as_json", is_flag=True, help="Print the logins as JSON, keyed by role.")
    def seed_demo_command(as_json):
        """Create demo accounts and sample data (never in production)."""
        if not current_app.config["SEED_DEMO_ALLOWED"]:
            raise click.ClickException("seed-demo is not available in production mode.")
        logins = demo_logins(seed_demo())
        if as_json:
            click.echo(json.dumps(logins, indent=2))
            return
        click.echo("Demo logins (fictional people, for trying the service):")
        click.echo("  Student portal  http://127.0.0.1:5000/sign-in")
        click.echo("  Back office     http://127.0.0.1:5000/staff/sign-in")
        for role, entry in logins.items():
            extra = f"  TOTP secret: {entry['totp_secret']}" if "totp_secret" in entry else ""
            click.echo(f"  {role:<8} {entry['email']:<32} {entry['password']}{extra}")

    @app.cli.command("create-staff")
    @click.option("--email", prompt=True)
    @click.option("--name", prompt=True)
    @click.option("--job-title", prompt=True)
    @click.option("--role", type=click.Choice(["officer", "manager", "admin"]), prompt=True)
    @click.password_option()
    def create_staff_command(email, name, job_title, role, password):
        """Create a staff account (the only way before the admin pages exist)."""
        try:
            staff = accounts.create_staff(email=email, name=name, job_title=job_title, role=role, password=password)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Created {staff.role} {staff.email}.")

    @app.cli.group("jobs")
    def jobs_group():
        """Background jobs (rendering copies of records)."""

    @jobs_group.command("work")
    @click.option("--burst", is_flag=True, help="With Redis: stop when the queue is empty.")
    def jobs_work(burst):
        """Run the RQ worker when REDIS_URL is set; otherwise run every queued job and stop."""
        from shared import access, jobs

        jobs.work(burst=burst)
        discarded = access.discard_expired()
        click.echo(f"Jobs done; {discarded} expired cop{'y' if discarded == 1 else 'ies'} of records deleted.")
    lifecycle_cli.init_app(app)

    @app.cli.group("audit")
    def audit_group():
        """The audit log."""

    @audit_group.command("verify")
    def audit_verify():
        """Check the whole hash chain; prints OK or the first broken event."""
        result = audit.verify()
        click.echo(str(result))
        if not result.ok:
            sys.exit(1)

"""Command-line tools: `flask --app wsgi <command>`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
        url = current_app.config["SERVICE_URL"].rstrip("/")
        mail = Path(current_app.instance_path) / "mail"
        click.echo("Demo logins (fictional people, for trying the service):")
        click.echo(f"  Student portal  {url}/sign-in")
        click.echo(f"  Back office     {url}/staff/sign-in")
        for role, entry in logins.items():
            extra = f"  TOTP secret: {entry['totp_secret']}" if "totp_secret" in entry else ""
            click.echo(f"  {role:<8} {entry['email']:<32} {entry['password']}{extra}")
        click.echo("Staff sign-in asks for a 6-digit code after the password. In another terminal:")
        click.echo(f"  .venv/bin/flask --app wsgi demo-mfa-code {logins['officer']['email']}")
        click.echo(f"Emails are not sent: each is printed here and written to {mail}/ (.txt beside each .eml).")

    @app.cli.command("demo-mfa-code")
    @click.argument("email")
    def demo_mfa_code_command(email):
        """Print the current two-factor code of a demo staff account (never in production)."""
        try:
            staff, code, seconds = demo_mfa_code(email)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(code)
        click.echo(f"(the code for {staff.email}, accepted for about {seconds} more seconds, once)", err=True)

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

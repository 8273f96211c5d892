"""Command-line tools: `flask --app wsgi <command>`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app

from shared.audit import log as audit
from shared.cli import lifecycle as lifecycle_cli
from shared.demo import scale, seed
from shared.platform import mail
from shared.platform.errors import ServiceError
from shared.platform.once import run_once
from shared.security import accounts
from shared.subject_access import copies as sar_copies
from shared.subject_access import jobs


def init_app(app: Flask) -> None:
    scale.init_app(app)

    @app.cli.command("seed-demo")
    @click.option("--json", "as_json", is_flag=True, help="Print the logins as JSON, keyed by role.")
    def seed_demo_command(as_json):
        """Create demo accounts and sample data (never in production)."""
        if not current_app.config["SEED_DEMO_ALLOWED"]:
            raise click.ClickException("seed-demo is not available in production mode.")
        logins = seed.demo_logins(seed.seed_demo())
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
            staff, code, seconds = seed.demo_mfa_code(email)
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
        jobs.work(burst=burst)
        with run_once("discard expired copies") as mine:
            discarded = sar_copies.discard_expired() if mine else 0
        click.echo(f"Jobs done; {discarded} expired cop{'y' if discarded == 1 else 'ies'} of records deleted.")

    @app.cli.command("send-mail")
    def send_mail_command():
        """Deliver every email that is due: those waiting to be tried again, or left by a stopped process."""
        mail.deliver_due()
        retrying, given_up = mail.waiting()
        click.echo(f"Emails due delivered; {retrying} waiting to be tried again, {given_up} given up (see the log).")

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

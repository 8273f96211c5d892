"""The commands in the README and docs/operations.md."""

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from shared.models import Case, CaseStatus, Staff, Student, utcnow


def test_seed_demo_prints_logins_and_is_idempotent(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--json"])
    assert first.exit_code == 0, first.output
    logins = json.loads(first.output)
    assert {"student", "officer", "manager", "admin"} <= set(logins)
    assert all(v["email"].endswith("@example.ac.uk") for v in logins.values())
    second = runner.invoke(args=["seed-demo", "--json"])
    assert json.loads(second.output)["student"]["email"] == logins["student"]["email"]
    assert db.session.query(Student).count() >= 1
    assert db.session.query(Staff).filter_by(role="admin").count() == 1


def test_seed_demo_text_output_names_every_role(app, db):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    for role in ("student", "officer", "manager", "admin"):
        assert role in result.output


def test_demo_logins_work(app, db):
    from tests.support.web import Browser

    logins = json.loads(app.test_cli_runner().invoke(args=["seed-demo", "--json"]).output)
    b = Browser(app.test_client())
    resp = b.submit("/sign-in", {"email": logins["student"]["email"], "password": logins["student"]["password"]})
    assert resp.status_code == 302


def test_the_demo_manager_can_publish_the_demo_history_and_small_cells_are_still_suppressed(app, db):
    """A person trying the demo sees the publishable report work: the demo's six past months may be published,
    as CSV and as PDF, and small counts in them are still hidden."""
    from shared.demo import history as demo_history
    from shared.demo.seed import seed_demo
    from shared.statistics import publication
    from shared.statistics.disclosure_control import SUPPRESSED_MARK
    from shared.statistics.queries import Filters

    manager, policy = seed_demo()["manager"], publication.policy()
    first, last = demo_history.period(utcnow().date())
    report = publication.export(manager, Filters(first, last), "csv", policy)
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    cells = [cell for row in rows if len(row) > 1 for cell in row[1:]]
    assert SUPPRESSED_MARK in cells
    assert any(cell.isdigit() and int(cell) >= policy.threshold for cell in cells)
    assert publication.export(manager, Filters(first, last), "pdf", policy).content.startswith(b"%PDF-")


def test_the_demo_history_leaves_the_current_month_to_the_demo_student(app, db):
    """The history is closed and in the past: the officers' work is still the demo student's few cases, and a
    report reaching this month is refused (too few cases in it), which the demo can show too."""
    from shared.demo.seed import seed_demo
    from shared.statistics import publication
    from shared.statistics.differencing import DisclosureRisk
    from shared.statistics.queries import Filters

    made = seed_demo()
    housemates = select(Student.id).where(Student.email.in_(("dana.demo@example.ac.uk", "eli.demo@example.ac.uk")))
    others_open = select(func.count(Case.id)).where(Case.student_id != made["student"].id,
                                                    Case.student_id.not_in(housemates),  # the walled pair's two cases
                                                    Case.status != CaseStatus.CLOSED.value)
    assert db.session.scalar(others_open) == 0
    with pytest.raises(DisclosureRisk, match="at the edge of the period"):
        publication.export(made["manager"], Filters(), "csv", publication.policy())


def test_create_staff_command(app, db):
    result = app.test_cli_runner().invoke(
        args=["create-staff", "--email", "new.officer@example.ac.uk", "--name", "Ari Newman",
              "--job-title", "Welfare and Rights Officer", "--role", "officer",
              "--password", "a long staff passphrase"],
    )
    assert result.exit_code == 0, result.output
    assert db.session.query(Staff).filter_by(email="new.officer@example.ac.uk").one().role == "officer"


def test_create_staff_refuses_a_weak_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["create-staff", "--email", "weak@example.ac.uk", "--name", "W", "--job-title", "T",
              "--role", "officer", "--password", "password"],
    )
    assert result.exit_code != 0 and "at least 12" in result.output


# --- the demo's two-factor codes: `flask --app wsgi demo-mfa-code EMAIL` -----------------------------


def test_demo_mfa_code_lets_the_demo_officer_sign_in_and_open_the_case_list(app, db):
    from shared.models import AuditEvent
    from tests.support.web import Browser

    runner = app.test_cli_runner()
    officer = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)["officer"]
    b = Browser(app.test_client())
    resp = b.submit("/staff/sign-in", {"email": officer["email"], "password": officer["password"]})
    assert resp.headers["Location"].endswith("/staff/sign-in/code")
    shown = runner.invoke(args=["demo-mfa-code", officer["email"]])
    assert shown.exit_code == 0, shown.output
    code = shown.stdout.strip()
    assert len(code) == 6 and code.isdigit()
    resp = b.submit("/staff/sign-in/code", {"code": code})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/")
    assert b.get("/staff/cases").status_code == 200
    staff = db.session.scalars(select(Staff).where(Staff.email == officer["email"])).one()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "mfa.demo_code_shown")).one()
    assert event.subject_id == str(staff.id)


def test_demo_mfa_code_refuses_accounts_seed_demo_did_not_make(app, db, officer, student):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo", "--json"])
    for email in (officer.email, student.email, "alex.student@example.ac.uk", "nobody@example.ac.uk"):
        result = runner.invoke(args=["demo-mfa-code", email])
        assert result.exit_code != 0 and "only shows codes for the demo staff accounts" in result.output, email
        assert not any(word.isdigit() and len(word) == 6 for word in result.output.split()), email


def test_demo_mfa_code_refuses_in_production(monkeypatch, tmp_path):
    """Run outside the tests' app context, so the command runs in the production app it is given."""
    from shared.demo.seed import DEMO_ACCOUNTS
    from shared.platform.crypto import generate_key
    from wsgi import create_app

    for key, value in {
        "APP_ENV": "production", "SECRET_KEY": "s" * 40, "AUDIT_HMAC_KEY": "a" * 40,
        "ENCRYPTION_KEYS": "k1:" + generate_key(), "DATABASE_URL": f"sqlite:///{tmp_path / 'advice.db'}",
        "ALLOW_SQLITE_IN_PRODUCTION": "1", "MAIL_SERVER": "smtp.example.ac.uk",
    }.items():
        monkeypatch.setenv(key, value)
    production = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert production.config["PRODUCTION"]
    result = production.test_cli_runner().invoke(args=["demo-mfa-code", DEMO_ACCOUNTS["officer"]["email"]])
    assert result.exit_code != 0 and "not available in production mode" in result.output
    assert not any(word.isdigit() and len(word) == 6 for word in result.output.split())

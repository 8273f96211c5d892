"""The commands in the README."""

import json

from shared.models import Staff, Student


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
    from tests.conftest import Browser

    logins = json.loads(app.test_cli_runner().invoke(args=["seed-demo", "--json"]).output)
    b = Browser(app.test_client())
    resp = b.submit("/sign-in", {"email": logins["student"]["email"], "password": logins["student"]["password"]})
    assert resp.status_code == 302


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

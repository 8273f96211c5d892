"""Every step of an account's life is on record (who did it, to whose account), and the rules on passwords and
links hold on every door: registration, reset, change of password and a new staff account alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shared.models import AuditEvent, LoginSession, Staff, Student
from shared.platform.errors import InvalidToken, ValidationFailed
from shared.platform.extensions import db
from shared.platform.passwords import WeakPassword
from shared.security import accounts, sessions
from tests import factories


@pytest.fixture(autouse=True)
def _in_a_request(ctx):
    """The emails these steps send build their links as a request would."""
    with ctx.test_request_context():
        yield


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _only(action: str) -> AuditEvent:
    (event,) = _events(action)
    return event


def _about(event: AuditEvent) -> tuple:
    return event.actor_kind, event.actor_id, event.subject_kind, event.subject_id, event.student_id


def _student(email: str) -> Student:
    return db.session.scalar(select(Student).where(Student.email == email))


# --- the record of each step -----------------------------------------------------------------------


def test_registration_is_recorded_against_the_new_account(ctx):
    accounts.register_student("Ada.Fictional@Example.ac.uk", factories.PASSWORD)
    student = _student("ada.fictional@example.ac.uk")
    assert student is not None and student.email_confirmed_at is None
    assert _about(_only("student.registered")) == ("anonymous", None, "students", str(student.id), student.id)


def test_a_repeated_registration_is_recorded_against_the_existing_account_and_changes_nothing(ctx):
    student = factories.make_student("kept@example.ac.uk")
    before = student.password_hash
    accounts.register_student("kept@example.ac.uk", "another long passphrase 77")
    db.session.refresh(student)
    assert student.password_hash == before
    assert _about(_only("student.register_repeated")) == ("anonymous", None, "students", str(student.id), student.id)
    assert _events("student.registered") == []


def test_confirming_an_address_is_recorded_by_its_owner(ctx):
    student = factories.make_student(confirmed=False)
    accounts.confirm_email(accounts.make_token("confirm", student))
    db.session.refresh(student)
    assert student.email_confirmed_at is not None
    assert _about(_only("student.email_confirmed")) == ("student", student.id, "students", str(student.id),
                                                        student.id)


def test_a_confirmation_link_made_for_a_staff_account_confirms_nothing(ctx):
    staff = factories.make_staff()
    with pytest.raises(InvalidToken):
        accounts.confirm_email(accounts.make_token("confirm", staff))
    assert _events("student.email_confirmed") == []


def test_a_reset_link_is_not_a_confirmation_link(ctx):
    student = factories.make_student(confirmed=False)
    with pytest.raises(InvalidToken):
        accounts.confirm_email(accounts.make_token("reset", student))
    db.session.refresh(student)
    assert student.email_confirmed_at is None


def test_a_reset_confirms_the_address_ends_every_session_and_is_recorded(ctx):
    student = factories.make_student(confirmed=False)
    open_one = sessions.start(student)
    db.session.commit()
    accounts.reset_password("student", accounts.make_token("reset", student), "a new long passphrase 31")
    db.session.refresh(student)
    db.session.refresh(open_one)
    assert student.email_confirmed_at is not None
    assert open_one.ended_at is not None and open_one.ended_reason == "password_reset"
    assert _about(_only("password.reset")) == ("student", student.id, "students", str(student.id), student.id)
    accounts.sign_in_student(student.email, "a new long passphrase 31")  # the new password works


def test_a_staff_reset_is_recorded_without_naming_a_student(ctx):
    staff = factories.make_staff()
    accounts.reset_password("staff", accounts.make_token("reset", staff), "a new long passphrase 31")
    assert _about(_only("password.reset")) == ("staff", staff.id, "staff", str(staff.id), None)


def test_a_staff_reset_link_does_not_reset_a_student_password(ctx):
    staff = factories.make_staff()
    with pytest.raises(InvalidToken):
        accounts.reset_password("student", accounts.make_token("reset", staff), "a new long passphrase 31")


def test_a_reset_link_works_once(ctx):
    student = factories.make_student()
    token = accounts.make_token("reset", student)
    accounts.reset_password("student", token, "a new long passphrase 31")
    with pytest.raises(InvalidToken):
        accounts.reset_password("student", token, "yet another passphrase 52")


def test_signing_out_ends_the_session_and_is_recorded(ctx):
    student = accounts.sign_in_student(factories.make_student().email, factories.PASSWORD)
    login_session = student.login_session
    accounts.sign_out(student)
    db.session.refresh(login_session)
    assert login_session.ended_reason == "signed_out"
    assert _about(_only("student.signed_out")) == ("student", student.id, "students", str(student.id), student.id)
    assert sessions.load(login_session.raw_token) is None


def test_staff_signing_out_is_recorded_as_staff(ctx):
    staff = factories.make_staff()
    sessions.start(staff)
    accounts.sign_out(staff)
    assert _about(_only("staff.signed_out")) == ("staff", staff.id, "staff", str(staff.id), None)
    assert db.session.scalar(select(LoginSession).where(LoginSession.staff_id == staff.id)).ended_at is not None


def test_changing_a_password_keeps_this_session_and_ends_the_others(ctx):
    student = factories.make_student()
    elsewhere = sessions.start(student)
    here = sessions.start(student)
    db.session.commit()
    accounts.change_password(student, factories.PASSWORD, "a new long passphrase 31")
    db.session.refresh(elsewhere)
    db.session.refresh(here)
    assert elsewhere.ended_reason == "password_changed" and here.ended_at is None
    assert _about(_only("password.changed")) == ("student", student.id, "students", str(student.id), student.id)


def test_a_session_after_enrolment_starts_only_once_enrolled(ctx):
    staff = factories.make_staff(mfa=False)
    with pytest.raises(InvalidToken):
        accounts.start_enrolled_session(staff)
    assert db.session.scalar(select(LoginSession).where(LoginSession.staff_id == staff.id)) is None
    enrolled = factories.make_staff()
    accounts.start_enrolled_session(enrolled, "Fictional Browser/1.0")
    event = _only("staff.signed_in")
    assert _about(event) == ("staff", enrolled.id, "staff", str(enrolled.id), None)
    assert event.details == {"method": "enrolment"}
    assert enrolled.login_session.user_agent == "Fictional Browser/1.0"


# --- a new staff account ---------------------------------------------------------------------------


def _new_staff(**overrides) -> Staff:
    fields = {"email": "New.Colleague@Example.ac.uk", "name": "  Morgan Invented  ", "job_title": " Student Advisor ",
              "role": "officer", "password": factories.PASSWORD}
    return accounts.create_staff(**(fields | overrides))


def test_a_new_staff_account_is_stored_tidily_and_recorded_with_who_made_it(ctx):
    admin = factories.make_staff("admin")
    staff = _new_staff(created_by=admin)
    assert (staff.email, staff.name, staff.job_title, staff.role) == (
        "new.colleague@example.ac.uk", "Morgan Invented", "Student Advisor", "officer")
    event = _only("staff.created")
    assert _about(event) == ("staff", admin.id, "staff", str(staff.id), None)
    assert event.details == {"role": "officer"}
    assert accounts.check_staff_password("new.colleague@example.ac.uk", factories.PASSWORD) == staff


@pytest.mark.parametrize("overrides,message", [
    ({"role": "superuser"}, "Role must be one of: "),
    ({"name": "   "}, "needs a name and a job title"),
    ({"job_title": ""}, "needs a name and a job title"),
])
def test_a_staff_account_needs_a_known_role_a_name_and_a_job_title(ctx, overrides, message):
    with pytest.raises(ValidationFailed) as refused:
        _new_staff(**overrides)
    assert message in refused.value.message
    assert db.session.scalar(select(Staff).where(Staff.email == "new.colleague@example.ac.uk")) is None
    assert _events("staff.created") == []


def test_the_role_message_lists_every_role(ctx):
    with pytest.raises(ValidationFailed) as refused:
        _new_staff(role="superuser")
    for role in ("officer", "manager", "admin"):
        assert role in refused.value.message


def test_two_staff_accounts_cannot_share_an_address(ctx):
    _new_staff()
    with pytest.raises(ValidationFailed) as refused:
        _new_staff(email="new.colleague@example.ac.uk", name="Someone Else")
    assert "already uses that email address" in refused.value.message


# --- no password contains its owner's address --------------------------------------------------------

OWN_ADDRESS = "hazel.madeup@example.ac.uk"
CONTAINS_IT = "my name is hazel.madeup really"


def test_registration_refuses_a_password_containing_the_address(ctx):
    with pytest.raises(WeakPassword, match="must not contain your email address"):
        accounts.register_student(OWN_ADDRESS, CONTAINS_IT)
    assert _student(OWN_ADDRESS) is None


def test_a_reset_refuses_a_password_containing_the_address(ctx):
    student = factories.make_student(OWN_ADDRESS)
    with pytest.raises(WeakPassword, match="must not contain your email address"):
        accounts.reset_password("student", accounts.make_token("reset", student), CONTAINS_IT)


def test_a_change_refuses_a_password_containing_the_address(ctx):
    student = factories.make_student(OWN_ADDRESS)
    with pytest.raises(WeakPassword, match="must not contain your email address"):
        accounts.change_password(student, factories.PASSWORD, CONTAINS_IT)


def test_a_new_staff_account_refuses_a_password_containing_the_address(ctx):
    with pytest.raises(WeakPassword, match="must not contain your email address"):
        _new_staff(email=OWN_ADDRESS, password=CONTAINS_IT)
    assert _events("staff.created") == []

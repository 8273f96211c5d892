"""Staff sign in with a second factor: a code from their authenticator app, accepted once and only inside a short
window, or a single-use recovery code. Enrolment, replacement and an administrator's reset are on record."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from shared.models import AuditEvent, RecoveryCode
from shared.platform.errors import ServiceError
from shared.platform.extensions import db
from shared.security import mfa, sessions
from tests import factories

SECRET = factories.TOTP_SECRET
NOW = 1_800_000_015.0  # a fixed moment, 15 s into its 30-second step
STEP = int(NOW // 30)


def _code(step: int, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- which codes count -----------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_a_code_from_one_step_either_side_of_now_is_accepted(offset):
    assert mfa.matching_step(SECRET, _code(STEP + offset), None, now=NOW) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_a_code_from_further_away_is_refused(offset):
    assert mfa.matching_step(SECRET, _code(STEP + offset), None, now=NOW) is None


def test_a_code_typed_with_spaces_or_a_dash_still_counts():
    code = _code(STEP)
    assert mfa.matching_step(SECRET, f" {code[:3]} {code[3:]} ", None, now=NOW) == STEP
    assert mfa.matching_step(SECRET, f"{code[:3]}-{code[3:]}", None, now=NOW) == STEP


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", None])
def test_anything_but_six_digits_is_refused(typed):
    assert mfa.matching_step(SECRET, typed, None, now=NOW) is None


def test_a_step_already_used_and_any_earlier_one_are_refused():
    assert mfa.matching_step(SECRET, _code(STEP), STEP, now=NOW) is None
    assert mfa.matching_step(SECRET, _code(STEP - 1), STEP, now=NOW) is None
    assert mfa.matching_step(SECRET, _code(STEP + 1), STEP, now=NOW) == STEP + 1


def test_the_code_for_another_secret_is_refused():
    other = pyotp.random_base32()
    assert mfa.matching_step(SECRET, _code(STEP, other), None, now=NOW) is None


def test_the_next_acceptable_code_is_now_or_just_after_the_last_used():
    assert mfa.next_code(SECRET, None, now=NOW) == (_code(STEP), 45)  # this step and the one after it
    assert mfa.next_code(SECRET, STEP - 5, now=NOW) == (_code(STEP), 45)
    assert mfa.next_code(SECRET, STEP, now=NOW) == (_code(STEP + 1), 75)
    code, _ = mfa.next_code(SECRET, STEP, now=NOW)
    assert mfa.matching_step(SECRET, code, STEP, now=NOW) == STEP + 1


def test_no_code_is_offered_once_the_window_is_used_up():
    with pytest.raises(ServiceError, match="try again in 30 seconds"):
        mfa.next_code(SECRET, STEP + 1, now=NOW)


def test_the_secret_is_shown_in_groups_of_four():
    assert mfa.grouped("ABCDEFGHIJKLMNOPQR") == "ABCD EFGH IJKL MNOP QR"


def test_the_app_is_told_the_service_and_the_account(ctx):
    staff = factories.make_staff(email="sam.notreal@example.ac.uk")
    uri = mfa.provisioning_uri(staff, SECRET)
    assert uri.startswith("otpauth://totp/") and f"secret={SECRET}" in uri
    assert "issuer=Advice%20Service" in uri and "sam.notreal%40example.ac.uk" in uri
    assert mfa.qr_data_uri(uri).startswith("data:image/png;base64,")


# --- enrolment ----------------------------------------------------------------------------------------


def test_the_enrolment_secret_is_made_once_and_kept_until_confirmed(ctx):
    staff = factories.make_staff(mfa=False)
    secret = mfa.enrolment_secret(staff)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert mfa.enrolment_secret(staff) == secret
    assert _actions().count("mfa.enrolment_started") == 1
    assert not staff.mfa_enrolled


def test_an_enrolled_account_is_not_given_a_new_secret(ctx):
    staff = factories.make_staff()
    with pytest.raises(ServiceError, match="already set up"):
        mfa.enrolment_secret(staff)
    assert staff.totp_secret == SECRET


def test_enrolment_with_a_wrong_code_enrols_nothing_and_is_recorded(ctx):
    staff = factories.make_staff(mfa=False)
    secret = mfa.enrolment_secret(staff)
    with pytest.raises(mfa.InvalidCode):
        mfa.confirm_enrolment(staff, f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}")
    assert not staff.mfa_enrolled and mfa.recovery_codes_left(staff) == 0
    (failure,) = _events("mfa.failed")
    assert failure.details == {"stage": "enrolment"} and failure.actor_id == staff.id


def test_enrolment_with_the_apps_code_enrols_and_gives_ten_recovery_codes(ctx):
    staff = factories.make_staff(mfa=False)
    secret = mfa.enrolment_secret(staff)
    code = pyotp.TOTP(secret).now()
    codes = mfa.confirm_enrolment(staff, code)
    assert staff.mfa_enrolled and staff.totp_last_step is not None
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", c) for c in codes)
    assert mfa.recovery_codes_left(staff) == 10
    assert "mfa.enrolled" in _actions()
    with pytest.raises(mfa.InvalidCode):  # the code that confirmed enrolment does not also sign in
        mfa.check_second_factor(staff, code)


def test_recovery_codes_are_stored_only_as_hashes(ctx):
    staff = factories.make_staff(mfa=False)
    codes = mfa.confirm_enrolment(staff, pyotp.TOTP(mfa.enrolment_secret(staff)).now())
    stored = set(db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.staff_id == staff.id)))
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


# --- the second step of signing in ------------------------------------------------------------------


def test_a_fresh_code_signs_in_and_cannot_be_used_again(ctx):
    staff = factories.make_staff()
    code = pyotp.TOTP(SECRET).now()
    assert mfa.check_second_factor(staff, code) == "totp"
    with pytest.raises(mfa.InvalidCode):
        mfa.check_second_factor(staff, code)


def test_a_recovery_code_works_once_however_it_is_typed(ctx):
    staff = factories.make_staff()
    codes = mfa.regenerate_recovery_codes(staff, factories.PASSWORD)
    assert mfa.check_second_factor(staff, codes[0].lower().replace("-", " ")) == "recovery_code"
    assert mfa.recovery_codes_left(staff) == 9
    with pytest.raises(mfa.InvalidCode):
        mfa.check_second_factor(staff, codes[0])
    assert mfa.check_second_factor(staff, codes[1]) == "recovery_code"


def test_another_staff_members_recovery_code_does_not_sign_in(ctx):
    staff, colleague = factories.make_staff(), factories.make_staff()
    theirs = mfa.regenerate_recovery_codes(colleague, factories.PASSWORD)
    with pytest.raises(mfa.InvalidCode):
        mfa.check_second_factor(staff, theirs[0])
    assert mfa.recovery_codes_left(colleague) == 10


def _not_now() -> str:
    return f"{(int(pyotp.TOTP(SECRET).now()) + 1) % 1_000_000:06d}"


@pytest.mark.parametrize("typed", [_not_now, "ABCD-EFGH-IJKL-MNOP", "12345", ""])
def test_a_wrong_code_is_refused_and_recorded_as_a_failed_sign_in(ctx, typed):
    staff = factories.make_staff()
    mfa.regenerate_recovery_codes(staff, factories.PASSWORD)
    typed = typed() if callable(typed) else typed
    with pytest.raises(mfa.InvalidCode):
        mfa.check_second_factor(staff, typed)
    (failure,) = _events("mfa.failed")
    assert failure.details == {"stage": "sign_in"} and failure.subject_id == str(staff.id)


def test_an_account_not_enrolled_has_no_second_step(ctx):
    staff = factories.make_staff(mfa=False)
    staff.totp_secret = SECRET  # a secret that was never confirmed
    with pytest.raises(mfa.InvalidCode):
        mfa.check_second_factor(staff, pyotp.TOTP(SECRET).now())


# --- changes ----------------------------------------------------------------------------------------


def test_new_recovery_codes_need_the_password_and_replace_the_old_ones(ctx):
    staff = factories.make_staff()
    old = mfa.regenerate_recovery_codes(staff, factories.PASSWORD)
    with pytest.raises(mfa.WrongPassword):
        mfa.regenerate_recovery_codes(staff, "not the password at all")
    assert "reauth.failed" in _actions()
    new = mfa.regenerate_recovery_codes(staff, factories.PASSWORD)
    assert set(old).isdisjoint(new) and mfa.recovery_codes_left(staff) == 10
    assert _actions().count("mfa.recovery_codes_renewed") == 2
    with pytest.raises(mfa.InvalidCode):
        mfa.check_second_factor(staff, old[0])


def test_moving_to_a_new_app_needs_the_password_and_a_code_from_the_new_secret(ctx):
    staff = factories.make_staff()
    here, elsewhere = sessions.start(staff), sessions.start(staff)
    staff.login_session = here
    db.session.commit()
    old_codes = mfa.regenerate_recovery_codes(staff, factories.PASSWORD)
    new_secret = mfa.new_secret()
    with pytest.raises(mfa.WrongPassword):
        mfa.replace_authenticator(staff, "not the password at all", new_secret, pyotp.TOTP(new_secret).now())
    with pytest.raises(mfa.InvalidCode, match="did not match the new secret"):
        mfa.replace_authenticator(staff, factories.PASSWORD, new_secret, pyotp.TOTP(SECRET).now())
    assert staff.totp_secret == SECRET

    code = pyotp.TOTP(new_secret).now()
    codes = mfa.replace_authenticator(staff, factories.PASSWORD, new_secret, code)
    db.session.refresh(here)
    db.session.refresh(elsewhere)
    assert staff.totp_secret == new_secret and len(codes) == 10
    assert elsewhere.ended_reason == "mfa_changed" and here.ended_at is None
    assert "mfa.replaced" in _actions()
    with pytest.raises(mfa.InvalidCode):  # the code that proved the new app is used up
        mfa.check_second_factor(staff, code)
    with pytest.raises(mfa.InvalidCode):  # and the old recovery codes are gone
        mfa.check_second_factor(staff, old_codes[0])


def test_an_administrators_reset_clears_the_set_up_ends_sessions_and_is_recorded(ctx):
    admin, staff = factories.make_staff("admin"), factories.make_staff()
    open_one = sessions.start(staff)
    mfa.regenerate_recovery_codes(staff, factories.PASSWORD)
    mfa.reset_for(admin, staff)
    db.session.refresh(open_one)
    assert (staff.totp_secret, staff.totp_last_step, staff.mfa_enrolled) == (None, None, False)
    assert mfa.recovery_codes_left(staff) == 0
    assert open_one.ended_reason == "mfa_reset"
    (event,) = _events("mfa.reset")
    assert (event.actor_id, event.subject_id) == (admin.id, str(staff.id))
    assert mfa.enrolment_secret(staff) != SECRET  # they enrol afresh at their next sign-in

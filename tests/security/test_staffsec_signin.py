"""Staff sign-in: two factors, every time. Enrolment at the first sign-in, codes that work once, recovery
codes, rate limits, the confidentiality policy, and sessions that end when they should."""

import re
import time
from datetime import timedelta

import pyotp
import pytest

from shared.models import AuditEvent, LoginSession, PolicyAcceptance, RecoveryCode, Staff
from shared.platform.mail import sent_messages
from tests import factories
from tests.support.web import Browser, signed_in, totp_code


def _password_step(app, staff, password=factories.PASSWORD):
    b = Browser(app.test_client())
    resp = b.submit("/staff/sign-in", {"email": staff.email, "password": password})
    return b, resp


def _signed_in_sessions(db, staff):
    db.session.expire_all()
    return db.session.query(LoginSession).filter_by(staff_id=staff.id, ended_at=None).count()


def test_the_password_alone_does_not_sign_staff_in(app, db, officer):
    b, resp = _password_step(app, officer)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/sign-in/code")
    assert b.get("/staff/").status_code == 302  # still signed out
    assert _signed_in_sessions(db, officer) == 0
    page = b.get("/staff/sign-in/code").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page


def test_a_correct_code_completes_sign_in(app, db, officer):
    b, _ = _password_step(app, officer)
    resp = b.submit("/staff/sign-in/code", {"code": totp_code(officer)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/")
    assert b.get("/staff/").status_code == 200
    assert _signed_in_sessions(db, officer) == 1


def test_a_wrong_code_is_refused_and_recorded(app, db, officer):
    b, _ = _password_step(app, officer)
    resp = b.submit("/staff/sign-in/code", {"code": "000000"})
    assert resp.status_code == 200 and "did not work" in resp.get_data(as_text=True)
    assert b.get("/staff/").status_code == 302
    assert db.session.query(AuditEvent).filter_by(action="mfa.failed").count() == 1


def test_a_code_is_accepted_once_only(app, db, officer):
    code = totp_code(officer)
    first, _ = _password_step(app, officer)
    assert first.submit("/staff/sign-in/code", {"code": code}).status_code == 302
    # Someone who saw the code (over a shoulder, in a phishing page) tries it straight away.
    second, _ = _password_step(app, officer)
    resp = second.submit("/staff/sign-in/code", {"code": code})
    assert resp.status_code == 200 and "each code works once" in resp.get_data(as_text=True)
    assert second.get("/staff/").status_code == 302


def test_an_earlier_code_is_refused_after_a_later_one(app, db, officer):
    totp = pyotp.TOTP(factories.TOTP_SECRET)
    now = totp.timecode(time.time())
    first, _ = _password_step(app, officer)
    assert first.submit("/staff/sign-in/code", {"code": totp.generate_otp(now)}).status_code == 302
    second, _ = _password_step(app, officer)
    assert second.submit("/staff/sign-in/code", {"code": totp.generate_otp(now - 1)}).status_code == 200


def test_codes_outside_the_short_window_are_refused(app, officer):
    totp = pyotp.TOTP(factories.TOTP_SECRET)
    b, _ = _password_step(app, officer)
    old = totp.at(time.time() - 120)
    assert b.submit("/staff/sign-in/code", {"code": old}).status_code == 200
    future = totp.at(time.time() + 120)
    assert b.submit("/staff/sign-in/code", {"code": future}).status_code == 200


def test_first_sign_in_enrols_with_a_qr_code_and_the_secret_as_text(app, db):
    staff = factories.make_staff(email="new.colleague@example.ac.uk", mfa=False)
    b, resp = _password_step(app, staff)
    assert resp.headers["Location"].endswith("/staff/sign-in/enrol")
    page = b.get("/staff/sign-in/enrol").get_data(as_text=True)
    assert 'src="data:image/png;base64,' in page  # rendered on the server; the CSP allows data: images
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    db.session.expire_all()
    stored = db.session.get(Staff, staff.id)
    assert stored.totp_secret == secret and secret not in (stored._totp_secret_enc or "")  # encrypted at rest
    assert b.get("/staff/").status_code == 302  # not signed in while enrolling
    resp = b.submit("/staff/sign-in/enrol", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code>", resp.get_data(as_text=True))
    assert resp.status_code == 200 and len(codes) == 10 == len(set(codes))
    assert b.get("/staff/").status_code == 200
    # Only hashes are stored.
    stored_hashes = {r.code_hash for r in db.session.query(RecoveryCode).filter_by(staff_id=staff.id)}
    assert len(stored_hashes) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored_hashes)
    # From now on sign-in asks for the code, not for enrolment.
    _, resp = _password_step(app, staff)
    assert resp.headers["Location"].endswith("/staff/sign-in/code")


def test_enrolment_needs_a_correct_code(app, db):
    staff = factories.make_staff(email="new.colleague@example.ac.uk", mfa=False)
    b, _ = _password_step(app, staff)
    b.get("/staff/sign-in/enrol")
    resp = b.submit("/staff/sign-in/enrol", {"code": "123456"})
    assert resp.status_code == 200 and "did not work" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(Staff, staff.id).mfa_enrolled


def _enrol(app, db, staff):
    b, _ = _password_step(app, staff)
    page = b.get("/staff/sign-in/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    resp = b.submit("/staff/sign-in/enrol", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([A-Z2-7-]{19})</code>", resp.get_data(as_text=True))
    b.submit("/staff/sign-out", page="/staff/account")
    return secret, codes


def test_a_recovery_code_signs_in_once(app, db):
    staff = factories.make_staff(email="phone.lost@example.ac.uk", mfa=False)
    _, codes = _enrol(app, db, staff)
    b, _ = _password_step(app, staff)
    assert b.submit("/staff/sign-in/code", {"code": codes[0].lower()}).status_code == 302
    assert b.get("/staff/").status_code == 200
    again, _ = _password_step(app, staff)
    assert again.submit("/staff/sign-in/code", {"code": codes[0]}).status_code == 200
    assert db.session.query(RecoveryCode).filter(RecoveryCode.staff_id == staff.id,
                                                 RecoveryCode.used_at.is_not(None)).count() == 1


def test_the_code_step_does_not_outlive_a_few_minutes(app, officer):
    app.config["MFA_PENDING_SECONDS"] = 0
    try:
        b, _ = _password_step(app, officer)
        time.sleep(1.1)
        resp = b.client.get("/staff/sign-in/code")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/sign-in")
    finally:
        app.config["MFA_PENDING_SECONDS"] = 300


def test_the_code_step_is_rate_limited(make_limited_app, officer):
    limited = make_limited_app(RATELIMIT_MFA="3 per minute", RATELIMIT_LOGIN="50 per minute")
    b = Browser(limited.test_client())
    b.submit("/staff/sign-in", {"email": officer.email, "password": factories.PASSWORD})
    statuses = [b.submit("/staff/sign-in/code", {"code": "000000"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_a_password_reset_never_skips_the_second_factor(app, db, officer):
    b = Browser(app.test_client())
    b.submit("/staff/reset", {"email": officer.email})
    link = re.search(r"https?://[^/\s]+(/\S+)", sent_messages()[-1].get_content()).group(1)
    new = "a completely new passphrase 5"
    resp = b.submit(link, {"password": new, "confirm": new})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/sign-in")
    assert b.get("/staff/").status_code == 302
    resp = b.submit("/staff/sign-in", {"email": officer.email, "password": new})
    assert resp.headers["Location"].endswith("/staff/sign-in/code")
    assert b.get("/staff/").status_code == 302


def test_a_half_finished_sign_in_dies_with_a_password_change(app, db, officer):
    b, _ = _password_step(app, officer)
    other = signed_in(app, officer, factories.PASSWORD, "backoffice")
    new = "a completely new passphrase 5"
    assert other.submit("/staff/account", {"current": factories.PASSWORD, "password": new, "confirm": new}).status_code == 302
    resp = b.client.get("/staff/sign-in/code")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/sign-in")


def test_students_cannot_use_the_staff_code_step(app, student):
    b = Browser(app.test_client())
    b.submit("/staff/sign-in", {"email": student.email, "password": factories.PASSWORD})
    resp = b.client.get("/staff/sign-in/code")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/sign-in")


# --- the confidentiality policy ---------------------------------------------------------------------------


def test_staff_must_accept_the_policy_before_using_the_back_office(app, db):
    staff = factories.make_staff(email="fresh@example.ac.uk", policy=False)
    b = signed_in(app, staff, factories.PASSWORD, "backoffice")
    resp = b.get("/staff/")
    assert resp.status_code == 303 and "/staff/policy" in resp.headers["Location"]
    page = b.get("/staff/policy").get_data(as_text=True)
    assert "The only two exceptions" in page
    resp = b.submit("/staff/policy", {"version": app.config["STAFF_POLICY_VERSION"]})
    assert "Tick the box" in resp.get_data(as_text=True)
    resp = b.submit("/staff/policy?next=/staff/", {"version": app.config["STAFF_POLICY_VERSION"], "agree": "y"})
    assert resp.status_code == 302
    assert b.get("/staff/").status_code == 200
    row = db.session.query(PolicyAcceptance).filter_by(staff_id=staff.id).one()
    assert row.version == app.config["STAFF_POLICY_VERSION"] and row.accepted_at is not None


def test_a_new_policy_version_is_asked_for_again(app, db, officer_browser):
    assert officer_browser.get("/staff/").status_code == 200
    app.config["STAFF_POLICY_VERSION"] = "2099-1"
    try:
        assert officer_browser.get("/staff/").status_code == 303
        officer_browser.submit("/staff/policy", {"version": "2099-1", "agree": "y"})
        assert officer_browser.get("/staff/").status_code == 200
        versions = {r.version for r in db.session.query(PolicyAcceptance)}
        assert versions == {"2026-1", "2099-1"}
    finally:
        app.config["STAFF_POLICY_VERSION"] = "2026-1"


# --- sessions ------------------------------------------------------------------------------------------


def test_staff_idle_and_absolute_timeouts(app, db, officer_browser):
    row = db.session.query(LoginSession).one()
    row.last_seen_at = row.last_seen_at - timedelta(minutes=16)
    db.session.commit()
    assert officer_browser.get("/staff/").status_code == 302
    again = signed_in(app, officer_browser.account, factories.PASSWORD, "backoffice")
    row = db.session.query(LoginSession).filter_by(ended_at=None).one()
    row.created_at = row.created_at - timedelta(hours=8, minutes=1)
    db.session.commit()
    assert again.get("/staff/").status_code == 302
    reasons = {r.ended_reason for r in db.session.query(LoginSession)}
    assert reasons == {"timeout_idle", "timeout_absolute"}


def test_staff_see_and_end_their_other_sessions(app, db, officer):
    here = signed_in(app, officer, factories.PASSWORD, "backoffice")
    there = signed_in(app, officer, factories.PASSWORD, "backoffice")
    page = here.get("/staff/account/sessions").get_data(as_text=True)
    assert page.count("End this session") == 1 and "This browser" in page
    other_id = db.session.query(LoginSession).filter_by(staff_id=officer.id).order_by(LoginSession.id.desc()).first().id
    here.submit(f"/staff/account/sessions/{other_id}/end", page="/staff/account/sessions")
    assert there.get("/staff/").status_code == 302
    assert here.get("/staff/").status_code == 200


def test_staff_cannot_end_someone_elses_session(app, db, officer_browser, manager_browser):
    manager_session = db.session.query(LoginSession).filter_by(staff_id=manager_browser.account.id).one()
    officer_browser.submit(f"/staff/account/sessions/{manager_session.id}/end", page="/staff/account/sessions")
    assert manager_browser.get("/staff/").status_code == 200


def test_deactivating_an_account_ends_its_sessions_at_once(app, db, officer_browser, admin_browser):
    officer = officer_browser.account
    resp = admin_browser.submit(f"/staff/admin/staff/{officer.id}/deactivate", page=f"/staff/admin/staff/{officer.id}")
    assert resp.status_code == 302
    assert officer_browser.get("/staff/").status_code == 302
    assert db.session.query(LoginSession).filter_by(staff_id=officer.id, ended_at=None).count() == 0
    # and it cannot sign in again; the row is kept (never deleted)
    _, resp = _password_step(app, officer)
    assert resp.status_code == 200
    assert db.session.get(Staff, officer.id).active is False


def test_changing_email_asks_for_the_password(app, db, officer_browser):
    old = officer_browser.account.email
    resp = officer_browser.submit("/staff/account/email", {"email": "new.address@example.ac.uk", "password": "wrong one"})
    assert resp.status_code == 200 and "password is not correct" in resp.get_data(as_text=True)
    resp = officer_browser.submit("/staff/account/email", {"email": "new.address@example.ac.uk",
                                                          "password": factories.PASSWORD})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Staff, officer_browser.account.id).email == old  # not until the new inbox confirms
    link = sent_messages()[-1]
    assert link["To"] == "new.address@example.ac.uk"
    confirm = re.search(r"https?://\S+(/staff/account/email/confirm/\S+)", link.get_content()).group(1)
    page = officer_browser.get(confirm).get_data(as_text=True)
    assert "new.address@example.ac.uk" in page
    assert officer_browser.submit(confirm).status_code == 302
    db.session.expire_all()
    assert db.session.get(Staff, officer_browser.account.id).email == "new.address@example.ac.uk"
    assert sent_messages()[-1]["To"] == old  # the old address is told
    # The link works once.
    again = officer_browser.submit(confirm, page="/staff/account/email", follow_redirects=True).get_data(as_text=True)
    assert "expired or has already been used" in again


def test_a_change_of_email_link_works_only_for_the_staff_member_who_asked(app, db, officer_browser, manager_browser):
    officer_browser.submit("/staff/account/email", {"email": "wanted.address@example.ac.uk",
                                                    "password": factories.PASSWORD})
    confirm = re.search(r"https?://\S+(/staff/account/email/confirm/\S+)", sent_messages()[-1].get_content()).group(1)
    page = manager_browser.submit(confirm, page="/staff/account/email", follow_redirects=True).get_data(as_text=True)
    assert "expired or has already been used" in page
    db.session.expire_all()
    assert db.session.get(Staff, manager_browser.account.id).email != "wanted.address@example.ac.uk"
    assert db.session.get(Staff, officer_browser.account.id).email != "wanted.address@example.ac.uk"


def test_moving_to_a_new_authenticator_asks_for_the_password_and_a_new_code(app, db, officer_browser):
    page = officer_browser.get("/staff/account/two-factor").get_data(as_text=True)
    new_secret = re.search(r'class="secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    code = pyotp.TOTP(new_secret).now()
    resp = officer_browser.submit("/staff/account/two-factor", {"password": "wrong", "code": code})
    assert "password is not correct" in resp.get_data(as_text=True)
    resp = officer_browser.submit("/staff/account/two-factor", {"password": factories.PASSWORD, "code": code})
    assert resp.status_code == 200 and "recovery codes" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Staff, officer_browser.account.id).totp_secret == new_secret


def test_an_administrator_resets_a_colleagues_mfa_and_it_is_audited(app, db, officer_browser, admin_browser):
    officer = officer_browser.account
    admin_browser.submit(f"/staff/admin/staff/{officer.id}/reset-mfa", page=f"/staff/admin/staff/{officer.id}")
    db.session.expire_all()
    assert not db.session.get(Staff, officer.id).mfa_enrolled
    assert officer_browser.get("/staff/").status_code == 302
    event = db.session.query(AuditEvent).filter_by(action="mfa.reset").one()
    assert event.actor_id == admin_browser.account.id and event.subject_id == str(officer.id)
    _, resp = _password_step(app, officer)
    assert resp.headers["Location"].endswith("/staff/sign-in/enrol")


@pytest.mark.parametrize("kind", ["officer"])
def test_seed_demo_staff_are_enrolled_and_print_their_secret(app, kind):
    import json

    runner = app.test_cli_runner()
    out = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    assert len(out[kind]["totp_secret"]) >= 16 and "totp_secret" not in out["student"]
    text = runner.invoke(args=["seed-demo"]).output
    assert f"TOTP secret: {out[kind]['totp_secret']}" in text

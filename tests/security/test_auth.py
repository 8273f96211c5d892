"""Accounts: registration, sign-in and reset never reveal whether a student uses the service."""

import re

import pytest

from shared.models import LoginSession
from shared.platform.mail import sent_messages
from tests import factories


def _reset_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.get_content()).group(1)


def test_student_signs_in_and_sees_home(student_browser):
    resp = student_browser.get("/home")
    assert resp.status_code == 200
    assert "Welcome" in resp.get_data(as_text=True)


def test_registration_confirm_and_sign_in(browser, ctx):
    resp = browser.submit(
        "/register",
        {"email": "new.person@example.ac.uk", "password": factories.PASSWORD, "confirm": factories.PASSWORD},
    )
    assert resp.status_code == 200 and "Check your email" in resp.get_data(as_text=True)
    (message,) = sent_messages()
    assert message["To"] == "new.person@example.ac.uk"
    link = _reset_link(message)
    assert browser.get(link).status_code == 302
    resp = browser.submit("/sign-in", {"email": "new.person@example.ac.uk", "password": factories.PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/home")


@pytest.mark.parametrize(
    "password,message",
    [("short", "at least 12"), ("password1234", "too common"), ("aaaaaaaaaaaaaaaa", "too common")],
)
def test_weak_passwords_are_refused_with_a_reason(browser, password, message):
    resp = browser.submit(
        "/register", {"email": "weak@example.ac.uk", "password": password, "confirm": password}
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and message in body
    assert 'value="weak@example.ac.uk"' in body  # nothing typed is lost


def test_registration_needs_a_university_address(browser):
    resp = browser.submit(
        "/register",
        {"email": "someone@gmail.com", "password": factories.PASSWORD, "confirm": factories.PASSWORD},
    )
    assert "university email address" in resp.get_data(as_text=True)


def _normalise(html: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)


def test_registration_answers_identically_for_known_and_unknown_email(browser, student):
    answers = []
    for email in (student.email, "nobody.here@example.ac.uk"):
        resp = browser.submit(
            "/register", {"email": email, "password": factories.PASSWORD, "confirm": factories.PASSWORD}
        )
        answers.append((resp.status_code, _normalise(resp.get_data(as_text=True)).replace(email, "EMAIL")))
    assert answers[0] == answers[1]
    # Both addresses get an email; only the owner of the inbox learns the account exists.
    assert [m["To"] for m in sent_messages()] == [student.email, "nobody.here@example.ac.uk"]


def test_sign_in_answers_identically_for_wrong_password_and_unknown_email(browser, student):
    answers = []
    for email in (student.email, "nobody.here@example.ac.uk"):
        resp = browser.submit("/sign-in", {"email": email, "password": "wrong password entirely"})
        answers.append((resp.status_code, _normalise(resp.get_data(as_text=True)).replace(email, "EMAIL")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200


def test_password_reset_answers_identically_and_only_mails_real_accounts(browser, student):
    answers = []
    for email in (student.email, "nobody.here@example.ac.uk"):
        resp = browser.submit("/reset", {"email": email})
        answers.append((resp.status_code, _normalise(resp.get_data(as_text=True)).replace(email, "EMAIL")))
    assert answers[0] == answers[1]
    assert [m["To"] for m in sent_messages()] == [student.email]


def test_reset_link_sets_password_once_and_ends_sessions(app, student, student_browser, browser):
    browser.submit("/reset", {"email": student.email})
    link = _reset_link(sent_messages()[-1])
    new = "a brand new passphrase 77"
    resp = browser.submit(link, {"password": new, "confirm": new})
    assert resp.status_code == 302
    # The old session is over, and the link does not work twice.
    assert student_browser.get("/home").status_code == 302
    assert browser.get(link).status_code == 400
    assert browser.submit("/sign-in", {"email": student.email, "password": new}).status_code == 302


def test_sign_out_ends_the_session_on_the_server(app, student_browser):
    cookie = student_browser.client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    student_browser.submit("/sign-out", page="/home")
    assert student_browser.get("/home").status_code == 302
    # Replaying the old cookie in a fresh client gets nowhere either.
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert replay.get("/home").status_code == 302


def _replayed(app, cookie: str):
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return client


def test_a_session_cookie_changed_after_it_was_accepted_is_refused(app, student_browser):
    # The worker keeps each accepted cookie's contents: a forged variant of it must still be checked.
    cookie = student_browser.client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert _replayed(app, cookie).get("/home").status_code == 200
    payload, _, signature = cookie.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert _replayed(app, forged).get("/home").status_code == 302
    other_payload = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    assert _replayed(app, other_payload + "." + signature).get("/home").status_code == 302


def test_a_session_cookie_past_its_lifetime_is_refused_though_it_was_accepted_before(app, student_browser, monkeypatch):
    import time
    from datetime import timedelta

    cookie = student_browser.client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert _replayed(app, cookie).get("/home").status_code == 200
    monkeypatch.setattr(app, "permanent_session_lifetime", timedelta(minutes=10))
    later = time.time() + 11 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert _replayed(app, cookie).get("/home").status_code == 302


def test_an_old_session_cookie_replayed_does_not_carry_what_a_later_request_added(app, student_browser):
    # Each request works on its own copy of a kept session: a message added to it is not in the old cookie.
    name = app.config["SESSION_COOKIE_NAME"]
    old = student_browser.client.get_cookie(name).value
    assert _replayed(app, old).get("/ask").status_code == 200
    saved = student_browser.submit("/ask", {"action": "save", "summary": "A draft about my rent"})
    assert saved.status_code == 302
    assert "Your answers are saved" in student_browser.get("/ask").get_data(as_text=True)
    assert "Your answers are saved" not in _replayed(app, old).get("/ask").get_data(as_text=True)


def test_password_change_ends_other_sessions(app, student):
    from tests.support.web import signed_in

    first = signed_in(app, student, factories.PASSWORD, "portal")
    second = signed_in(app, student, factories.PASSWORD, "portal")
    new = "another fresh passphrase 9"
    resp = first.submit("/account", {"current": factories.PASSWORD, "password": new, "confirm": new})
    assert resp.status_code == 302
    assert first.get("/account").status_code == 200
    assert second.get("/account").status_code == 302


def test_session_is_renewed_at_sign_in(app, student, browser):
    browser.get("/sign-in")
    before = browser.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    browser.submit("/sign-in", {"email": student.email, "password": factories.PASSWORD})
    after = browser.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert before is None or before.value != after.value


def test_idle_student_session_times_out(app, student_browser, db):
    from datetime import timedelta

    session_row = db.session.query(LoginSession).one()
    session_row.last_seen_at = session_row.last_seen_at - timedelta(minutes=31)
    db.session.commit()
    assert student_browser.get("/home").status_code == 302


def test_staff_and_students_use_separate_doors(app, student, officer):
    from tests.support.web import Browser

    b = Browser(app.test_client())
    assert (
        b.submit("/staff/sign-in", {"email": student.email, "password": factories.PASSWORD}).status_code
        == 200
    )
    assert b.submit("/sign-in", {"email": officer.email, "password": factories.PASSWORD}).status_code == 200


def test_student_session_cannot_reach_staff_pages(student_browser):
    assert student_browser.get("/staff/").status_code == 302
    assert "/staff/sign-in" in student_browser.get("/staff/").headers["Location"]


def test_staff_session_is_not_a_student(officer_browser):
    assert officer_browser.get("/home").status_code == 302


def test_deactivated_staff_cannot_sign_in(app, ctx):
    from tests.support.web import Browser

    staff = factories.make_staff(active=False, email="gone@example.ac.uk")
    b = Browser(app.test_client())
    assert (
        b.submit("/staff/sign-in", {"email": staff.email, "password": factories.PASSWORD}).status_code == 200
    )


def test_next_cannot_redirect_off_site(app, student):
    from tests.support.web import Browser

    b = Browser(app.test_client())
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        resp = b.submit(f"/sign-in?next={target}", {"email": student.email, "password": factories.PASSWORD})
        assert resp.headers["Location"] == "/home"
        b.submit("/sign-out", page="/home")


def test_a_local_email_is_written_as_plain_text_with_its_link_printed_whole(app, browser, ctx, monkeypatch, caplog):
    """Locally emails land in instance/mail/: the .eml is quoted-printable (a long link is broken over
    lines there), so a .txt beside it holds the text as read, and the log prints each link on one line."""
    import logging
    from pathlib import Path

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "outbox")
    # the migrations' logging set-up (fileConfig) turns off loggers made before it, in the tests' process only
    monkeypatch.setattr(logging.getLogger("shared.platform.mail"), "disabled", False)
    folder = Path(app.instance_path) / "mail"
    before = set(folder.glob("*")) if folder.exists() else set()
    with caplog.at_level("WARNING", logger="shared.platform.mail"):
        browser.submit(
            "/register",
            {"email": "new.person@example.ac.uk", "password": factories.PASSWORD, "confirm": factories.PASSWORD},
        )
    link = re.search(r"https?://\S+", sent_messages()[-1].get_content()).group(0)
    assert "/confirm" in link and len(link) > 76  # longer than a quoted-printable line
    (txt,) = [p for p in set(folder.glob("*.txt")) - before]
    assert link in txt.read_text().split() and "Subject: Confirm your email address" in txt.read_text()
    assert txt.with_suffix(".eml").exists() and link not in txt.with_suffix(".eml").read_text()
    assert f"link: {link}" in caplog.text

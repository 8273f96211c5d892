"""Not confirming that a student uses the service (issue 18, items 1 and 7): every door that takes an email
address answers an attacker in exactly the same way, and in the same time, whatever the address is."""

from __future__ import annotations

import statistics
import time

import pytest

from tests import factories
from tests.support.web import Browser, csrf_from, without_form_keys


def _timed_ms(client, url: str, data: dict) -> float:
    started = time.perf_counter()
    resp = client.post(url, data=data)
    elapsed = (time.perf_counter() - started) * 1000
    assert resp.status_code == 200
    return elapsed


@pytest.mark.parametrize("door", ["/reset", "/staff/reset"])
def test_a_reset_for_an_unknown_address_takes_as_long_as_for_an_account(app, ctx, door):
    """The request's own work (what the mail thread does is the next test's). Before, only the known branch
    loaded the account as a model and built the message: about 25% longer, in medians."""
    known = (factories.make_student() if door == "/reset" else factories.make_staff()).email
    client = app.test_client()
    token = csrf_from(client.get(door).get_data(as_text=True))
    # A difference in the work shows in every measurement; a burst of load from elsewhere on the machine
    # shows in one. So up to three measurements, and the work is the same if one of them finds it so.
    measured = []
    for _attempt in range(3):
        times: dict[str, list[float]] = {known: [], "nobody.here@example.ac.uk": []}
        for round_ in range(55):
            for email in (list(times) if round_ % 2 else list(times)[::-1]):  # alternate, so drift hits both
                elapsed = _timed_ms(client, door, {"csrf_token": token, "email": email})
                if round_ >= 5:  # the first few warm caches up
                    times[email].append(elapsed)
        known_ms, unknown_ms = (statistics.median(t) for t in times.values())
        measured.append((round(known_ms, 2), round(unknown_ms, 2)))
        # Generous for a busy machine, yet under the difference the old known branch made.
        if abs(known_ms - unknown_ms) <= max(0.1 * min(known_ms, unknown_ms), 0.3):
            return
    pytest.fail(f"a reset takes longer for one kind of address: medians (known, unknown) ms {measured}")


def test_reset_mail_is_delivered_off_the_request(app, ctx, monkeypatch):
    """As deployed (jobs off the request), a slow mail server or disk does not make the answer for a known
    address slower: the email is queued, and arrives afterwards."""
    from shared.platform import mail

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "outbox")
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    delivered = []

    def slow_outbox_log(*args):
        time.sleep(0.5)
        delivered.append(args[1])

    monkeypatch.setattr(mail.log, "warning", slow_outbox_log)
    student = factories.make_student()
    b = Browser(app.test_client())
    started = time.perf_counter()
    resp = b.submit("/reset", {"email": student.email})
    assert resp.status_code == 200 and time.perf_counter() - started < 0.5
    deadline = time.monotonic() + 10
    while not delivered and time.monotonic() < deadline:
        time.sleep(0.05)
    assert delivered == [student.email]


# --- the same answer, whole, whatever the address ----------------------------------------------------------

WRONG = "a wrong password entirely"
KINDS = ["unknown", "unconfirmed", "confirmed", "staff", "deactivated staff", "erased"]


def _address_of_kind(kind: str, n: int) -> str:
    """An address of this kind (made here), and the password an attacker would try with it: for the
    unconfirmed account the right one, as when the attacker registered it in someone else's name."""
    from shared.lifecycle import retention
    from shared.platform.extensions import db

    email = f"person.{n}@example.ac.uk"
    if kind == "unconfirmed":
        factories.make_student(email=email, confirmed=False)
    elif kind == "confirmed":
        factories.make_student(email=email)
    elif kind in ("staff", "deactivated staff"):
        factories.make_staff(email=email, active=kind == "staff")
    elif kind == "erased":
        student = factories.make_student(email=email)
        retention.erase_student_account(student)
        db.session.commit()
    return email


def _whole(app, resp, email: str) -> dict:
    """Everything an attacker sees of a response: status, headers (not Date), cookies with the session's
    contents decoded, and the body, with CSRF tokens masked and the address typed replaced."""
    import re

    cookies = []
    for header in resp.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        value, _, attributes = rest.partition(";")
        if name == app.config["SESSION_COOKIE_NAME"] and value:
            contents = app.session_interface.get_signing_serializer(app).loads(value)
            value = {k: ("CSRF" if k == "csrf_token" else v) for k, v in contents.items()}
        cookies.append((name, repr(value).replace(email, "EMAIL"), re.sub(r"(?i)expires=[^;]+", "expires=X", attributes)))
    headers = sorted((k, v) for k, v in resp.headers.items() if k not in ("Date", "Set-Cookie", "Content-Length"))
    body = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1CSRF", without_form_keys(resp.get_data(as_text=True)))
    return {"status": resp.status_code, "headers": headers, "cookies": cookies, "body": body.replace(email, "EMAIL")}


@pytest.mark.parametrize("door", ["/register", "/sign-in", "/reset", "/staff/sign-in", "/staff/reset"])
def test_every_door_answers_the_same_whatever_the_address(app, ctx, door):
    from shared.platform.mail import sent_messages

    answers = {}
    for n, kind in enumerate(KINDS):
        email = _address_of_kind(kind, n)
        # The right password wherever it must not sign anyone in (so its being right shows nothing either).
        cannot_sign_in = {"unconfirmed", "deactivated staff", "erased"} | ({"staff"} if door[:7] != "/staff/" else set())
        password = factories.PASSWORD if kind in cannot_sign_in else WRONG
        b = Browser(app.test_client())
        before = len(sent_messages())
        resp = b.submit(door, {"email": email, "password": password, "confirm": password})
        answers[kind] = _whole(app, resp, email)
        # Anything sent goes to the address's own inbox, never to whoever is asking.
        assert {m["To"] for m in sent_messages()[before:]} <= {email}, kind
    for kind in KINDS[1:]:
        assert answers[kind] == answers["unknown"], kind
    assert answers["unknown"]["status"] == 200


def test_signing_in_to_an_unconfirmed_account_mails_its_owner_a_new_link(app, ctx, browser):
    from shared.platform.mail import sent_messages

    student = factories.make_student(confirmed=False)
    resp = browser.submit("/sign-in", {"email": student.email, "password": factories.PASSWORD})
    assert resp.status_code == 200 and "not confirmed yet" in resp.get_data(as_text=True)
    (message,) = sent_messages()
    assert message["To"] == student.email and message["Subject"] == "Confirm your email address"


def test_a_staff_change_of_email_answers_the_same_whoever_has_the_address(app, ctx, officer_browser):
    """A member of staff cannot learn, by trying to move their account to it, whether an address belongs to
    another account: the page is the same, their address does not change yet, and the one email goes to the
    address typed (a link there, or a note that nothing changed)."""
    from shared.models import Staff
    from shared.platform.extensions import db
    from shared.platform.mail import sent_messages

    answers = {}
    for n, kind in enumerate(KINDS):
        email = _address_of_kind(kind, 100 + n)
        before = len(sent_messages())
        resp = officer_browser.submit("/staff/account/email", {"email": email, "password": factories.PASSWORD},
                                      page="/staff/account/email")
        followed = officer_browser.get(resp.headers["Location"])
        answers[kind] = (_whole(app, resp, email), _whole(app, followed, email))
        assert [m["To"] for m in sent_messages()[before:]] == [email], kind
        db.session.expire_all()
        assert db.session.get(Staff, officer_browser.account.id).email != email, kind
    for kind in KINDS[1:]:
        assert answers[kind] == answers["unknown"], kind

"""Asking a signed-in person for their password again (issue 18, item 8): limited like sign-in, per account
and per client address, so a stolen session cannot guess the password faster than the sign-in page allows."""

from __future__ import annotations

from tests import factories
from tests.support.web import signed_in

WRONG = "not my password at all"
STAFF_FORMS = [
    ("/staff/account", {"current": WRONG, "password": "a new passphrase 31", "confirm": "a new passphrase 31"}),
    ("/staff/account/email", {"email": "somewhere.new@example.ac.uk", "password": WRONG}),
    ("/staff/account/two-factor", {"password": WRONG, "code": "123456"}),
]


def _locked_out(resp) -> bool:
    return resp.status_code == 429 and "Too many attempts" in resp.get_data(as_text=True)


def test_wrong_passwords_again_lock_out_the_account_across_its_forms(make_limited_app, ctx):
    limited = make_limited_app(RATELIMIT_LOGIN="3 per minute")
    b = signed_in(limited, factories.make_staff(), factories.PASSWORD, "backoffice")
    answers = []
    for n, (url, data) in enumerate([*STAFF_FORMS, STAFF_FORMS[0]]):
        b.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"  # a new address each time: still one account
        answers.append(b.submit(url, data))
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    assert _locked_out(answers[3])
    # Even the right password is refused until the window passes, with sign-in's lock-out page.
    assert _locked_out(b.submit("/staff/account/email", {"email": "x.y@example.ac.uk", "password": factories.PASSWORD}))


def test_wrong_passwords_again_from_one_address_are_limited_whichever_account(make_limited_app, ctx):
    accounts = factories.make_student(), factories.make_student()
    limited = make_limited_app(RATELIMIT_LOGIN="3 per minute")
    first, second = (signed_in(limited, a, factories.PASSWORD, "portal") for a in accounts)
    data = {"current": WRONG, "password": "a new passphrase 31", "confirm": "a new passphrase 31"}
    statuses = []
    for b in (first, second, first, second):
        b.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
        statuses.append(b.submit("/account", data).status_code)
    assert statuses == [200, 200, 200, 429]


def test_a_student_changing_their_password_is_limited_per_account(make_limited_app, ctx):
    limited = make_limited_app(RATELIMIT_LOGIN="3 per minute")
    b = signed_in(limited, factories.make_student(), factories.PASSWORD, "portal")
    data = {"current": WRONG, "password": "a new passphrase 31", "confirm": "a new passphrase 31"}
    answers = []
    for n in range(4):
        b.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 50}"
        answers.append(b.submit("/account", data))
    assert [r.status_code for r in answers[:3]] == [200, 200, 200] and _locked_out(answers[3])
    assert b.get("/account").status_code == 200  # reading the page is never limited

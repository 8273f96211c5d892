"""One form of an email address (issue 18, item 5): every spelling of the same address is the same account
and the same rate-limit count, wherever an address is taken."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.models import Student
from shared.platform.mail import sent_messages
from shared.security.accounts import InvalidEmail, normalise_email
from tests import factories
from tests.support.web import Browser

ADDRESS = "sam.student@example.ac.uk"
# The same address, spelled with look-alikes an attacker (or a phone keyboard) might use.
SPELLINGS = [
    "Sam.Student@Example.AC.UK",
    "  sam.student@example.ac.uk ",
    "sam.student@example\u3002ac\u3002uk",  # ideographic full stop
    "sam.student@example\uff0eac\uff0euk",  # full-width full stop
    "sam.student@example\uff61ac\uff61uk",  # half-width ideographic full stop
    "\uff53\uff41\uff4d.student@example.ac.uk",  # full-width letters
    "sam\uff0estudent@example.ac.uk",  # a full-width dot in the local part
    "SAM.STUDENT@EXAMPLE\u3002AC.UK",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_look_alike_spellings_are_one_address(spelling):
    assert normalise_email(spelling) == ADDRESS


def test_the_domain_is_kept_in_its_ascii_form():
    assert normalise_email("Someone@Caf\u00e9.Example.ac.uk") == "someone@xn--caf-dma.example.ac.uk"
    assert normalise_email("someone@xn--caf-dma.example.ac.uk") == "someone@xn--caf-dma.example.ac.uk"
    assert normalise_email("STRASSE@example.ac.uk") == normalise_email("stra\u00dfe@example.ac.uk")


_local = st.text(alphabet="abcXYZ.\uff41\uff21\u00df\uff0e", min_size=1, max_size=12).filter(
    lambda s: not s.startswith((".", "\uff0e")) and not s.endswith((".", "\uff0e")) and ".." not in s
)
_dot = st.sampled_from([".", "\u3002", "\uff0e", "\uff61"])


@settings(max_examples=60, deadline=None)
@given(local=_local, dot=_dot, upper=st.booleans())
def test_the_normal_form_is_stable_and_every_spelling_reaches_it(local, dot, upper):
    spelled = f"{local.upper() if upper else local}@example{dot}ac{dot}uk"
    try:
        plain = normalise_email(f"{local}@example.ac.uk")
    except InvalidEmail:  # not an address once folded (two dots in a row): no spelling of it is one either
        with pytest.raises(InvalidEmail):
            normalise_email(spelled)
        return
    assert normalise_email(spelled) == plain
    assert normalise_email(plain) == plain


def test_the_migration_renormalises_with_the_same_rule():
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0010_email_normal_form.py"
    spec = importlib.util.spec_from_file_location("migration_0010", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for spelling in [*SPELLINGS, "someone@caf\u00e9.example.ac.uk", "stra\u00dfe@example.ac.uk"]:
        assert migration._normal(spelling) == normalise_email(spelling)
    assert migration._normal("erased-7@records.invalid") is None  # a placeholder stays as it is


def test_registering_a_look_alike_of_an_address_in_use_is_that_account(ctx, browser):
    existing = factories.make_student(email=ADDRESS)
    for spelling in ("\uff53\uff41\uff4d.student@example\u3002ac\u3002uk", "SAM.STUDENT@EXAMPLE.AC.UK"):
        resp = browser.submit(
            "/register", {"email": spelling, "password": factories.PASSWORD, "confirm": factories.PASSWORD}
        )
        assert resp.status_code == 200 and "Check your email" in resp.get_data(as_text=True)
    from shared.platform.extensions import db

    assert [s.id for s in db.session.query(Student).all()] == [existing.id]  # no second account
    assert [(m["To"], m["Subject"]) for m in sent_messages()] == [(ADDRESS, "Your Advice Service account")] * 2


def test_a_look_alike_spelling_signs_in_to_the_account(ctx, browser):
    factories.make_student(email=ADDRESS)
    resp = browser.submit("/sign-in", {"email": "\uff53am.student@example\uff0eac.uk", "password": factories.PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/home")


@pytest.mark.parametrize("door", ["/sign-in", "/register", "/reset", "/staff/sign-in", "/staff/reset"])
def test_the_per_email_limit_counts_every_spelling_of_an_address_as_one(make_limited_app, ctx, door):
    limited = make_limited_app(RATELIMIT_LOGIN="3 per minute")
    factories.make_student(email=ADDRESS)
    statuses = []
    for n, spelling in enumerate(SPELLINGS[:4]):
        b = Browser(limited.test_client())
        b.client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 20}"  # each try from its own address
        data = {"email": spelling, "password": "wrong password entirely", "confirm": "wrong password entirely"}
        statuses.append(b.submit(door, data).status_code)
    assert statuses[:3] != [429] * 3 and statuses[3] == 429

"""Hostile numbers: every integer part of every address, and every integer field of every form, sent numbers
no record has (0, negative, past what a database integer holds, hundreds of digits) and things that are not
numbers. An address answers 404, a form its field's error with 400 and the answers kept; never a 500.
Addresses come from app.url_map and forms from the pages' HTML, so new ones are covered without new tests."""

from __future__ import annotations

import re

import pytest
from flask import url_for
from werkzeug.routing import IntegerConverter

from shared.platform.forms import NUMBER_MAX, RecordChoices, WholeNumber
from tests import factories_access
from tests.forms import forms_in
from tests.hostile import Cast, csrf_token
from tests.plugin import tally
from tests.route_matrix import ARGS, WHO

# Sent as each of the six users: the issue's values (past 2^63 each was a 500 on SQLite: "Python int too large
# to convert to SQLite INTEGER") and one past the bound; the rest, which no user's role changes, as three.
HOSTILE_IDS = (0, -1, NUMBER_MAX + 1, 2**63, 2**64, 10**30, "abc")
ODD_IDS = ("\u0663", "9" * 5000)  # an Arabic-Indic digit (int() reads it as 3); more digits than int() reads
ODD_IDS_AS = ("anonymous", "student_a", "officer")
# Into a form field of numbers: none is a number the service could keep.
HOSTILE_NUMBERS = ("abc", "\u00b2", "4.5", "1e3", str(NUMBER_MAX + 1), str(2**63), str(2**64), str(10**30),
                   "-" + str(2**63), "9" * 5000)
KEPT = "Kept answer 4417"
PART = re.compile(r"<(?:[^<>]*:)?(\w+)>")


def _int_parts(rule) -> list[str]:
    return [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]


def _path(rule, values: dict) -> str:
    """The rule's path with these values put in by hand (url_for would refuse a value that is not a number)."""
    return PART.sub(lambda m: str(values[m.group(1)]), rule.rule)


def test_every_integer_in_an_address_is_bounded(app):
    """The walk below only means something if it finds the routes: every id route is there, each bounded."""
    routes = [rule for rule in app.url_map.iter_rules() if _int_parts(rule)]
    assert {"portal.document", "portal.consent_show", "portal.access_show", "backoffice.document",
            "backoffice.access_request", "backoffice.breach_show"} <= {rule.endpoint for rule in routes}
    for rule in routes:
        for name in _int_parts(rule):
            converter = rule._converters[name]
            assert (converter.min, converter.max) == (1, NUMBER_MAX), f"{rule.rule}: <{name}> is not bounded"


def test_hostile_ids_in_addresses_are_404_never_a_500(app, ctx):
    """Every route with an integer part, each hostile value in each integer part, every method, as each of
    the six users: 404 (the address matches nothing), never a 5xx. Found by this test: any id past 2^63 was
    a 500 on /documents/<id>, /consents/<id>, /records/<id>, /staff/documents/<id>, /staff/access/<id>,
    /staff/breaches/<id> and twenty more."""
    cast = Cast(app)
    clients = {who: cast.client(who) for who in WHO}
    tokens = {who: csrf_token(app, client) for who, client in clients.items()}
    problems = []
    for rule in app.url_map.iter_rules():
        parts = _int_parts(rule)
        if not parts:
            continue
        spec = ARGS.get(rule.endpoint, {})
        sample = {**(spec(cast.owner) if callable(spec) else spec)}
        for part in parts:
            for value in HOSTILE_IDS + ODD_IDS:
                path = _path(rule, {**sample, part: value})
                for method in sorted(rule.methods & {"GET", "POST"}):
                    for who, client in clients.items():
                        if value in ODD_IDS and who not in ODD_IDS_AS:
                            continue
                        data = {"csrf_token": tokens[who]} if method == "POST" else None
                        try:
                            status = client.open(path, method=method, data=data).status_code
                        except Exception as exc:  # noqa: BLE001 (in testing mode an unhandled error propagates: a 500)
                            status = repr(exc)[:90]
                        tally("hostile_ids")
                        if status != 404:
                            problems.append(f"{method} {path[:80]} as {who}: {status}")
    assert not problems, f"{len(problems)} answers were not 404:\n" + "\n".join(problems[:40])


def test_the_largest_record_number_reaches_the_view_and_is_not_found(app, ctx, officer_browser, student_browser):
    """The bound is the largest number a record can have, not less: the view looks for it and finds nothing."""
    assert officer_browser.get(f"/staff/documents/{NUMBER_MAX}").status_code == 404
    assert student_browser.get(f"/consents/{NUMBER_MAX}").status_code == 404
    with app.test_request_context():
        assert url_for("portal.document", document_id=NUMBER_MAX).endswith(str(NUMBER_MAX))


# --- every integer field of every form -------------------------------------------------------------------


def _all_forms():
    from flask_wtf import FlaskForm

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return [c for c in subclasses(FlaskForm) if c.__module__.split(".")[0] in ("shared", "portal", "backoffice")]


def _fields(form_class):
    for name in dir(form_class):
        unbound = getattr(form_class, name, None)
        if hasattr(unbound, "field_class"):
            yield name, unbound


def _integer_field_names() -> set[str]:
    return {name for form in _all_forms() for name, unbound in _fields(form)
            if issubclass(unbound.field_class, (WholeNumber, RecordChoices))}


def test_every_integer_form_field_is_a_bounded_one(app):
    """Deny by default: a number field that is not WholeNumber, or a choice coerced with int, would let a
    hostile number through to the database (consent_id=abc on the sharing form was a 500)."""
    from wtforms import IntegerField

    loose = sorted(
        f"{form.__module__}.{form.__qualname__}.{name}" for form in _all_forms() for name, unbound in _fields(form)
        if (issubclass(unbound.field_class, IntegerField) and not issubclass(unbound.field_class, WholeNumber))
        or unbound.kwargs.get("coerce") is int
    )
    assert not loose, f"use shared.platform.forms.WholeNumber or a Record...Field for these: {loose}"
    assert {"consent_id", "document_ids", "evidence_document_id", "officer_id", "duration_minutes",
            "years"} <= _integer_field_names()


def _offers_numbers(field) -> bool:
    """Whether the page offers this field's choices as records' numbers (or as none), whatever its class."""
    options = [o for o in field.options if o != ""]
    return field.kind in ("select", "radio", "checkbox") and bool(options) and all(o.isdigit() for o in options)


@pytest.fixture
def pages_with_integer_fields(app, ctx):
    """Who sees which pages: a case of student A's with a document and a consent for it, so every form that
    offers records by number shows them (the sharing form offers a consent only when there is one)."""
    cast = Cast(app)
    case = factories_access.make_case(cast.owner, officer=cast.accounts["officer"])
    factories_access.make_document(case, "letter.pdf", b"%PDF-1.4 fictional letter", "application/pdf")
    factories_access.make_consent(cast.owner, case=case)
    ref = case.reference
    return cast, {
        "officer": [f"/staff/cases/{ref}", f"/staff/cases/{ref}/sharing", f"/staff/cases/{ref}/consents/new",
                    f"/staff/cases/{ref}/breach"],
        "admin": ["/staff/admin/retention"],
        "manager": ["/staff/file-reviews/scheme", "/staff/file-reviews/draw"],
        "student_a": ["/consents/new"],
    }


def test_hostile_numbers_in_form_fields_get_the_fields_error(app, pages_with_integer_fields):
    """Every integer field on the pages (found in their HTML), sent each hostile number: 400, the field's
    error on the page, the answers typed into the form's other fields kept; never a 500. Found by this test:
    consent_id=abc on the sharing form, and a document number past 2^63 there or on the consent forms, were
    500s; 'Invalid Choice: could not coerce.' was the message for the rest."""
    cast, pages = pages_with_integer_fields
    numbers = _integer_field_names()
    posted, problems = set(), []
    for who, urls in pages.items():
        client = cast.client(who)
        token = csrf_token(app, client)
        for url in urls:
            page = client.get(url)
            assert page.status_code == 200, f"{url} as {who}: {page.status_code}"
            for form in forms_in(page.get_data(as_text=True), url):
                typed = {n: KEPT for n, f in form.fuzzable.items() if f.kind in ("text", "textarea")}
                for name, html_field in form.fuzzable.items():
                    field = name.rsplit("-", 1)[-1]  # a form with a prefix (appt-officer_id)
                    if field not in numbers and not _offers_numbers(html_field):
                        continue
                    posted.add(field)
                    for value in HOSTILE_NUMBERS:
                        where = f"POST {form.action} {name}={value[:30]} as {who}"
                        tally("hostile_numbers")
                        try:
                            resp = client.post(form.action, data={**typed, name: value, "csrf_token": token})
                        except Exception as exc:  # noqa: BLE001 (in testing mode an unhandled error propagates: a 500)
                            problems.append(f"{where}: raised {exc!r}"[:200])
                            continue
                        html = resp.get_data(as_text=True)
                        if resp.status_code != 400:
                            problems.append(f"{where}: {resp.status_code}")
                        elif f'id="{name}-error"' not in html:
                            problems.append(f"{where}: no error on the field")
                        elif typed and KEPT not in html:
                            problems.append(f"{where}: the typed answers were lost")
    assert not problems, "\n".join(problems)
    assert posted >= numbers, f"integer fields on no page scanned here (add the page): {sorted(numbers - posted)}"

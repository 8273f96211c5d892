"""Hostile users: every form fuzzed, forged requests refused with the session ended, no way off the site
through next=. Pages and forms are found from tests/route_matrix.py and the HTML, so new ones are covered
without new tests."""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import pytest
from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.security.authz import PUBLIC_ATTR
from shared.web.submissions import REPEATABLE_ATTR
from tests import factories
from tests.forms import forms_in, json_bodies, leaked_markup, queries, submissions
from tests.hostile import Cast, csrf_token, is_sign_in_redirect
from tests.plugin import tally
from tests.route_matrix import RULES, endpoint_methods, first_allowed

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
NOT_PAGES = {"static", "health.healthz"}
ENDPOINTS = [(e, m) for e, m in endpoint_methods() if e in RULES and e not in NOT_PAGES]
PAGES = [e for e, methods in ENDPOINTS if "GET" in methods]
POSTS = [e for e, methods in ENDPOINTS if "POST" in methods]
HOME = {"portal": "/home", "backoffice": "/staff/"}
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
_fuzzed: set = set()  # (endpoint the form posts to, its field names): each form is fuzzed once per run


def _url(app, cast, endpoint) -> str:
    with app.test_request_context():
        return url_for(endpoint, **cast.url_args(endpoint))


def _signed_in_who(endpoint: str) -> str:
    """Someone signed in who may use the endpoint (for a public endpoint, a user of its side)."""
    rule = RULES[endpoint]
    if rule.kind == "public":
        return "officer" if endpoint.startswith("backoffice.") else "student_a"
    return first_allowed(rule)


# --- every form, fuzzed ----------------------------------------------------------------------------


def fuzz_form(client, form, token: str) -> None:
    """Hypothesis posts hostile submissions (with a valid CSRF token, to reach the form's own checks)."""

    @FUZZ
    @given(st.data())
    def fuzz(data):
        if data.draw(st.integers(0, 9), label="send JSON instead of a form if 0"):
            payload = {**data.draw(submissions(form), label=f"POST {form.action}"), "csrf_token": token}
            if data.draw(st.booleans(), label="send no submission key (to reach the form's own checks)"):
                payload.pop("submission_key", None)
            resp = client.post(form.action, data=payload)
        else:
            payload = data.draw(json_bodies(form), label=f"POST {form.action} as JSON")
            resp = client.post(form.action, json=payload, headers={"X-CSRFToken": token})
        _answered_safely(resp, f"POST {form.action}")

    fuzz()


def _answered_safely(resp, request: str) -> None:
    """What every fuzzed request must get: no 500, and none of its markup echoed unescaped."""
    tally("fuzz_examples")
    assert resp.status_code < 500, f"{request} answered {resp.status_code}"
    if "html" in resp.content_type:
        leak = leaked_markup(resp.get_data(as_text=True))
        assert leak is None, f"{request} echoed markup unescaped: ...{leak}..."


@pytest.mark.parametrize("endpoint", PAGES)
def test_forms_survive_hostile_input(app, ctx, endpoint):
    from shared.audit import log as audit

    cast = Cast(app)
    who = first_allowed(RULES[endpoint])
    client = cast.client(who)
    page_url = _url(app, cast, endpoint)
    page = client.get(page_url)
    assert page.status_code < 500
    if "html" not in page.content_type:
        return  # a download (PDF, JSON): no forms to fuzz
    adapter = app.url_map.bind("localhost")
    for form in forms_in(page.get_data(as_text=True), page_url):
        try:
            target = adapter.match(form.action, method="POST")[0]
        except Exception:  # noqa: BLE001 (a form posting somewhere odd is still fuzzed, keyed by its path)
            target = form.action
        view = app.view_functions.get(target)
        if view is not None and not getattr(view, PUBLIC_ATTR, False) and not getattr(view, REPEATABLE_ATTR, None):
            assert "submission_key" in form.fields, f"the form on {page_url} posting to {form.action} has no submission key"
            tally("forms_with_a_submission_key")
        key = (target, tuple(sorted(form.fuzzable)))
        if not form.fuzzable or key in _fuzzed:
            continue
        _fuzzed.add(key)
        fuzz_form(client, form, csrf_token(app, client))
        tally("forms_fuzzed")
        assert audit.verify().ok, f"the audit chain broke while fuzzing {form.action}"


def fuzz_query(client, form) -> None:
    """Hypothesis sends hostile queries through a page's search or filter form (and its page number)."""

    @FUZZ
    @given(st.data())
    def fuzz(data):
        query = data.draw(queries(form), label=f"GET {form.action}")
        _answered_safely(client.get(form.action, query_string=query), f"GET {form.action}")

    fuzz()


@pytest.mark.parametrize("endpoint", PAGES)
def test_search_and_filter_forms_survive_hostile_queries(app, ctx, endpoint):
    """The filters a page offers (its GET forms), fuzzed through the address with the page number. Found by
    hand before this test: '?officer=²' on the case list and a twenty-digit case number in the audit
    viewer were 500s."""
    cast = Cast(app)
    client = cast.client(first_allowed(RULES[endpoint]))
    page_url = _url(app, cast, endpoint)
    page = client.get(page_url)
    if "html" not in page.content_type:
        return
    for form in forms_in(page.get_data(as_text=True), page_url, method="GET"):
        key = ("GET", form.action, tuple(sorted(form.fuzzable)))
        if key in _fuzzed:
            continue
        _fuzzed.add(key)
        fuzz_query(client, form)
        tally("forms_fuzzed")


def test_every_form_reads_only_form_fields(app):
    """Forms must subclass shared.platform.forms.Form, which never feeds a file or a JSON body to a text field."""
    from flask_wtf import FlaskForm

    from shared.platform.forms import Form

    def all_subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from all_subclasses(sub)

    ours = [
        c
        for c in all_subclasses(FlaskForm)
        if c.__module__.split(".")[0] in ("shared", "portal", "backoffice")
    ]
    wrong = sorted(f"{c.__module__}.{c.__qualname__}" for c in ours if not issubclass(c, Form))
    assert not wrong, (
        f"these forms subclass FlaskForm directly; make them subclass shared.platform.forms.Form: {wrong}"
    )


# --- forged requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("forgery", ["missing", "garbage", "another session's"])
@pytest.mark.parametrize("endpoint", POSTS)
def test_a_forged_form_is_refused_and_ends_the_session(app, ctx, endpoint, forgery):
    cast = Cast(app)
    who = _signed_in_who(endpoint)
    client = cast.client(who)
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    stolen = client.get_cookie(cookie_name).value
    home = HOME["portal" if who.startswith("student") else "backoffice"]
    assert client.get(home).status_code == 200

    data = {
        "missing": {},
        "garbage": {"csrf_token": "IjEyMyI.not-a-token"},
        "another session's": {"csrf_token": csrf_token(app, app.test_client())},
    }[forgery]
    resp = client.post(_url(app, cast, endpoint), data=data)
    assert resp.status_code == 400, f"{endpoint} accepted a {forgery} CSRF token: {resp.status_code}"
    assert is_sign_in_redirect(client.get(home)), "the session survived a forged form"
    # Not just a cleared cookie: the session is over on the server, so the old cookie is worthless.
    client.set_cookie(cookie_name, stolen)
    assert is_sign_in_redirect(client.get(home)), "the old session cookie still works after a forged form"


def test_a_form_without_a_token_is_refused_to_anonymous_visitors(client):
    resp = client.post("/sign-in", data={"email": "someone@example.ac.uk", "password": "whatever it is"})
    assert resp.status_code == 400


# --- no way off the site through next= ---------------------------------------------------------------

EVIL_NEXT = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "https:evil.example",
    "https:/evil.example",
    "http://localhost@evil.example/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%09/evil.example",
    "%2F%2Fevil.example",
    "//evil.example@localhost",
]


def lands_on_site(location: str, base_scheme: str = "http") -> bool:
    """Whether a browser following this Location stays on our host. It reads the URL the way browsers do
    (the WHATWG URL standard): leading control characters and spaces are dropped, tabs and newlines
    removed, backslashes read as slashes, and any number of slashes may introduce a host."""
    s = location.lstrip("".join(map(chr, range(33)))).rstrip("".join(map(chr, range(33))))
    s = "".join(c for c in s if c not in "\t\r\n").replace("\\", "/")
    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", s)
    if scheme:
        name, rest = scheme.group(1).lower(), s[scheme.end() :]
        if name not in ("http", "https"):
            return False  # javascript:, data:, ftp: ... never a page of ours
        if name == base_scheme and not rest.startswith("//"):
            return True  # "http:page" is a relative path when the scheme is the page's own
        s = "//" + rest.lstrip("/")
    if not s.startswith("//"):
        return True  # a path on this host
    authority = re.split(r"[/?#]", s.lstrip("/"), maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1].split(":")[0].lower()
    return host == "localhost"


def test_lands_on_site_reads_urls_as_a_browser_does():
    assert all(
        lands_on_site(t) for t in ("/home", "home?x=//evil", "/%09/evil.example", "http:/x", "//localhost/a")
    )
    off_site = [t for t in EVIL_NEXT if not lands_on_site(t)]
    assert off_site == EVIL_NEXT[: len(off_site)] and len(off_site) == len(EVIL_NEXT) - 3


@pytest.mark.parametrize(("side", "sign_in"), [("portal", "/sign-in"), ("backoffice", "/staff/sign-in")])
def test_sign_in_never_sends_anyone_off_site(app, ctx, side, sign_in):
    account = factories.make_student() if side == "portal" else factories.make_staff()

    def attempt(target: str):
        client = app.test_client()
        data = {"email": account.email, "password": factories.PASSWORD, "csrf_token": csrf_token(app, client)}
        resp = client.post(f"{sign_in}?next={quote(target, safe='')}", data=data)
        assert resp.status_code in (302, 303), resp.status_code
        assert lands_on_site(resp.headers["Location"]), (
            f"next={target!r} sent the user to {resp.headers['Location']!r}"
        )

    for target in EVIL_NEXT:
        attempt(target)

    @FUZZ
    @given(
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(EVIL_NEXT).flatmap(lambda e: st.text(max_size=5).map(e.__add__)),
        )
    )
    def fuzz(target):
        attempt(target)

    fuzz()


@pytest.mark.parametrize("endpoint", [e for e, _ in ENDPOINTS])
def test_no_page_forwards_next_off_site(app, ctx, endpoint):
    cast = Cast(app)
    for method in dict(ENDPOINTS)[endpoint]:
        client = cast.client(_signed_in_who(endpoint))
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            url = f"{_url(app, cast, endpoint)}?next={quote(target, safe='')}"
            data = {"csrf_token": csrf_token(app, client)} if method != "GET" else None
            resp = client.open(url, method=method, data=data)
            if 300 <= resp.status_code < 400:
                assert lands_on_site(resp.headers["Location"]), (
                    f"{method} {url} -> {resp.headers['Location']}"
                )


def test_nul_characters_never_reach_the_database(admin_browser, db):
    """Found by the fuzzer on PostgreSQL, which refuses NUL in text: a list label of '\\x00' was a 500."""
    from shared.models import ListItem

    resp = admin_browser.submit("/staff/admin/lists/college", {"label": "New\x00 College\x00"})
    assert resp.status_code < 500
    assert db.session.query(ListItem).filter_by(label="New College").count() == 1


@pytest.mark.parametrize("query", [
    "/staff/cases?officer=%C2%B2", "/staff/cases?officer=" + "9" * 20, "/staff/cases?page=" + "9" * 20,
    "/staff/admin/audit?case=%C2%B2", "/staff/admin/audit?student=" + "9" * 20,
    "/staff/admin/audit?staff=%20%20%20", "/staff/admin/audit?action=" + "%20" * 100,
    "/staff/admin/audit?page=" + "9" * 20, "/staff/cases?area=%00&q=a%00b", "/staff/admin/audit?action=%00",
])
def test_queries_the_fuzzer_found_get_a_page_not_a_500(admin_browser, query):
    """Each was a 500: a digit int() refuses, a number no database integer holds, a filter of spaces, a NUL
    (which PostgreSQL refuses in text)."""
    assert admin_browser.get(query).status_code == 200

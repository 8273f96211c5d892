"""The route × role matrix: every endpoint in app.url_map, every method, six users, against the table in
tests/route_matrix.py. Nothing answers 200 where the table says no."""

from __future__ import annotations

import pytest
from werkzeug.routing.converters import NumberConverter

from shared.security.authz import PUBLIC_ATTR
from tests.hostile import Cast, csrf_token, expected_refusal, is_sign_in_redirect, judge
from tests.plugin import tally
from tests.route_matrix import ARGS, PUBLIC, RULES, WHO, endpoint_methods

ENDPOINTS = endpoint_methods()


def test_every_endpoint_is_in_the_table():
    in_app = {endpoint for endpoint, _ in ENDPOINTS}
    missing = sorted(in_app - RULES.keys())
    gone = sorted(RULES.keys() - in_app)
    assert not missing, (
        f"endpoints missing from tests/route_matrix.py RULES: {missing}. "
        "Add a line saying who may use each (PUBLIC, STUDENT, STAFF, MANAGER, ADMIN)."
    )
    assert not gone, f"tests/route_matrix.py RULES lists endpoints that no longer exist: {gone}"
    stale_args = sorted(ARGS.keys() - in_app)
    assert not stale_args, f"tests/route_matrix.py ARGS lists endpoints that no longer exist: {stale_args}"


def test_public_views_are_exactly_the_public_allowlist(app):
    decorated = {e for e, view in app.view_functions.items() if getattr(view, PUBLIC_ATTR, False)} | {
        "static"
    }
    listed = {e for e, rule in RULES.items() if rule is PUBLIC}
    assert decorated - listed == set(), (
        f"@public views not marked PUBLIC in the table: {sorted(decorated - listed)}"
    )
    assert listed - decorated == set(), (
        f"marked PUBLIC in the table but not @public: {sorted(listed - decorated)}"
    )


def _placeholder_args(app, endpoint: str) -> dict:
    """Some value for each URL parameter, so even an endpoint missing from the table gets checked."""
    args = {}
    for rule in app.url_map.iter_rules(endpoint):
        for name in rule.arguments:
            args[name] = 1 if isinstance(rule._converters[name], NumberConverter) else "x"
    return args


def test_every_endpoint_is_public_or_refuses_anonymous_users(app, ctx):
    """Independent of the table: walk url_map; anything not @public must turn an anonymous visitor away."""
    from tests.hostile import csrf_token

    cast = Cast(app)
    problems = []
    for endpoint, methods in ENDPOINTS:
        if endpoint == "static" or getattr(app.view_functions[endpoint], PUBLIC_ATTR, False):
            continue
        args = cast.url_args(endpoint) if endpoint in ARGS else _placeholder_args(app, endpoint)
        with app.test_request_context():
            from flask import url_for

            url = url_for(endpoint, **args)
        for method in methods:
            client = app.test_client()
            data = {"csrf_token": csrf_token(app, client)} if method != "GET" else None
            resp = client.open(url, method=method, data=data)
            if not (is_sign_in_redirect(resp) or resp.status_code in (401, 404)):
                problems.append(
                    f"{method} {url} ({endpoint}) answered an anonymous visitor {resp.status_code}"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("endpoint", "methods"), ENDPOINTS, ids=[e for e, _ in ENDPOINTS])
def test_route_matrix(app, ctx, endpoint, methods):
    if endpoint not in RULES:
        pytest.fail(f"{endpoint} is not in tests/route_matrix.py RULES: add a line saying who may use it.")
    rule = RULES[endpoint]
    spec = ARGS.get(endpoint)
    object_of_a = callable(spec)
    may_404 = isinstance(spec, dict) and bool(spec)  # sample ids that need not exist
    cast = Cast(app)
    failures = []
    for method in methods:
        for who in WHO:
            try:
                args = cast.url_args(endpoint)
            except Exception as exc:  # noqa: BLE001 (report which factory broke)
                pytest.fail(f"the ARGS factory for {endpoint} failed: {exc!r}")
            with app.test_request_context():
                from flask import url_for

                try:
                    url = url_for(endpoint, **args)
                except Exception as exc:  # noqa: BLE001
                    pytest.fail(f"{endpoint} needs sample URL arguments in tests/route_matrix.py ARGS: {exc}")
            client = cast.client(who)
            data = {"csrf_token": csrf_token(app, client)} if method != "GET" else None
            try:
                resp = client.open(url, method=method, data=data)
            except Exception as exc:  # noqa: BLE001 (in testing mode an unhandled error propagates: a 500)
                failures.append(f"{method} {url} as {who}: raised {exc!r}")
                continue
            tally("endpoint_roles")
            problem = judge(resp, method, rule, expected_refusal(rule, who, object_of_a), may_404)
            if problem:
                failures.append(f"{method} {url} as {who} (table: {rule!r}): {problem}")
    assert not failures, f"{endpoint}:\n  " + "\n  ".join(failures)


def test_the_matrix_expects_404_when_student_b_asks_for_student_as_object():
    """The machinery itself: a factory-built object of student A must be a 404 to student B, and a 200 fails."""
    from types import SimpleNamespace

    from tests.route_matrix import STUDENT

    assert expected_refusal(STUDENT, "student_a", True) is None
    assert expected_refusal(STUDENT, "student_b", True) == "404"
    assert expected_refusal(STUDENT, "student_b", False) is None
    leaked = SimpleNamespace(status_code=200, headers={})
    assert judge(leaked, "GET", STUDENT, "404", False) == "expected 404, got 200"
    assert judge(SimpleNamespace(status_code=404, headers={}), "GET", STUDENT, None, False)

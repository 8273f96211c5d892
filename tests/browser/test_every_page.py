"""axe on every page that needs no URL parameters, as each user the route table lets in, plus the error
page. New pages are swept automatically once they are in tests/route_matrix.py."""

from __future__ import annotations

import pytest

from tests.browser.helpers import axe_check, new_page, sign_in
from tests.route_matrix import RULES, endpoint_methods, url_map_app

DEMO_USERS = {
    "anonymous": "anonymous",
    "student_a": "student",
    "officer": "officer",
    "manager": "manager",
    "admin": "admin",
}
NOT_PAGES = {"static", "health.healthz", "backoffice.admin_audit_csv", "backoffice.reviews_csv"}  # not HTML pages (JSON, CSV downloads)


def pages_for(who: str) -> list[str]:
    app = url_map_app()
    paths = []
    for endpoint, methods in endpoint_methods(app):
        rule = RULES.get(endpoint)
        if endpoint in NOT_PAGES or "GET" not in methods or rule is None or not rule.allows(who):
            continue
        for url_rule in app.url_map.iter_rules(endpoint):
            if not url_rule.arguments:
                paths.append(url_rule.rule)
    return sorted(set(paths))


@pytest.mark.parametrize("who", list(DEMO_USERS))
def test_every_page_passes_axe(browser_context, live_server, who):
    page = new_page(browser_context, live_server)
    if who != "anonymous":
        sign_in(page, live_server, DEMO_USERS[who])
    problems = []
    for path in pages_for(who):
        resp = page.goto(path)
        if resp is None or resp.status >= 400:
            problems.append(f"{path}: {resp.status if resp else 'no response'}")
            continue
        if "text/html" in resp.headers.get("content-type", ""):
            axe_check(page)
    assert not problems, problems


def test_error_pages_pass_axe(page):
    resp = page.goto("/no-such-page")
    assert resp.status == 404
    axe_check(page)

"""Fixtures for real-browser journeys (helpers and the live server are in tests/browser/helpers.py).

chromium (session)      Debian's Chromium (on PATH, or CHROMIUM_PATH) through Playwright; skips, with the
                        reason, when it is missing or does not start: tests/plugin.py then names the tests
                        that did not run after pytest's closing line (an error with REQUIRE_BROWSER=1)
live_server (session)   gunicorn wsgi:app on 127.0.0.1, migrated and seeded; .logins, .link_in_latest_email(),
                        .statistics_month (a past month of fictional cases the publishable report may publish)
browser_context, page   a fresh browser profile per test; on failure a screenshot and the HTML go to
                        test-artifacts/; on success every page the test loaded must have been axe-checked
other_context           a second profile, checked the same way (two people working at the same time)
student_page, officer_page, manager_page, admin_page   a tab already signed in as that demo account
                        (signed in through the form once a run, then with that sign-in's cookies)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser.helpers import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    HERE,
    LiveServer,
    artifact_name,
    new_page,
    signed_in,
    why_no_browser,
)
from tests.plugin import browser_skipped, tally


@pytest.fixture(scope="session")
def chromium():
    reason = why_no_browser()
    if reason:
        browser_skipped(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # only this run's failures in test-artifacts/

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server(chromium, tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live-instance"))
    try:
        yield server.start()
    finally:
        server.stop()


def _checked_context(chromium, live_server, request, label: str = ""):
    """A fresh browser profile; on failure its pages are saved, on success each page load must have been
    axe-checked."""
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    yield context
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, page in enumerate(context.pages):
            stem = ARTIFACTS / f"{artifact_name(request.node.nodeid)}-{label}{i}"
            try:
                page.screenshot(path=f"{stem}.png", full_page=True)
                Path(f"{stem}.html").write_text(f"<!-- {page.url} -->\n" + page.content())
            except Exception as exc:  # noqa: BLE001 (never hide the real failure)
                Path(f"{stem}.txt").write_text(f"could not save the page: {exc!r}")
        tally("artifacts")
    elif getattr(request.node, "rep_call", None) is not None and request.node.rep_call.passed:
        unscanned = [
            url
            for page in context.pages
            for i, url in enumerate(page.visits.loads)
            if i not in page.visits.scanned
        ]
        context.close()
        assert not unscanned, f"pages visited but never checked with axe_check(page): {unscanned}"
        return
    context.close()


@pytest.fixture
def browser_context(chromium, live_server, request):
    yield from _checked_context(chromium, live_server, request)


@pytest.fixture
def other_context(chromium, live_server, request):
    """A second browser profile beside browser_context: another person at another computer (one session
    cookie per profile, so a student and an officer working at the same time need one each)."""
    yield from _checked_context(chromium, live_server, request, "other-")


@pytest.fixture
def page(browser_context, live_server):
    return new_page(browser_context, live_server)


def _signed_in_page_fixture(role: str):
    @pytest.fixture(name=f"{role}_page")
    def signed_in_page(browser_context, live_server):
        page = new_page(browser_context, live_server)
        signed_in(page, live_server, role)
        return page

    return signed_in_page


student_page = _signed_in_page_fixture("student")
officer_page = _signed_in_page_fixture("officer")
manager_page = _signed_in_page_fixture("manager")
admin_page = _signed_in_page_fixture("admin")


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)

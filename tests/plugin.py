"""Counts what the hostile-user and browser tests actually did, and prints them at the end of the run.

Tests call `tally(name, n)`; `browser_skipped(reason)` records why the browser tests did not run. The
summary is printed by pytest_terminal_summary, so a green run that silently did nothing is visible.

Browser tests that did not run (no Chromium here) are listed after pytest's own closing line, with the
command that installs the browser, so a run that left them out cannot be mistaken for one that ran them.
With REQUIRE_BROWSER=1 (set by .ci/run) a skipped browser test is an error instead: CI runs them all or fails.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

COUNTS: Counter = Counter()
SKIPPED: dict[str, str] = {}
BROWSER_NOT_RUN: dict[str, str] = {}  # node id of each browser test that was skipped: why
INSTALL_BROWSER = "apt-get install -y chromium"

LABELS = (
    ("journeys", "browser journeys run"),
    ("axe_pages", "pages scanned by axe (0 violations each)"),
    ("endpoint_roles", "endpoint × method × role checks"),
    ("forms_fuzzed", "forms fuzzed"),
    ("forms_with_a_submission_key", "signed-in forms seen carrying a submission key"),
    ("forms_sent_twice", "signed-in forms sent twice (saved once)"),
    ("fuzz_examples", "fuzzed submissions"),
    ("upload_attacks", "hostile uploads refused through the forms"),
    ("hostile_ids", "hostile ids sent in addresses (404 each)"),
    ("hostile_numbers", "hostile numbers in integer form fields"),
)


def tally(name: str, n: int = 1) -> None:
    COUNTS[name] += n


def browser_skipped(reason: str) -> None:
    SKIPPED["browser"] = reason


def browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "").strip() not in ("", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # Lets fixtures see in teardown whether the test failed (for screenshots and page HTML).
    setattr(item, f"rep_{report.when}", report)
    if report.when == "call" and report.passed and item.get_closest_marker("browser"):
        tally("journeys")
    if report.skipped and item.get_closest_marker("browser") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        BROWSER_NOT_RUN[item.nodeid] = reason
        if browser_required():
            report.outcome = "failed"
            report.longrepr = f"REQUIRE_BROWSER=1, and this browser test was skipped: {reason}"


def pytest_terminal_summary(terminalreporter):
    if not COUNTS and not SKIPPED:
        return
    tr = terminalreporter
    tr.section("hostile users and real browsers")
    for key, label in LABELS:
        tr.write_line(f"{label:<45} {COUNTS.get(key, 0)}")
    if COUNTS.get("artifacts"):
        tr.write_line("screenshots and page HTML of failed browser tests: test-artifacts/", red=True)
    if "browser" in SKIPPED:
        tr.write_line(f"browser tests skipped: {SKIPPED['browser']}", yellow=True, bold=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    """After pytest's closing line ("N passed, M skipped"): which browser tests did not run, and how to run them."""
    yield
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if not BROWSER_NOT_RUN or tr is None:
        return
    by_file: dict[str, list[str]] = {}
    for nodeid in BROWSER_NOT_RUN:
        path, _, name = nodeid.partition("::")
        by_file.setdefault(path, []).append(name)
    for path, names in by_file.items():
        tr.write_line(f"  not run: {path}: {', '.join(names)}")
    n = len(BROWSER_NOT_RUN)
    why = "; ".join(dict.fromkeys(BROWSER_NOT_RUN.values()))
    verdict = "REQUIRE_BROWSER=1 makes each an error. " if browser_required() else ""
    tr.write_line(
        f"{n} browser test{'s' if n != 1 else ''} did not run: {why}. {verdict}"
        f"Install the browser with `{INSTALL_BROWSER}` (as root; never `playwright install`), then run `make test` again.",
        yellow=not browser_required(), red=browser_required(), bold=True,
    )

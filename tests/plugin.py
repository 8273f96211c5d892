"""Counts what the hostile-user and browser tests actually did, and prints them at the end of the run.

Tests call `tally(name, n)`; `browser_skipped(reason)` records why the browser tests did not run. The
summary is printed by pytest_terminal_summary, so a green run that silently did nothing is visible.
"""

from __future__ import annotations

from collections import Counter

import pytest

COUNTS: Counter = Counter()
SKIPPED: dict[str, str] = {}

LABELS = (
    ("journeys", "browser journeys run"),
    ("axe_pages", "pages scanned by axe (0 violations each)"),
    ("endpoint_roles", "endpoint × method × role checks"),
    ("forms_fuzzed", "forms fuzzed"),
    ("fuzz_examples", "fuzzed submissions"),
    ("upload_attacks", "hostile uploads refused through the forms"),
    ("hostile_ids", "hostile ids sent in addresses (404 each)"),
    ("hostile_numbers", "hostile numbers in integer form fields"),
)


def tally(name: str, n: int = 1) -> None:
    COUNTS[name] += n


def browser_skipped(reason: str) -> None:
    SKIPPED["browser"] = reason


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # Lets fixtures see in teardown whether the test failed (for screenshots and page HTML).
    setattr(item, f"rep_{report.when}", report)
    if report.when == "call" and report.passed and item.get_closest_marker("browser"):
        tally("journeys")


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

"""The ethical wall in a real browser, on the demo's two housemates (Dana, advised by the demo officer, and
Eli, whom a colleague advises): the manager sees both sides and the decision, and each page passes axe;
the officer on Dana's side cannot find Eli's case at all."""

from __future__ import annotations

import re

from tests.browser.helpers import axe_check, click

REFERENCE = re.compile(r"ADV-\d{4}-\d+")


def _search(page, text: str) -> str:
    click(page, "link", "Cases")
    page.get_by_label("Search", exact=True).fill(text)
    click(page, "button", "Show cases")
    return page.locator("main").inner_text()


def test_the_manager_sees_both_sides_of_the_wall_and_the_decision(manager_page):
    page = manager_page
    _search(page, "eli.demo@example.ac.uk")
    click(page, "link", page.get_by_role("table").get_by_role("link", name=REFERENCE).first.inner_text())
    assert "Ethical wall." in page.locator("main").inner_text()
    assert "Eli Brookmere" in page.locator("main").inner_text()
    axe_check(page)
    click(page, "link", "See the decision")
    main = page.locator("main").inner_text()
    assert "Conflict: advise the two students with different advisers" in main
    assert "Dana Fairweather" in main and "Eli Brookmere" in main
    axe_check(page)


def test_the_adviser_on_one_side_cannot_find_the_other_side(officer_page):
    page = officer_page
    assert "Brookmere" not in _search(page, "Brookmere")
    assert "No cases match." in page.locator("main").inner_text()
    main = _search(page, "dana.demo@example.ac.uk")
    assert "Fairweather" in main
    click(page, "link", page.get_by_role("table").get_by_role("link", name=REFERENCE).first.inner_text())
    text = page.locator("main").inner_text()
    assert "The other side is behind the ethical wall." in text and "Brookmere" not in text
    axe_check(page)

"""tests/support/pdf.py reads what is in a PDF, so that a test asserting a word is absent can fail.

The copy of a student's records must never hold anything on the terrorism ground
(tests/consent/test_consent_breach.py): that assertion means something only if the same reading finds those words
when a PDF does hold them, wherever they are on the page.
"""

from __future__ import annotations

import pytest

from shared.platform.pdf import html_to_pdf, render_pdf
from shared.subject_access import copies as sar_copies
from shared.subject_access import reading as sar_reading
from tests import factories_access as fa
from tests.factories_consent import TERRORISM_TRACES
from tests.support.pdf import page_texts, text, text_lines

# The shapes a word takes in the service's PDFs: a heading, a table cell, a list item, small print, a
# later page, and a phrase wrapped over two lines of a narrow column.
PLACES = """<html><head><style>.narrow { width: 9em } .small { font-size: 6pt }</style></head><body>
<h1>MARK-HEADING</h1>
<table><tr><th>Area</th><th>Count</th></tr><tr><td>MARK-CELL</td><td>12</td></tr></table>
<ul><li>MARK-LIST-ITEM</li></ul>
<p class="small">MARK-SMALL-PRINT</p>
<p class="narrow">where the law requires disclosure for the prevention and detection of terrorism</p>
<p style="break-before: page">MARK-PAGE-TWO</p>
</body></html>"""
MARKS = ("MARK-HEADING", "MARK-CELL", "MARK-LIST-ITEM", "MARK-SMALL-PRINT", "MARK-PAGE-TWO")
WRAPPED = "the prevention and detection of terrorism"


@pytest.fixture
def placed(ctx):
    return html_to_pdf(PLACES, title="t")


def test_a_word_anywhere_on_any_page_is_read(placed):
    for read in (text, text_lines):
        found = read(placed)
        for mark in MARKS:
            assert mark in found, (read.__name__, mark)
    assert "MARK-CELL 12" in text_lines(placed)  # a table row stays one line


def test_a_phrase_wrapped_over_two_lines_is_still_found(placed):
    assert WRAPPED not in text_lines(placed)  # the column is narrow enough that it wraps
    assert WRAPPED in text(placed)


def test_pages_are_counted_and_read_in_order(placed):
    pages = page_texts(placed)
    assert len(pages) == 2
    assert "MARK-HEADING" in pages[0] and "MARK-PAGE-TWO" in pages[1] and "MARK-PAGE-TWO" not in pages[0]


def test_an_absent_word_is_absent(ctx):
    found = text(html_to_pdf("<html><body><p>Shared with consent</p></body></html>", title="t"))
    assert "Shared with consent" in found
    assert not any(mark in found for mark in MARKS)


def test_the_terrorism_check_would_fail_on_a_copy_that_holds_the_words(student, officer):
    fa.make_full_record(student, officer, tag=" TT-SITUATION")
    req = fa.make_request(student)
    record = sar_reading.copy_contents(req, load_files=True)
    copy = text(render_pdf("records.html", sar_copies.render_context(req, record), title="t"))
    with pytest.raises(AssertionError):
        assert not any(t in copy for t in TERRORISM_TRACES)  # the assertion tests/consent/test_consent_breach.py makes

"""shared/platform/pdf.py: tagged, titled PDFs from plain data, with a URL fetcher that reaches nothing outside."""

from __future__ import annotations

import inspect
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from shared.platform import pdf
from shared.subject_access.records import collect
from tests import factories_access as fa
from tests.support import pdf as read
from tests.support.pdf import text as pdf_text


def test_render_pdf_keeps_the_signature_other_services_call():
    sig = inspect.signature(pdf.render_pdf)
    assert list(sig.parameters)[:4] == ["template_name", "context", "title", "lang"]
    assert sig.parameters["title"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["lang"].default == "en-GB"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "FILE:///etc/hostname", "http://127.0.0.1/x.css", "https://example.org/x.png",
    "ftp://example.org/x", "app:../../secrets.json", "/etc/passwd",
])
def test_the_url_fetcher_refuses_files_and_the_network(ctx, url):
    with pytest.raises(ValueError):
        pdf.url_fetcher().fetch(url)


def test_the_url_fetcher_allows_data_urls_and_the_bundled_stylesheet(ctx):
    assert pdf.url_fetcher().fetch("data:text/plain;base64,aGk=").read() == b"hi"
    assert b"@page" in pdf.url_fetcher().fetch(pdf.BUNDLED_STYLESHEET).read()


def test_a_document_cannot_pull_in_a_local_file(ctx, tmp_path):
    leak = tmp_path / "leak.css"
    leak.write_text('body::after { content: "LEAKED-FROM-DISK"; }')
    html = f'<html><head><link rel="stylesheet" href="file://{leak}"></head><body><p>Safe text</p>' \
           f'<img src="file://{tmp_path}/x.png" alt="x"><iframe src="file:///etc/passwd"></iframe></body></html>'
    text = pdf_text(pdf.html_to_pdf(html, title="t"))
    assert "Safe text" in text and "LEAKED-FROM-DISK" not in text and "root:" not in text


def test_a_document_cannot_reach_the_network(ctx):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b'body::after { content: "FROM-THE-NETWORK"; }')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        html = f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/a.css"></head>' \
               f'<body><p>Safe text</p><img src="http://127.0.0.1:{port}/b.png" alt="b"></body></html>'
        text = pdf_text(pdf.html_to_pdf(html, title="t"))
    finally:
        server.shutdown()
    assert hits == []
    assert "FROM-THE-NETWORK" not in text


def test_the_copy_is_tagged_with_title_language_page_numbers_and_footer(student, officer, db):
    fa.make_full_record(student, officer)
    record = collect(student.id)
    data = pdf.render_pdf("records.html", {"record": record, "sar": {"reference": "SAR-2026-0042", "received_on": "1 March 2026",
                                           "released_on": "20 March 2026", "scope_label": "everything"}},
                          title="Your records (SAR-2026-0042)")
    root = read.reader(data).trailer["/Root"]
    assert read.title(data) == "Your records (SAR-2026-0042)"
    assert root["/Lang"] == "en-GB"
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    assert b"pdfuaid" in root["/Metadata"].get_object().get_data()
    pages = read.page_texts(data)
    assert len(pages) >= 4
    for words in ("Request received", "1 March 2026", "Released", "20 March 2026", "Prepared for"):
        assert words in pages[0]
    assert "SAR-2026-0042" in pages[0] and "Contents" in pages[1]
    for number, text in enumerate(pages[1:], start=2):
        assert f"Page {number} of {len(pages)}" in text
        assert "SAR-2026-0042" in text and "Confidential" in text  # the footer


def test_the_copy_gives_every_item_a_heading_a_screen_reader_can_jump_to(student, officer, db):
    fa.make_full_record(student, officer)
    record = collect(student.id)
    data = pdf.render_pdf("records.html", {"record": record, "sar": {"reference": "SAR-2026-0042"}}, title="t")
    types = read.structure_types(data)
    items = sum(len(c.timeline) + len(c.messages) + len(c.documents) for c in record.cases)
    assert types.count("/H1") == 1 and types.count("/H2") >= 3 + len(record.cases)
    assert types.count("/H4") == items > 0
    assert types.count("/H3") >= 4 * len(record.cases) + len(record.consents) + len(record.disclosures)
    assert "/P" in types and "/L" in types and "/LI" in types  # paragraphs; the contents and the facts are lists


def test_page_references_follow_the_pages_added_after_a_first_call():
    document = pdf.pydyf.PDF()
    document.add_page(pdf.pydyf.Dictionary({"Type": "/Page"}))
    assert pdf._page_references(document) == (b"3 0 R",)
    document.add_page(pdf.pydyf.Dictionary({"Type": "/Page"}))
    assert pdf._page_references(document) == (b"3 0 R", b"4 0 R")

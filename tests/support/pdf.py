r"""Reading the PDFs the service makes, the one way every test does it.

Text comes from PDFium (pypdfium2, whose wheel carries the PDFium binary), so no system program such as
poppler's pdftotext is needed. Each page's text is read in the order PDFium lays it out (lines top to
bottom, a table row left to right).

- `text(pdf)`: runs of white space, line breaks included, become one space, so a phrase that wraps onto
  the next line is still found. This is the one for "never in the student's copy": the strictest reading.
- `text_lines(pdf)`: one line of the page per line of text, white space inside a line collapsed (what
  `pdftotext -layout` gave, less the padding), for a table's rows (`Girton\s+30\s+20`) and for small
  patterns such as a day and month ("10 Mar") that two neighbouring lines of a chart would otherwise make.

`tests/platform/test_pdf_support.py` checks that a word present anywhere in a PDF (a heading, a table cell, a
footer, a later page, a long wrapped paragraph) is found by both, so that `assert word not in text(pdf)`
can fail, and means what it says.

The document's structure (its metadata, language, tag tree) is read with pypdf, also from pip.
"""

from __future__ import annotations

import io

import pypdfium2


def _raw_pages(data: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(data)
    try:
        out = []
        for page in document:
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    finally:
        document.close()


def text(data: bytes) -> str:
    """The whole document's text, pages in order, all white space (line breaks too) as single spaces."""
    return " ".join(page_texts(data))


def page_texts(data: bytes) -> list[str]:
    """Each page's text, white space collapsed as in text() (len() is the page count)."""
    return [" ".join(page.split()) for page in _raw_pages(data)]


def text_lines(data: bytes) -> str:
    """The whole document's text, one line per line of the pages, white space inside a line collapsed."""
    return "\n".join(
        " ".join(line.split()) for page in _raw_pages(data) for line in page.splitlines() if line.strip()
    )


def title(data: bytes) -> str | None:
    document = pypdfium2.PdfDocument(data)
    try:
        return document.get_metadata_dict().get("Title") or None
    finally:
        document.close()


def attachment_names(data: bytes) -> list[str]:
    """The names of the files embedded in the PDF (its attachments)."""
    document = pypdfium2.PdfDocument(data)
    try:
        return [document.get_attachment(i).get_name() for i in range(document.count_attachments())]
    finally:
        document.close()


def reader(data: bytes):
    """pypdf's reader, for the document catalogue: /Lang, /MarkInfo, the XMP metadata, the tag tree."""
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(data))


def structure_types(data: bytes) -> list[str]:
    """The structure types of a tagged PDF's tag tree, in document order ("/H1", "/P", "/L", ...)."""
    out, stack = [], [reader(data).trailer["/Root"]["/StructTreeRoot"]]
    while stack:
        node = stack.pop().get_object()
        if not hasattr(node, "get"):
            continue  # a marked-content id
        if "/S" in node:
            out.append(str(node["/S"]))
        kids = node.get("/K")
        kids = kids.get_object() if kids is not None else []
        stack.extend(reversed(kids) if isinstance(kids, list) else [kids])
    return out

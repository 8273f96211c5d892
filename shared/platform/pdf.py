"""PDFs from plain data: a Jinja template under templates/pdf/ rendered by WeasyPrint.

Templates are given dicts, lists and dataclasses of strings and dates, never ORM objects. The URL fetcher
refuses everything except `data:` URLs and the app's own bundled stylesheet (`app:pdf.css`, read from
static/css/pdf.css): no file on the server and nothing on the network can be pulled into a document, even if
text from a record happened to contain a URL. Output is tagged PDF/UA-1 with the title and language set.
"""

from __future__ import annotations

from pathlib import Path

import pydyf
from flask import current_app
from weasyprint import HTML, Attachment, URLFetcher
from weasyprint.urls import URLFetcherResponse

BUNDLED_STYLESHEET = "app:pdf.css"
PDF_VARIANT = "pdf/ua-1"


class FetchRefused(ValueError):
    """A document asked for a resource outside data: URLs and the bundled stylesheet."""


class SafeURLFetcher(URLFetcher):
    def __init__(self, stylesheet_path: Path):
        super().__init__(timeout=1, allowed_protocols={"data"}, allow_redirects=False)
        self._stylesheet_path = stylesheet_path

    def fetch(self, url, headers=None):
        if url == BUNDLED_STYLESHEET:
            return URLFetcherResponse(url, self._stylesheet_path.read_bytes(), {"Content-Type": "text/css; charset=utf-8"})
        if url.lower().startswith("data:"):
            return super().fetch(url, headers)
        raise FetchRefused(f"refused to fetch {url[:60]!r}: only data: URLs and the bundled stylesheet")


def _page_references(pdf: pydyf.PDF) -> tuple[bytes, ...]:
    """pydyf's `PDF.page_references`, built once per page count instead of on every call.

    WeasyPrint's tagging asks for it once per node of the tag tree, and pydyf rebuilds the tuple of every
    page's reference each time: nodes x pages, quadratic in the length of the copy (5 s of a 2,000-entry copy).
    Pages are only ever appended (`PDF.add_page`), so the tuple is the same until the count of pages changes.
    """
    kids = pdf.pages["Kids"]
    key = (id(kids), len(kids))
    cached = pdf.__dict__.get("_page_references_cache")
    if cached is None or cached[0] != key:
        cached = pdf._page_references_cache = (key, tuple(f"{number} 0 R".encode("ascii") for number in kids[::3]))
    return cached[1]


def _cache_page_references() -> None:
    """Installed on the first PDF this app renders (not at import, so that the benchmark's bare WeasyPrint
    renders, made in processes that build the app, stay bare), and only on the pydyf it was written for:
    a later release may have its own fix or a different layout of its pages, and is then left alone."""
    current = pydyf.PDF.__dict__.get("page_references")
    if not pydyf.__version__.startswith("0.13.") or not isinstance(current, property) or current.fget is _page_references:
        return
    pydyf.PDF.page_references = property(_page_references)


def stylesheet_path() -> Path:
    return Path(current_app.static_folder) / "css" / "pdf.css"


def url_fetcher() -> SafeURLFetcher:
    return SafeURLFetcher(stylesheet_path())


def render_html(template_name: str, context: dict, *, title: str, lang: str = "en-GB") -> str:
    name = template_name if template_name.startswith("pdf/") else f"pdf/{template_name}"
    template = current_app.jinja_env.get_template(name)
    values = {"title": title, "lang": lang, **context}
    return template.render(**values, pdf_title=title, pdf_lang=lang, pdf_stylesheet=BUNDLED_STYLESHEET)


def html_to_pdf(html: str, *, title: str, lang: str = "en-GB", attachments: list[tuple[str, bytes]] = ()) -> bytes:
    _cache_page_references()
    document = HTML(string=html, base_url=BUNDLED_STYLESHEET, url_fetcher=url_fetcher()).render(pdf_variant=PDF_VARIANT)
    document.metadata.title = title
    document.metadata.lang = lang
    document.metadata.authors = ["Students' Unions' Advice Service"]
    files = [Attachment(string=data, name=name, url_fetcher=url_fetcher()) for name, data in attachments]
    return document.write_pdf(pdf_variant=PDF_VARIANT, attachments=files or None)


def render_pdf(
    template_name: str, context: dict, *, title: str, lang: str = "en-GB", attachments: list[tuple[str, bytes]] = ()
) -> bytes:
    """Render templates/pdf/<template_name> with `context` (plain data) to PDF bytes."""
    return html_to_pdf(render_html(template_name, context, title=title, lang=lang), title=title, lang=lang,
                       attachments=attachments)

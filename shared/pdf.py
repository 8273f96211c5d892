"""PDF rendering (MINIMAL placeholder: the lead replaces this module at merge with the shared one).

`render_pdf` renders a template to HTML and prints it with WeasyPrint. Nothing is fetched: the URL fetcher
refuses every URL, so a PDF can never pull in a remote resource or a local file.
"""

from __future__ import annotations

from flask import render_template
from weasyprint import HTML


class FetchRefused(Exception):
    pass


def _refuse(url: str, *args, **kwargs):
    raise FetchRefused(f"PDF rendering fetches nothing ({url[:40]})")


def render_pdf(template_name: str, context: dict, *, title: str, lang: str = "en-GB") -> bytes:
    html = render_template(template_name, **context, title=title, lang=lang)
    return HTML(string=html, url_fetcher=_refuse).write_pdf()

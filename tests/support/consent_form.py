"""The student's consent form as a browser fills it in: the details, the review page, the confirmation."""

from __future__ import annotations

import html
import re

from shared.subject_access.deadlines import add_months, service_today
from tests.factories_consent import TUTOR

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"')


def details(**overrides) -> dict:
    return {"recipient_name": TUTOR.name, "recipient_role": "Senior Tutor", "recipient_organisation": TUTOR.organisation,
            "recipient_contact": "tutor@fictional.example.ac.uk", "purpose": "So they can support my extension request.",
            "scopes": ["summary"], "case_id": "all", "expires_on": add_months(service_today(), 6).isoformat(), **overrides}


def hidden_fields(page: str) -> list[tuple[str, str]]:
    return [(name, html.unescape(value)) for name, value in HIDDEN.findall(page) if name != "csrf_token"]


def review(browser, **overrides):
    resp = browser.submit("/consents/new", details(**overrides))
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def confirm(browser, page: str, *, tick=True, name="Alex Fictional", url="/consents/confirm", page_url="/consents/new",
            **replace):
    fields = [(k, replace.pop(k) if k in replace else v) for k, v in hidden_fields(page)]
    data = {}
    for k, v in fields:
        data.setdefault(k, []).append(v)
    if tick:
        data["confirm"] = "y"
    data["typed_name"] = name
    return browser.submit(url, data, page=page_url)

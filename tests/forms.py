"""Finding the forms on a page and fuzzing them with Hypothesis.

Forms are discovered from the HTML a user is given, so a new form is fuzzed as soon as its page is in the
route table (tests/route_matrix.py). Values are hostile: random Unicode, control characters and null
bytes, very long strings, markup and script, template syntax, SQL, path tricks, wrong types (several
values for one field, a file for a text field), missing fields and extra fields.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from hypothesis import strategies as st

MARKER = "x-fuzz"  # every markup payload carries it; seeing "<x-fuzz" unescaped in a page is a failure
PAYLOADS = [
    f"<script>alert('{MARKER}')</script>",
    f'"><x-fuzz onmouseover=alert(1)>{MARKER}',
    f"'><img src=x onerror=alert(1) class={MARKER}><x-fuzz>",
    f"<x-fuzz>{MARKER}</x-fuzz>",
    f"{{{{7*7}}}}{MARKER}",
    f"{{% print 7*7 %}}{MARKER}",
    "'; DROP TABLE students; --",
    '" OR 1=1 --',
    "\x00",
    "a\x00b",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%00%0d%0aSet-Cookie: x=1",
    "\r\nLocation: https://evil.example/",
    "javascript:alert(1)",
    "\u202eevil\u202c",
    "\ufeff\u200b\u2028\u2029",
    "🙂" * 50,
    "Ω≈ç√∫˜µ≤≥÷ Zalgo ̵̡̢̛̗̘̙̜̝̞̟̠",
    "NaN",
    "-1",
    "²",  # a digit to str.isdigit, not to int()
    "٣",
    "9" * 20,  # digits a database integer cannot hold
    "-" + "9" * 12,
    "1e309",
    "9" * 400,
    "0x10",
    "2024-02-30",
    "0000-00-00",
    "true",
    "",
    " ",
]
LONG = st.sampled_from([255, 256, 1025, 5000, 100_000]).flatmap(
    lambda n: st.sampled_from(["a", "é", "<", "😀", " "]).map(lambda c: c * n)
)
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
HOSTILE_TEXT = st.one_of(
    ANY_TEXT,
    st.sampled_from(PAYLOADS),
    st.tuples(ANY_TEXT, st.sampled_from(PAYLOADS), ANY_TEXT).map("".join),
    LONG,
)
FILE_NAMES = st.one_of(
    st.sampled_from(
        [
            "../../etc/passwd",
            "..\\..\\boot.ini",
            "a\x00.pdf",
            ".htaccess",
            "con.txt",
            "x" * 300 + ".pdf",
            "<x-fuzz>.pdf",
            "report.pdf.exe",
            "",
            "/absolute/path.pdf",
            "résumé ü.pdf",
        ]
    ),
    ANY_TEXT,
)
FILE_CONTENTS = st.one_of(
    st.just(b""),
    st.binary(max_size=2048),
    st.sampled_from([b"%PDF-1.4\n%x-fuzz", b"PK\x03\x04" + b"\x00" * 26, b"MZ\x90\x00", b"<x-fuzz>" * 10]),
)


@dataclass
class Field:
    name: str
    kind: str  # input type, "textarea" or "select"
    options: list[str] = field(default_factory=list)


@dataclass
class Form:
    action: str  # absolute path
    method: str
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def fuzzable(self) -> dict[str, Field]:
        return {
            n: f for n, f in self.fields.items() if n != "csrf_token" and f.kind not in ("submit", "button")
        }


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "option":  # an option has no name of its own: it belongs to the select it is in
            if self._select is not None:
                self._select.options.append(a.get("value", ""))
            return
        if tag == "form":
            action = urljoin(self.page_url, a.get("action") or self.page_url)
            self._form = Form(urlsplit(action).path or "/", (a.get("method") or "get").upper())
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            existing = self._form.fields.get(a["name"])
            if kind in ("radio", "checkbox") and existing:
                existing.options.append(a.get("value") or "on")
            else:
                self._form.fields[a["name"]] = Field(a["name"], kind, [a.get("value") or "on"])
        elif tag == "textarea":
            self._form.fields[a["name"]] = Field(a["name"], "textarea")
        elif tag == "select":
            self._select = Field(a["name"], "select")
            self._form.fields[a["name"]] = self._select
        elif tag == "button":
            self._form.fields[a["name"]] = Field(a["name"], "submit", [a.get("value", "")])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_in(html: str, page_url: str, method: str = "POST") -> list[Form]:
    parser = _FormParser(page_url)
    parser.feed(html)
    return [f for f in parser.forms if f.method == method]


def _value_for(f: Field):
    if f.kind == "file":
        return st.tuples(FILE_CONTENTS, FILE_NAMES).map(lambda t: (io.BytesIO(t[0]), t[1]))
    if f.options and f.kind in ("select", "radio", "checkbox", "hidden"):
        return st.one_of(st.sampled_from(f.options), HOSTILE_TEXT)
    return HOSTILE_TEXT


@st.composite
def submissions(draw, form: Form) -> dict:
    """A hostile submission for `form`: each field's value, missing, doubled or a file; plus extra fields."""
    data = {}
    for name, f in form.fuzzable.items():
        shape = draw(st.sampled_from(["value", "value", "value", "missing", "several", "file"]))
        if shape == "value":
            data[name] = draw(_value_for(f))
        elif shape == "several":
            data[name] = draw(st.lists(HOSTILE_TEXT, min_size=2, max_size=3))
        elif shape == "file":
            data[name] = draw(_value_for(Field(name, "file")))
    extras = draw(
        st.dictionaries(
            st.text(st.characters(codec="utf-8"), min_size=1, max_size=20), HOSTILE_TEXT, max_size=3
        )
    )
    for name, value in extras.items():
        data.setdefault(name, value)
    return data


@st.composite
def queries(draw, form: Form) -> dict:
    """A hostile query string for a search or filter form (method GET), with a hostile page number too."""
    data = {}
    for name in [*form.fuzzable, "page"]:
        shape = draw(st.sampled_from(["value", "value", "missing", "several"]))
        if shape == "value":
            data[name] = draw(_value_for(form.fuzzable.get(name, Field(name, "text"))))
        elif shape == "several":
            data[name] = draw(st.lists(HOSTILE_TEXT, min_size=2, max_size=3))
    return data


def leaked_markup(html: str) -> str | None:
    """Markup from a payload that reached the page unescaped (or a template that was evaluated)."""
    lowered = html.lower()
    for needle in ("<x-fuzz", "<script>alert(", "<img src=x onerror", "49x-fuzz"):
        if needle in lowered:
            i = lowered.index(needle)
            return html[max(0, i - 80) : i + 80]
    return None


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), HOSTILE_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(ANY_TEXT, inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def json_bodies(draw, form: Form):
    """The wrong content type: a JSON body instead of a form (an object with the form's names, or not)."""
    names = list(form.fuzzable)
    if names and draw(st.booleans()):
        return draw(st.fixed_dictionaries({}, optional={n: JSON_VALUES for n in names}))
    return draw(JSON_VALUES)

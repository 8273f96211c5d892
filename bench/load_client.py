"""For the load-with-faults run (bench/load_faults.py): an HTTP client with cookies and form tokens, and who
is doing what (the world, each simulated person)."""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

FRIENDLY_503 = "The service is unavailable"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MARKER_RE = re.compile(r"load-[0-9a-f]{16}")
MAX_ATTEMPTS = 3  # a person tries a failed submission again, twice at most


FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
KEY_RE = re.compile(r'name="submission_key" value="([^"]+)"')


def form_keys(html: str, action: str) -> list[tuple[str, str]] | None:
    """The CSRF token and submission key of the page's form posting to `action` (or its first form)."""
    forms = [(attrs, body) for attrs, body in FORM_RE.findall(html) if CSRF_RE.search(body)]
    chosen = next((f for f in forms if f'action="{action}"' in f[0]), None) or next(
        (f for f in forms if "sign-out" not in f[0]), None)
    if chosen is None:
        return None
    fields = [("csrf_token", CSRF_RE.search(chosen[1]).group(1))]
    key = KEY_RE.search(chosen[1])
    return fields + ([("submission_key", key.group(1))] if key else [])


def new_marker() -> str:
    return f"load-{uuid.uuid4().hex[:16]}"


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (connection refused, reset or timed out)
    body: str = ""
    error: str = ""
    location: str = ""

    @property
    def failed_retryably(self) -> bool:
        """What a person would try again after: the service's 503 page, or no answer at all."""
        return self.status in (0, 503)


def _multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
              f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n" for name, filename, data, ctype in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Client:
    """One browser: keeps cookies and a keep-alive connection; every request it makes goes into `log`."""

    def __init__(self, port: int, cookies: dict | None = None, *, log: Log | None = None, who: str = ""):
        self.port = port
        self.cookies: dict[str, str] = dict(cookies or {})
        self.conn: http.client.HTTPConnection | None = None
        self.log = log
        self.who = who
        self.double_post_share = 0.0
        self.rng = random.Random(port)
        self.resent = 0  # posts sent again because their reply was lost
        self.double_posts: list[tuple[str, int, str]] = []  # (first redirect, second status, second redirect)

    def request(self, method: str, path: str, form=None, files=None) -> Reply:
        t = self.log.now() if self.log else 0.0
        reply = self._request(method, path, form, files)
        if self.log:
            self.log.request(self.who, path if method == "GET" else f"{method} {path}", reply, t)
        return reply

    def _request(self, method, path, form, files) -> Reply:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            fields = list(form.items()) if isinstance(form, dict) else list(form)
            if files:
                body, headers["Content-Type"] = _multipart(fields, files)
            else:
                body = urlencode(fields)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Reply(0, error=type(exc).__name__)
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "expires=thu, 01 jan 1970" not in header.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return Reply(response.status, text, location=response.getheader("Location", ""))

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def submit(self, path: str, form, *, action: str | None = None, files=None) -> tuple[Reply, bool]:
        """GET the page with the form for its CSRF token and submission key, then POST the form (to `action`,
        else the same path): (the POST's reply, or the failed GET's, and whether the POST was sent).

        As a browser does, a POST whose reply never came (the connection reset or dropped) is sent again at
        once with the same body, so the same submission key: the service must not save it twice. With
        `double_post_share`, that share of successful posts is also sent again right away (a double click)."""
        page = self.get(path)
        keys = form_keys(page.body, action or path) if page.status == 200 else None
        if keys is None:
            return page, False
        fields = keys + (list(form.items()) if isinstance(form, dict) else list(form))
        reply = self.request("POST", action or path, fields, files)
        if reply.status == 0:
            self.resent += 1
            reply = self.request("POST", action or path, fields, files)
        elif reply.status in (302, 303) and self.rng.random() < self.double_post_share:
            again = self.request("POST", action or path, fields, files)
            self.double_posts.append((reply.location, again.status, again.location))
        return reply, True

    def follow(self, reply: Reply) -> Reply:
        """The page a redirect leads to (the fragment is the browser's business)."""
        target = urlsplit(reply.location)
        return self.get(target.path + (f"?{target.query}" if target.query else ""))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class World:
    """What the simulated people share: every case in play (officers pick from it), the form's choices."""

    references: list = field(default_factory=list)
    colleges: list = field(default_factory=list)
    areas: list = field(default_factory=list)
    document_share: float = 0.3  # share of case submissions and messages that attach a document


@dataclass
class Actor:
    client: Client
    account_id: int | None
    references: list  # a student: their own open cases; an officer: the World's list
    world: World


@dataclass
class Log:
    started: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)  # the same moment on the wall clock (file times)
    requests: list = field(default_factory=list)  # (t sent, who, path, status, clean_503, error, t answered)
    submissions: list = field(default_factory=list)  # (t, write, key, success, last status, attempts)
    faults: dict = field(default_factory=dict)  # name -> [t_start, t_end]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def request(self, who: str, path: str, reply: Reply, t: float) -> None:
        clean = reply.status == 503 and FRIENDLY_503 in reply.body and "<html" in reply.body
        end = self.now()
        with self.lock:
            self.requests.append((t, who, path, reply.status, clean, reply.error, end))

    def submission(self, t: float, write: str, key: str, success: bool, status: int, attempts: int) -> None:
        with self.lock:
            self.submissions.append((t, write, key, success, status, attempts))


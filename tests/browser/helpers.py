"""Real-browser helpers: the app served by gunicorn as a user would run it, Debian's Chromium driven by
Playwright, axe-core on every page, and a screenshot plus the page's HTML in test-artifacts/ on failure.

A journey is a few lines:

    def test_officer_reads_the_dashboard(officer_page):
        visit(officer_page, "/staff/")            # goes there, checks the status, runs axe
        click(officer_page, "button", "Sign out")  # clicks, waits for the next page, runs axe

The server's database: SQLite in its own temporary instance folder; with TEST_DATABASE_URL (PostgreSQL),
a schema of its own (`live_<pid>`) in that database, selected through the connection's search_path,
created empty, migrated with `flask db upgrade` and dropped afterwards. The pytest `app` fixture only
ever drops and recreates `public`, so the two never see each other's tables, in whatever order they run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.plugin import tally
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or ""  # Debian's, found on PATH
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
HERE = Path(__file__).resolve().parent
STARTUP_SECONDS = 120  # for the live server's first answer


def why_no_browser() -> str | None:
    """Why the browser tests cannot run here, or None. Chromium must be there and start (a program of that
    name that cannot even say its version is no browser); tests/plugin.py prints how to install it."""
    if not CHROMIUM:
        return "no chromium on PATH (and CHROMIUM_PATH not set)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"CHROMIUM_PATH={CHROMIUM} is not a program"
    try:
        done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{CHROMIUM} does not start ({exc})"
    if done.returncode:
        said = " ".join((done.stderr or done.stdout).split())[:160]
        return f"{CHROMIUM} does not start (exit {done.returncode}: {said})"
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright or axe-playwright-python is not installed ({exc.name}): run `make install`"
    return None


# --- the live server ------------------------------------------------------------------------------


class LiveServer:
    """gunicorn wsgi:app on 127.0.0.1:<free port>, with its own instance folder and database."""

    def __init__(self, instance: Path):
        self.instance = instance
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.schema = None
        self.admin_url = None
        self.env = {
            **os.environ,
            "APP_ENV": "development",
            "INSTANCE_PATH": str(instance),
            "SERVICE_URL": self.url,
            "MAIL_BACKEND": "outbox",
            "RATELIMIT_LOGIN": "1000 per minute",
            "RATELIMIT_MFA": "1000 per minute",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST": "8",
            "ARGON2_PARALLELISM": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for name in ("MAIL_SERVER", "REDIS_URL", "RATELIMIT_STORAGE_URI", "FLASK_DEBUG", "DATABASE_URL"):
            self.env.pop(name, None)
        self.env["DATABASE_URL"] = self._database_url()
        self.proc = None
        self.logins: dict = {}
        self.statistics_month: dict = {}  # tests/browser/live_data.py: a month the publishable report may publish

    def _database_url(self) -> str:
        url = os.environ.get("TEST_DATABASE_URL")
        if not url or not url.startswith(("postgres://", "postgresql")):
            return f"sqlite:///{self.instance / 'live.db'}"
        from sqlalchemy import create_engine, text

        from shared.platform.config import database_url

        self.schema = f"live_{os.getpid()}"
        self.admin_url = database_url(url)
        engine = create_engine(self.admin_url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        engine.dispose()
        parts = urlsplit(url)
        query = parse_qsl(parts.query) + [("options", f"-csearch_path={self.schema}")]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def flask(self, *args: str) -> str:
        return self.python("-m", "flask", "--app", "wsgi", *args)

    def python(self, *args: str) -> str:
        """Python with the server's environment (its instance folder and database); its output."""
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> LiveServer:
        self.flask("db", "upgrade")
        self.logins = json.loads(self.flask("seed-demo", "--json"))
        self.statistics_month = json.loads(self.python("-m", "tests.browser.live_data"))
        self.log = open(self.instance / "gunicorn.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        # A worker imports the whole app (WeasyPrint included) before it answers: on a busy shared machine
        # that alone has taken over 30 seconds.
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{(self.instance / 'gunicorn.log').read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:  # noqa: S310 (our server)
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        log = (self.instance / "gunicorn.log").read_text()[-2000:]
        raise RuntimeError(f"gunicorn did not answer /healthz within {STARTUP_SECONDS} seconds:\n{log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()
        if self.schema:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.admin_url)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            engine.dispose()

    # The dev outbox writes every email to <instance>/mail/*.eml: read them as the user's inbox.
    def emails_to(self, address: str) -> list:
        folder = self.instance / "mail"
        found = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            if msg["To"].lower() == address.lower():
                found.append(msg)
        return found

    def link_in_latest_email(self, address: str, timeout: float = 5.0) -> str:
        """The first link to this server in the newest email to `address`."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.emails_to(address)
            if messages:
                body = messages[-1].get_content()
                match = re.search(re.escape(self.url) + r"\S+", body)
                assert match, f"no link in the email to {address}:\n{body}"
                return match.group(0)
            if time.monotonic() > deadline:
                raise AssertionError(f"no email to {address} in {self.instance / 'mail'}")
            time.sleep(0.1)


# --- pages ---------------------------------------------------------------------------------------


def artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:]


class Visits:
    """Every page load of a tab, and which of them axe has checked."""

    def __init__(self, page, base: str):
        self.loads: list[str] = []
        self.scanned: set[int] = set()
        page.on("framenavigated", lambda frame: self._navigated(page, frame, base))

    def _navigated(self, page, frame, base):
        if frame == page.main_frame and frame.url.startswith(base):
            self.loads.append(frame.url)


def new_page(context, live_server):
    page = context.new_page()
    page.visits = Visits(page, live_server.url)
    return page


_CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*"')
_ALREADY_CLEAN: set[str] = set()  # pages (minus their CSRF token) axe has passed in this run


def axe_check(page) -> None:
    """axe-core on the current page (WCAG 2.0/2.1/2.2 A and AA): zero violations, or fail with the report.
    A page identical to one already passed in this run (apart from its CSRF token) is not scanned again."""
    visits = getattr(page, "visits", None)
    if visits is not None and visits.loads:
        visits.scanned.add(len(visits.loads) - 1)
    fingerprint = hashlib.sha256(_CSRF_VALUE.sub(r"\1", page.content()).encode()).hexdigest()
    if fingerprint in _ALREADY_CLEAN:
        return
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    )
    tally("axe_pages")
    assert results.violations_count == 0, f"axe on {page.url}:\n{results.generate_report()}"
    _ALREADY_CLEAN.add(fingerprint)


def visit(page, path: str, status: int = 200):
    """Go to `path`, check the HTTP status, run axe."""
    resp = page.goto(path)
    assert resp is not None and resp.status == status, f"GET {path}: {resp.status if resp else 'no response'}"
    axe_check(page)
    return resp


def click(page, role: str, name: str, *, status: int | None = None):
    """Click the control with this accessible role and name, wait for the page it leads to, run axe."""
    with page.expect_navigation() as nav:
        page.get_by_role(role, name=name, exact=True).first.click()
    return _arrived(page, nav.value, status)


def press(page, key: str = "Enter", *, status: int | None = None):
    """Press a key on the focused control, wait for the page it leads to, run axe (keyboard journeys)."""
    with page.expect_navigation() as nav:
        page.keyboard.press(key)
    return _arrived(page, nav.value, status)


def _arrived(page, resp, status):
    if status is not None:
        assert resp is not None and resp.status == status, (
            f"{page.url}: {resp.status if resp else 'no response'}"
        )
    elif resp is not None:
        assert resp.status < 500, f"{page.url}: {resp.status}"
    page.wait_for_load_state()
    axe_check(page)
    return resp


def fill_form(page, answers: dict[str, str]) -> None:
    """Fill fields by their visible label."""
    for label, value in answers.items():
        page.get_by_label(label, exact=True).fill(value)


def focused(page) -> str:
    """The focused element's accessible text: its label, or its own text."""
    return page.evaluate(
        """() => { const e = document.activeElement; if (!e) return '';
        const label = e.labels && e.labels.length ? e.labels[0].innerText : '';
        return (label || e.getAttribute('aria-label') || e.innerText || e.value || '').trim(); }"""
    )


def tab_to(page, text: str, limit: int = 60) -> None:
    """Press Tab until the control whose label or text is `text` has focus (proves it is reachable)."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now == text:
            visible = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert visible != "none", f"'{text}' has focus but no visible focus indicator"
            return
        seen.append(now)
    raise AssertionError(f"could not reach '{text}' with Tab; focus went through {seen}")


# --- signed-in pages ------------------------------------------------------------------------------

SIGN_IN_PATH = {
    "student": "/sign-in",
    "officer": "/staff/sign-in",
    "manager": "/staff/sign-in",
    "admin": "/staff/sign-in",
}
HOME_PATH = {"student": "/home", "officer": "/staff/", "manager": "/staff/", "admin": "/staff/"}


_last_step: dict[str, int] = {}


def _unused_totp_code(secret: str, role: str) -> str:
    """The app accepts a code once (and one step either side of now): each sign-in as the same account
    takes the next unused time step, waiting for the clock when none is left in the window."""
    import pyotp

    while True:
        now_step = int(time.time()) // 30
        step = max(now_step, _last_step.get(role, -10) + 1)  # not now-1: the clock may move on first
        if step <= now_step + 1:
            _last_step[role] = step
            return pyotp.TOTP(secret).at(step * 30)
        time.sleep(1)


_signed_in_cookies: dict[str, list] = {}


def signed_in(page, live_server, role: str) -> None:
    """A tab signed in as `role`: through the sign-in form the first time in a run, then by giving a new
    profile the cookies of that sign-in while the server still honours them (staff codes work once, so
    each fresh staff sign-in waits for an unused TOTP step: about two a minute). A journey that is about
    signing in calls sign_in itself; if a test ended the session (signing out), the next one signs in."""
    saved = _signed_in_cookies.get(role)
    if saved:
        page.context.add_cookies(saved)
        response = page.goto(HOME_PATH[role])
        axe_check(page)
        if urlsplit(page.url).path == HOME_PATH[role]:
            assert response is not None and response.status == 200, f"{HOME_PATH[role]} answered {response}"
            return
        page.context.clear_cookies()  # that session has ended (a sign-out): sign in afresh
    sign_in(page, live_server, role)
    _signed_in_cookies[role] = page.context.cookies()


def sign_in(page, live_server, role: str) -> None:
    """Sign in through the real form as a demo account (seed-demo's logins), answering a TOTP prompt if shown."""
    login = live_server.logins[role]
    visit(page, SIGN_IN_PATH[role])
    fill_form(page, {"Email address": login["email"], "Password": login["password"]})
    click(page, "button", "Sign in")
    code = page.locator("input[autocomplete='one-time-code']")
    if code.count() and login.get("totp_secret"):

        code.first.fill(_unused_totp_code(login["totp_secret"], role))
        click(page, "button", page.locator("form button[type=submit]").first.inner_text().strip())
    assert urlsplit(page.url).path == HOME_PATH[role], f"signing in as {role} ended on {page.url}"

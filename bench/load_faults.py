"""Load with faults: `python -m bench.load_faults` (or `make load-faults`). Bounded in time, loopback only.

gunicorn (several workers) on PostgreSQL, with Redis for rate limits and the job queue, serves 50 simulated
students (submitting the casework form, sending messages on their cases, browsing) and 10 officers (signed
in with password and authenticator code; browsing the dashboard, the case list and case pages, and writing
entries) for --seconds. Meanwhile one worker is killed with SIGKILL and PostgreSQL is stopped for a few
seconds and started again. A person whose submission fails (the 503 page, or no answer) tries again, up to
three times, as a person would. Afterwards it checks, and prints on one screen: every submission that got a
success page is in the database exactly once; no partial records; errors only inside the fault windows, and
those were clean 503 pages (or, for the killed worker's in-flight requests, a dropped connection); no 500s;
the audit chain verifies; the app recovered by itself. Exit status 1 if any check fails.

PostgreSQL: by default a private throwaway cluster (initdb under /tmp, its own port), so restarting it
disturbs nobody else's database; `--system-cluster` restarts the machine's cluster instead (pg_ctlcluster),
and in every case the script makes sure that cluster is running again when it ends.

Adding a write: subclass `Write` and add it to WRITES. `who` says whether students or officers make it;
`new_key` picks what to write (a unique marker, and the case it goes on) or None if this actor cannot make
it now; `attempt` performs one try over HTTP (the success page must have been seen, so a 429 or an error page
is never a success); `count` says how many records hold each key (free text is encrypted at rest, so it
reads the records through the models and looks for the marker in the decrypted text); `partial` lists the
records created during the run that are incomplete. `--write` picks the writes (default: case, message and
entry; `--write register` is account registration).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench import harness

FRIENDLY_503 = "The service is unavailable"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MARKER_RE = re.compile(r"load-[0-9a-f]{16}")
MAX_ATTEMPTS = 3  # a person tries a failed submission again, twice at most


def new_marker() -> str:
    return f"load-{uuid.uuid4().hex[:16]}"


# --- an HTTP client with cookies and form tokens ----------------------------------------------------


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
        """GET the page with the form for its CSRF token, then POST the form (to `action`, else the same path):
        (the POST's reply, or the failed GET's, and whether the POST was sent)."""
        page = self.get(path)
        match = CSRF_RE.search(page.body) if page.status == 200 else None
        if match is None:
            return page, False
        fields = list(form.items()) if isinstance(form, dict) else list(form)
        return self.request("POST", action or path, [("csrf_token", match.group(1)), *fields], files), True

    def follow(self, reply: Reply) -> Reply:
        """The page a redirect leads to (the fragment is the browser's business)."""
        target = urlsplit(reply.location)
        return self.get(target.path + (f"?{target.query}" if target.query else ""))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- who is doing what ---------------------------------------------------------------------------


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


# --- pluggable writes --------------------------------------------------------------------------------


class Write:
    """One kind of submission, made by a student or an officer."""

    name = ""
    who = "student"

    def new_key(self, actor: Actor, rng: random.Random) -> str | None:
        """What to write: a key naming a unique marker (and where it goes), or None if not possible now."""
        raise NotImplementedError

    def attempt(self, actor: Actor, key: str, rng: random.Random) -> tuple[Reply, bool, bool]:
        """One try: (the last reply, whether the success page was seen, whether a person would try again)."""
        raise NotImplementedError

    def count(self, app, keys: list[str]) -> dict[str, int]:
        """How many records hold each key."""
        raise NotImplementedError

    def partial(self, app, before: dict) -> list[str]:
        """Records of this kind created during the run (ids above `before`) that are incomplete: must be empty."""
        return []


def _posted(actor: Actor, reply: Reply, posted: bool, expect_location: str, success_text: str):
    """The common end of a form: the POST redirected to `expect_location`, and the page there (the success
    page) says `success_text`. A 429 or any error page is never a success."""
    if not posted or reply.status != 302 or expect_location not in reply.location:
        return reply, False, reply.failed_retryably
    page = actor.client.follow(reply)
    # The record is stored once the POST redirected: a person who then sees an error page reloads that page,
    # they do not submit again.
    return page, page.status == 200 and success_text in page.body, False


def _document(marker: str) -> list[tuple[str, str, bytes, str]]:
    return [("documents", "evidence.txt", f"Fictional evidence for the load test, {marker}.\n".encode(), "text/plain")]


def _split(key: str) -> tuple[str, str]:
    where, _, marker = key.rpartition(":")
    return where, marker


def _marker_counts(pairs) -> Counter:
    """(where, decrypted text) pairs -> Counter of (where, marker) for every marker in the text."""
    found: Counter = Counter()
    for where, text in pairs:
        for marker in MARKER_RE.findall(text or ""):
            found[(str(where), marker)] += 1
    return found


def _subject_events(action: str, kind: str, ids) -> dict[str, list[dict]]:
    """The details of each `action` audit event naming one of these records as its subject, by record id."""
    from sqlalchemy import select

    from shared.models import AuditEvent
    from shared.platform.extensions import db

    ids = [str(i) for i in ids]
    found: dict[str, list[dict]] = {i: [] for i in ids}
    for chunk in range(0, len(ids), 500):
        for subject, details in db.session.execute(select(AuditEvent.subject_id, AuditEvent.details).where(
                AuditEvent.action == action, AuditEvent.subject_kind == kind,
                AuditEvent.subject_id.in_(ids[chunk:chunk + 500]))):
            found[subject].append(details or {})
    return found


def _record_problems(what: str, action: str, events: list[dict], text: str | None, docs=None) -> list[str]:
    """One record made during the run is whole: exactly one `action` event, its text, and (for records that
    carry documents) exactly the documents its event lists, each with its file."""
    problems = [] if len(events) == 1 else [f"{what} has {len(events)} {action} events"]
    if not text:
        problems.append(f"{what} has no text")
    if docs is not None:
        listed = events[0].get("documents") if events else None
        problems += [f"{what}: {p}" for p in _document_problems(docs, listed)]
    return problems


def _orphan_events(action: str, kind: str, model, before_audit: int) -> list[str]:
    """Events of the run that name a record which is not stored."""
    from sqlalchemy import select

    from shared.models import AuditEvent
    from shared.platform.extensions import db

    named = set(db.session.scalars(select(AuditEvent.subject_id).where(
        AuditEvent.action == action, AuditEvent.subject_kind == kind, AuditEvent.id > before_audit)))
    stored = {str(i) for i in db.session.scalars(select(model.id).where(model.id.in_([int(n) for n in named])))} \
        if named else set()
    return [f"a {action} event for {kind} {n}, which is not stored" for n in sorted(named - stored)]


def _document_problems(docs, listed) -> list[str]:
    """The documents a record's audit event lists are exactly its rows, and each row's file is there, opens
    and matches its checksum."""
    from shared.casework import documents
    from shared.platform.errors import NotFound

    problems = []
    if sorted(d.id for d in docs) != sorted(listed or []):
        problems.append(f"documents {sorted(d.id for d in docs)} but the audit event lists {sorted(listed or [])}")
    for doc in docs:
        try:
            data = documents.read_plaintext(doc)
        except NotFound:
            problems.append(f"document {doc.id} has no file")
            continue
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            problems.append(f"document {doc.id}'s file does not match its checksum")
    return problems


class CaseWrite(Write):
    """A student sends the casework form (sometimes with a document): the case, its documents, the profile
    and the `case.submitted` event are one transaction. Keyed by student id and a marker in 'what happened'."""

    name = "case"

    def new_key(self, actor, rng):
        return f"{actor.account_id}:{new_marker()}"

    def attempt(self, actor, key, rng):
        _student, marker = _split(key)
        world = actor.world
        form = [("full_name", f"Load Student {actor.account_id}"), ("faculty", "Physical Sciences"),
                ("college_code", rng.choice(world.colleges)), ("area_code", rng.choice(world.areas)),
                ("what_happened", f"{marker} The student has a difficulty with an assessment deadline "
                                  "(fictional, load test)."),
                ("outcome_wanted", "An extension."), ("urgency", "normal"), ("meeting_preference", "online"),
                ("safe_channels", "email"), ("action", "submit")]
        files = _document(marker) if rng.random() < world.document_share else None
        reply, posted = actor.client.submit("/ask", form, files=files)
        found = re.search(r"/cases/([^/]+)/received", reply.location) if reply.status == 302 else None
        if found and found.group(1) not in actor.references:
            actor.references.append(found.group(1))  # stored: the student may write on it now
            world.references.append(found.group(1))
        return _posted(actor, reply, posted, "/received", "We have received your form")

    def count(self, app, keys):
        from sqlalchemy import select

        from shared.models import Case
        from shared.platform.extensions import db

        students = sorted({int(_split(k)[0]) for k in keys})
        with app.app_context():
            found = _marker_counts((c.student_id, c.what_happened)
                                   for c in db.session.scalars(select(Case).where(Case.student_id.in_(students))))
        return {k: found[_split(k)] for k in keys}

    def partial(self, app, before):
        """A case is whole with its answers, the student's profile, exactly one `case.submitted` event, and
        the documents that event lists, each with its file."""
        from sqlalchemy import select

        from shared.models import Case, Document, StudentProfile
        from shared.platform.extensions import db

        problems = []
        with app.app_context():
            cases = db.session.scalars(select(Case).where(Case.id > before["cases"])).all()
            events = _subject_events("case.submitted", "cases", [c.id for c in cases])
            profiles = set(db.session.scalars(select(StudentProfile.student_id).where(
                StudentProfile.student_id.in_({c.student_id for c in cases}))))
            for case in cases:
                docs = db.session.scalars(select(Document).where(
                    Document.case_id == case.id, Document.message_id.is_(None),
                    Document.uploaded_by_student.is_(True))).all()
                problems += _record_problems(f"case {case.reference}", "case.submitted", events[str(case.id)],
                                             case.what_happened, docs)
                if case.student_id not in profiles:
                    problems.append(f"case {case.reference}: the student has no profile")
            problems += _orphan_events("case.submitted", "cases", Case, before["audit_events"])
        return problems


class MessageWrite(Write):
    """A student writes on one of their open cases (sometimes with a document): the message, its documents
    and the `message.sent` event are one transaction. Keyed by case reference and a marker in the body."""

    name = "message"

    def new_key(self, actor, rng):
        return f"{rng.choice(actor.references)}:{new_marker()}" if actor.references else None

    def attempt(self, actor, key, rng):
        reference, marker = _split(key)
        files = _document(marker) if rng.random() < actor.world.document_share else None
        reply, posted = actor.client.submit(
            f"/cases/{reference}", [("body", f"{marker} Here is an update on my situation (fictional).")],
            action=f"/cases/{reference}/messages", files=files)
        return _posted(actor, reply, posted, f"/cases/{reference}", "Your message has been sent.")

    def count(self, app, keys):
        from sqlalchemy import select

        from shared.models import Case, Message
        from shared.platform.extensions import db

        references = sorted({_split(k)[0] for k in keys})
        with app.app_context():
            rows = db.session.execute(select(Case.reference, Message).join(Message, Message.case_id == Case.id)
                                      .where(Case.reference.in_(references), Message.from_student.is_(True)))
            found = _marker_counts((reference, message.body) for reference, message in rows)
        return {k: found[_split(k)] for k in keys}

    def partial(self, app, before):
        from sqlalchemy import select

        from shared.models import Document, Message
        from shared.platform.extensions import db

        problems = []
        with app.app_context():
            messages = db.session.scalars(select(Message).where(Message.id > before["messages"])).all()
            events = _subject_events("message.sent", "messages", [m.id for m in messages])
            for message in messages:
                docs = db.session.scalars(select(Document).where(Document.message_id == message.id)).all()
                problems += _record_problems(f"message {message.id}", "message.sent", events[str(message.id)],
                                             message.body, docs)
            problems += _orphan_events("message.sent", "messages", Message, before["audit_events"])
        return problems


class EntryWrite(Write):
    """An officer adds an entry to a case: the entry, its first version and the `entry.added` event are one
    transaction. Keyed by case reference and a marker in the entry's text."""

    name = "entry"
    who = "officer"

    def new_key(self, actor, rng):
        return f"{rng.choice(actor.references)}:{new_marker()}" if actor.references else None

    def attempt(self, actor, key, rng):
        reference, marker = _split(key)
        form = [("entry-kind", rng.choice(["note", "advice", "action", "event"])), ("entry-occurred_on", ""),
                ("entry-occurred_time", ""), ("entry-text", f"{marker} Discussed the options (fictional).")]
        reply, posted = actor.client.submit(f"/staff/cases/{reference}", form,
                                            action=f"/staff/cases/{reference}/entries")
        return _posted(actor, reply, posted, f"/staff/cases/{reference}", "The entry has been added.")

    def count(self, app, keys):
        from sqlalchemy import select

        from shared.models import Case, CaseEntry, CaseEntryVersion
        from shared.platform.extensions import db

        references = sorted({_split(k)[0] for k in keys})
        with app.app_context():
            rows = db.session.execute(
                select(Case.reference, CaseEntryVersion).join(CaseEntry, CaseEntry.case_id == Case.id)
                .join(CaseEntryVersion, CaseEntryVersion.entry_id == CaseEntry.id)
                .where(Case.reference.in_(references), CaseEntryVersion.version == 1))
            found = _marker_counts((reference, version.text) for reference, version in rows)
        return {k: found[_split(k)] for k in keys}

    def partial(self, app, before):
        """An entry is whole with its first version (and every version up to its current one) and exactly
        one `entry.added` event."""
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from shared.models import CaseEntry
        from shared.platform.extensions import db

        problems = []
        with app.app_context():
            entries = db.session.scalars(select(CaseEntry).where(CaseEntry.id > before["case_entries"])
                                         .options(selectinload(CaseEntry.versions))).all()
            events = _subject_events("entry.added", "case_entries", [e.id for e in entries])
            for entry in entries:
                what = f"entry {entry.id}"
                versions = [v.version for v in entry.versions]
                if versions != list(range(1, entry.current_version + 1)):
                    problems.append(f"{what} has versions {versions}, current {entry.current_version}")
                problems += _record_problems(what, "entry.added", events[str(entry.id)],
                                             entry.versions[0].text if entry.versions else None)
            problems += _orphan_events("entry.added", "case_entries", CaseEntry, before["audit_events"])
        return problems


class RegisterWrite(Write):
    """Registration by a new visitor: a new student row and its `student.registered` audit event, in one
    transaction. Keyed by the new email address."""

    name = "register"

    def new_key(self, actor, rng):
        return f"load-{uuid.uuid4().hex[:16]}@example.ac.uk"

    def attempt(self, actor, key, rng):
        visitor = Client(actor.client.port, log=actor.client.log, who=actor.client.who)  # a fresh visitor
        password = "load test passphrase " + uuid.uuid4().hex[:8]
        reply, _posted_form = visitor.submit("/register", {"email": key, "password": password, "confirm": password})
        visitor.close()
        return reply, reply.status == 200 and "Check your email" in reply.body, reply.failed_retryably

    def count(self, app, keys):
        from sqlalchemy import func, select

        from shared.models import Student
        from shared.platform.extensions import db

        counts = dict.fromkeys(keys, 0)
        with app.app_context():
            for chunk in range(0, len(keys), 500):
                rows = db.session.execute(
                    select(Student.email, func.count()).where(Student.email.in_(keys[chunk:chunk + 500]))
                    .group_by(Student.email)
                )
                counts.update({email: n for email, n in rows})
        return counts

    def partial(self, app, before):
        from sqlalchemy import select

        from shared.models import AuditEvent, Student
        from shared.platform.extensions import db

        with app.app_context():
            every_student = set(db.session.scalars(select(Student.id)))
            load_students = set(db.session.scalars(select(Student.id).where(Student.email.like("load-%"))))
            audited = Counter(db.session.scalars(
                select(AuditEvent.student_id).where(AuditEvent.action == "student.registered")))
        problems = [f"student {s} has {audited[s]} registration events" for s in load_students if audited[s] != 1]
        problems += [f"a registration event for student {s}, who is not stored" for s in audited
                     if s not in every_student]
        return problems


WRITES: dict[str, Write] = {w.name: w for w in (CaseWrite(), MessageWrite(), EntryWrite(), RegisterWrite())}
DEFAULT_WRITES = ["case", "message", "entry"]
BASELINE_TABLES = ("cases", "messages", "case_entries", "documents", "audit_events", "students")


def baseline(app) -> dict[str, int]:
    """The highest id in each table before the run: records above it were made during the run."""
    from sqlalchemy import text

    from shared.platform.extensions import db

    with app.app_context():
        return {t: db.session.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {t}")) for t in BASELINE_TABLES}  # noqa: S608


def orphan_files(app, started_at: float) -> list[tuple[str, float]]:
    """Encrypted files in the document store with no document row, each with when it was written (seconds
    from the start of the run). A failed transaction removes its files; a worker killed between writing the
    file and committing could leave one."""
    from sqlalchemy import select

    from shared.casework import documents
    from shared.models import Document
    from shared.platform.extensions import db

    with app.app_context():
        folder = documents.storage_dir()
        on_disk = {p.name: p.stat().st_mtime for p in folder.iterdir()}
        rows = set(db.session.scalars(select(Document.uid)))
    return sorted((uid, round(at - started_at, 2)) for uid, at in on_disk.items() if uid not in rows)


# --- PostgreSQL that can be restarted ----------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


class PrivatePostgres:
    """A throwaway cluster under /tmp on its own port: restarting it disturbs nobody."""

    def __init__(self):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: float(p.parent.name))[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="perf_load_pg_"))
        self.data = self.dir / "data"
        self.port = harness.free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/perf_load"

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / args[0]), *args[1:]]), check=True, capture_output=True)  # noqa: S603

    def setup(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "perf_load")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-k /tmp -h 127.0.0.1 -p {self.port} -c max_connections=100", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def finish(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class SystemPostgres:
    """The machine's own cluster (pg_ctlcluster): always left running at the end."""

    def __init__(self):
        self.version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
        self.url = "postgresql://postgres@127.0.0.1:5432/perf_load"

    def _ctl(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action],  # noqa: S603,S607
                       check=True, capture_output=True)

    def setup(self) -> None:
        harness.create_postgres_database(self.url)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop")

    def finish(self) -> None:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode != 0:  # noqa: S603,S607
            self.start()


# --- the run -----------------------------------------------------------------------------------------


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


def perform(writes: list[Write], actor: Actor, log: Log, rng: random.Random, patience=time.sleep) -> None:
    """One submission of the first write this actor can make now, tried again (after reading the error page
    for a moment) while it fails with the 503 page or no answer."""
    for write in writes:
        key = write.new_key(actor, rng)
        if key is not None:
            break
    else:
        return
    t = log.now()
    for attempts in range(1, MAX_ATTEMPTS + 1):
        reply, success, again = write.attempt(actor, key, rng)
        if success or not again or attempts == MAX_ATTEMPTS:
            break
        patience(rng.uniform(1.0, 2.0))
    log.submission(t, write.name, key, success, reply.status, attempts)


def student_pages(actor: Actor, rng: random.Random) -> str:
    pages = ["/home", "/cases"]
    if actor.references:
        pages.append(f"/cases/{rng.choice(actor.references)}")
    return rng.choice(pages)


def officer_pages(actor: Actor, rng: random.Random) -> str:
    pages = ["/staff/", "/staff/cases", f"/staff/cases?page={rng.randint(2, 5)}", "/staff/cases?status=new"]
    if actor.references:
        pages += [f"/staff/cases/{rng.choice(actor.references)}"] * 3
    return rng.choice(pages)


def actor_loop(actor: Actor, writes: list[Write], write_share: float, pages, log: Log, stop: threading.Event,
               rng: random.Random) -> None:
    while not stop.is_set():
        if writes and rng.random() < write_share:
            perform(rng.sample(writes, len(writes)), actor, log, rng)
        else:
            actor.client.get(pages(actor, rng))
        stop.wait(rng.uniform(0.05, 0.4))
    actor.client.close()


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True,  # noqa: S603,S607
                         check=False).stdout
    return [int(p) for p in out.split()]


def faults(master: int, pg, log: Log, stop: threading.Event, *, kill_at: float, outage_at: float,
           outage_seconds: float) -> None:
    if stop.wait(kill_at):
        return
    victims = worker_pids(master)
    if victims:
        t = log.now()
        os.kill(victims[0], signal.SIGKILL)
        log.faults["worker_killed"] = [t, t]
        while log.now() - t < 30:  # until the master has replaced it
            pids = worker_pids(master)
            if victims[0] not in pids and len(pids) >= len(victims):
                break
            time.sleep(0.05)
        log.faults["worker_killed"][1] = log.now()
    if stop.wait(max(0.0, outage_at - log.now())):
        return
    t = log.now()
    log.faults["database_down"] = [t, None]
    pg.stop()
    time.sleep(outage_seconds)
    pg.start()
    log.faults["database_down"][1] = log.now()


def probe(port, log: Log, stop: threading.Event, seen: list) -> None:
    """/healthz every 100 ms: when the app answers again after each fault."""
    client = Client(port)
    while not stop.is_set():
        t = log.now()
        reply = client.get("/healthz")
        seen.append((t, reply.status))
        stop.wait(0.1)
    client.close()


def prepare_people(app, students: int, officers: int) -> dict:
    """The run's students (seed-scale's, each with their open cases) and officers (seed-scale's, enrolled in
    two-factor sign-in with a fresh secret and having accepted the policy), and the form's choices."""
    import pyotp
    from sqlalchemy import select

    from shared.casework import cases as casework
    from shared.demo.scale import SCALE_STAFF_PASSWORD
    from shared.models import Case, CaseStatus, Staff, Student
    from shared.platform.extensions import db
    from shared.security import mfa, staff_policy

    with app.app_context():
        ids = db.session.scalars(select(Student.id).where(Student.email.like("scale-%")).order_by(Student.id)).all()
        if len(ids) < students:
            raise SystemExit(f"only {len(ids)} seeded students for {students}: raise --seed-cases")
        student_ids = ids[:students]
        open_cases = {sid: [] for sid in student_ids}
        for sid, reference in db.session.execute(select(Case.student_id, Case.reference).where(
                Case.student_id.in_(student_ids), Case.status != CaseStatus.CLOSED.value).order_by(Case.id)):
            open_cases[sid].append(reference)
        staff = db.session.scalars(select(Staff).where(Staff.email.like("scale.officer%")).order_by(Staff.id)).all()
        if len(staff) < officers:
            raise SystemExit(f"only {len(staff)} seeded officers for {officers}")
        officer_logins = []
        for member in staff[:officers]:
            secret = pyotp.random_base32()
            mfa.enrol_for_demo(member, secret)
            staff_policy.record_for_seed(member)
            officer_logins.append((member.id, member.email, SCALE_STAFF_PASSWORD, secret))
        db.session.commit()
        colleges = [code for code, _label in casework.college_choices()]
        areas = [code for group in casework.area_groups().values() for code, _label in group]
    return {"students": open_cases, "officers": officer_logins, "colleges": colleges, "areas": areas}


def officer_sign_in(port: int, email: str, password: str, secret: str) -> dict:
    """The real two-step sign-in over HTTP: the password, then the authenticator's current code. The cookies
    of the signed-in browser."""
    import pyotp

    client = Client(port)
    reply, _ = client.submit("/staff/sign-in", {"email": email, "password": password})
    if reply.status != 302 or not reply.location.endswith("/staff/sign-in/code"):
        raise RuntimeError(f"{email}: the password step answered {reply.status} {reply.location}")
    reply, _ = client.submit("/staff/sign-in/code", {"code": pyotp.TOTP(secret).now()})
    if reply.status != 302 or "/sign-in" in reply.location:
        raise RuntimeError(f"{email}: the code step answered {reply.status} {reply.location}")
    if client.follow(reply).status != 200:
        raise RuntimeError(f"{email}: signed in, but the back office did not open")
    client.close()
    return client.cookies


def run(args) -> dict:
    from wsgi import create_app

    writes = [WRITES[name] for name in args.write]
    pg = SystemPostgres() if args.system_cluster else PrivatePostgres()
    instance = Path(tempfile.mkdtemp(prefix="perf_load_instance_"))  # the document store, shared by both sides
    report: dict = {"postgres": "system cluster" if args.system_cluster else "private throwaway cluster",
                    "workers": args.workers, "seconds": args.seconds, "students": args.students,
                    "officers": args.officers}
    redis_url = args.redis_url
    # Cheap password hashing: this run measures the app and its faults, not argon2 on 2 cores.
    cheap = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.setup()
        app = create_app(harness.bench_config(pg.url, RATELIMIT_STORAGE_URI=redis_url, INSTANCE_PATH=str(instance),
                                              **cheap))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        from shared.demo.scale import seed_scale

        with app.app_context():
            seed_scale(args.seed_cases)
        people = prepare_people(app, args.students, args.officers)
        before = baseline(app)
        env = {"REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url, "JOBS_MODE": "rq",
               "INSTANCE_PATH": str(instance),
               # The limits stay on (in Redis) but generous: every simulated person shares 127.0.0.1.
               "RATELIMIT_LOGIN": "100000 per minute", "RATELIMIT_MFA": "100000 per minute", **cheap}
        health: list = []
        stop = threading.Event()
        with harness.gunicorn(pg.url, workers=args.workers, app_path="wsgi:app", env_extra=env,
                              log_path=harness.RESULTS / "load-faults-gunicorn.log") as (proc, port):
            world = World(references=[r for refs in people["students"].values() for r in refs],
                          colleges=people["colleges"], areas=people["areas"], document_share=args.document_share)
            officer_cookies = [officer_sign_in(port, email, password, secret)
                               for _id, email, password, secret in people["officers"]]
            report["redis_limit_probe"] = redis_limit_probe(port, redis_url)
            log = Log()
            students = [Actor(Client(port, dict([harness.session_cookie(app, "student", {"sample_student_id": sid})]),
                                     log=log, who="student"), sid, list(refs), world)
                        for sid, refs in people["students"].items()]
            officers = [Actor(Client(port, cookies, log=log, who="officer"), oid, world.references, world)
                        for (oid, *_rest), cookies in zip(people["officers"], officer_cookies, strict=True)]
            student_writes = [w for w in writes if w.who == "student"]
            officer_writes = [w for w in writes if w.who == "officer"]
            threads = [threading.Thread(target=actor_loop, daemon=True, args=(
                actor, student_writes, args.write_share, student_pages, log, stop, random.Random(i)))
                for i, actor in enumerate(students)]
            threads += [threading.Thread(target=actor_loop, daemon=True, args=(
                actor, officer_writes, args.officer_write_share, officer_pages, log, stop, random.Random(1000 + i)))
                for i, actor in enumerate(officers)]
            threads.append(threading.Thread(target=probe, args=(port, log, stop, health), daemon=True))
            fault_thread = threading.Thread(target=faults, daemon=True, args=(proc.pid, pg, log, stop), kwargs={
                "kill_at": args.seconds * 0.25, "outage_at": args.seconds * 0.5, "outage_seconds": args.outage})
            for t in threads:
                t.start()
            fault_thread.start()
            stop.wait(args.seconds)
            stop.set()
            fault_thread.join(timeout=60)
            for t in threads:
                t.join(timeout=30)
            report["final_requests_ok"] = final_check(port, students[0], officers[0] if officers else None,
                                                      writes, log)
        report.update(analyse(app, writes, log, health, before))
        report["audit"] = harness.verify_timing(app)["result"]
        with app.app_context():
            from shared.platform.extensions import db

            db.engine.dispose()
    finally:
        pg.finish()
        shutil.rmtree(instance, ignore_errors=True)
    return report


def final_check(port: int, student: Actor, officer: Actor | None, writes: list[Write], log: Log) -> bool:
    """Recovered by itself (nobody restarted anything but the database): after the run, each page and each
    write works at the first try."""
    rng = random.Random(7)
    pages = [Client(port, student.client.cookies).get("/home"), Client(port).get("/healthz")]
    if officer is not None:
        pages.append(Client(port, officer.client.cookies).get("/staff/"))
    ok = all(r.status == 200 for r in pages)
    for write in writes:
        actor = student if write.who == "student" else officer
        key = write.new_key(actor, rng) if actor else None
        if key is None:
            continue
        actor.client.log = None  # not part of the run's traffic
        _reply, success, _again = write.attempt(actor, key, rng)
        log.submission(log.now(), write.name, key, success, _reply.status, 1)
        ok = ok and success
    return ok


def redis_limit_probe(port: int, url: str, attempts: int = 3) -> int:
    """Proof that the workers keep their rate-limit counters in Redis: `attempts` sign-ins with an
    address never used before, each from a new visitor (so any worker may answer), are counted together
    under that address in Redis. Returns the count found there (-1: Redis unreachable)."""
    import redis

    email = f"load-limit-probe-{uuid.uuid4().hex[:12]}@example.ac.uk"
    for _ in range(attempts):
        visitor = Client(port)
        visitor.submit("/staff/sign-in", {"email": email, "password": "not anyone's password"})
        visitor.close()
    try:
        store = redis.Redis.from_url(url)
        return sum(int(store.get(key) or 0) for key in store.scan_iter(f"LIMITS*{email}*", count=1000)
                   if store.type(key) == b"string")
    except redis.exceptions.RedisError:
        return -1


def analyse(app, writes: list[Write], log: Log, health: list, before: dict) -> dict:
    windows = {name: (start, end) for name, (start, end) in log.faults.items()}
    down = windows.get("database_down")
    killed = windows.get("worker_killed")

    # Recovery: from the database being started again to the first healthy answer.
    recovery = None
    if down and down[1] is not None:
        after = [t for t, status in health if t >= down[1] and status == 200]
        recovery = round(after[0] - down[1], 2) if after else None
    grace = (recovery or 0) + 1.0

    def during(window, sent: float, answered: float, after: float) -> bool:
        """The request was in flight (sent, waiting in gunicorn's queue, or being answered) in the window."""
        return bool(window) and sent <= (window[1] or 1e9) + after and answered >= window[0] - 0.5

    def allowed(sent: float, answered: float, status: int, clean: bool) -> bool:
        if status == 0:  # no answer: only the killed worker's in-flight requests
            return during(killed, sent, answered, 2.0)
        if status == 503 and clean:  # the friendly page, only while the database was away
            return during(down, sent, answered, grace)
        return False  # a 500, a 429, an unfriendly 503 or any other error is never acceptable

    kinds: Counter = Counter()
    outside = []
    for t, who, path, status, clean, error, *answered in log.requests:
        if status in (200, 302, 303):
            continue
        if status == 503:
            kind = "503 friendly page" if clean else "503 not the friendly page"
        else:
            kind = f"no answer ({error})" if status == 0 else f"HTTP {status}"
        kinds[kind] += 1
        if not allowed(t, answered[0] if answered else t, status, clean):
            outside.append((round(t, 2), who, path, status, error))

    by_write = {}
    for write in writes:
        subs = [s for s in log.submissions if s[1] == write.name]
        keys = list(dict.fromkeys(key for _t, _w, key, _ok, _s, _a in subs))
        counts = write.count(app, keys) if keys else {}
        succeeded = [key for _t, _w, key, ok, _s, _a in subs if ok]
        by_write[write.name] = {
            "submissions": len(subs), "succeeded": len(succeeded),
            "retried": sum(1 for s in subs if s[5] > 1),
            "lost": [k for k in succeeded if counts.get(k, 0) == 0],
            "duplicated": [k for k in keys if counts.get(k, 0) > 1],
            "unconfirmed": sum(1 for _t, _w, k, ok, _s, _a in subs if not ok and counts.get(k, 0) == 1),
            "failed": sum(1 for _t, _w, k, ok, _s, _a in subs if not ok and counts.get(k, 0) == 0),
            "partial": write.partial(app, before),
        }
    statuses = Counter(row[3] for row in log.requests)
    return {
        "requests": len(log.requests), "by_status": dict(sorted(statuses.items())),
        "by_who": dict(Counter(who for _t, who, *_rest in log.requests)),
        "errors_by_kind": dict(kinds), "errors_outside_fault_windows": outside[:20],
        "errors_outside_count": len(outside), "faults": {k: [round(v, 2) for v in w if v is not None]
                                                        for k, w in log.faults.items()},
        "writes": by_write, "orphan_files": orphan_files(app, log.started_at),
        "recovery_seconds": recovery,
        "http_500": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
    }


def render(report: dict) -> tuple[str, bool]:
    writes = report["writes"]
    partial = {name: w["partial"] for name, w in writes.items() if w["partial"]}
    checks = {
        "no lost submissions": not any(w["lost"] for w in writes.values()),
        "no duplicated submissions": not any(w["duplicated"] for w in writes.values()),
        "no partial records": not partial and not report["orphan_files"],
        "no 500s": report["http_500"] == 0,
        "errors only in fault windows, as clean 503s": report["errors_outside_count"] == 0,
        "audit chain verifies": report["audit"].startswith("OK"),
        "recovered by itself": report["final_requests_ok"] and report["recovery_seconds"] is not None,
        "rate limits counted in Redis": report.get("redis_limit_probe") == 3,
    }
    faults = report["faults"]
    killed, down = faults.get("worker_killed"), faults.get("database_down")
    lines = [
        f"Load with faults: {report['seconds']:g} s; gunicorn {report['workers']} workers; PostgreSQL "
        f"({report['postgres']}); Redis for rate limits and the job queue (no job in this mix)",
        f"People: {report['students']} students, {report['officers']} officers (signed in with password and "
        f"authenticator code); writes: {', '.join(writes)}",
        "Faults: " + "; ".join(filter(None, [
            killed and f"worker SIGKILL at {killed[0]} s (replaced by {killed[-1]} s)",
            down and f"PostgreSQL down {down[0]}-{down[-1]} s"])),
        f"Requests: {report['requests']} ({', '.join(f'{w} {n}' for w, n in report['by_who'].items())}); "
        f"by status: {report['by_status']}",
        f"Errors by kind: {report['errors_by_kind'] or 'none'}",
        f"  {'write':<8}{'tried':>6}{'success':>8}{'lost':>5}{'dupl.':>6}{'partial':>8}{'retried':>8}"
        f"   stored, answer lost   not stored (error seen)",
    ]
    for name, w in writes.items():
        lines.append(f"  {name:<8}{w['submissions']:>6}{w['succeeded']:>8}{len(w['lost']):>5}"
                     f"{len(w['duplicated']):>6}{len(w['partial']):>8}{w['retried']:>8}{w['unconfirmed']:>22}"
                     f"{w['failed']:>26}")
    lines += [
        f"Recovery after the database came back: {report['recovery_seconds']} s; sign-ins counted in Redis: "
        f"{report.get('redis_limit_probe')} of 3; document files without a row: {len(report['orphan_files'])}",
        f"Audit: {report['audit']}",
    ]
    if report["orphan_files"]:
        lines.append(f"Document files without a row (written at s): {[at for _uid, at in report['orphan_files']]}")
    if report["errors_outside_fault_windows"]:
        lines.append(f"Errors outside the fault windows: {report['errors_outside_fault_windows'][:5]}")
    for name, problems in partial.items():
        lines.append(f"Partial {name} records: {problems[:3]}")
    for name, w in writes.items():
        if w["lost"] or w["duplicated"]:
            lines.append(f"{name}: lost {w['lost'][:3]}, duplicated {w['duplicated'][:3]}")
    lines += [f"  [{'ok' if passed else 'FAIL'}] {name}" for name, passed in checks.items()]
    return "\n".join(lines), all(checks.values())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--officers", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--write", nargs="+", choices=sorted(WRITES), default=DEFAULT_WRITES,
                        help="the writes to make (students: case, message, register; officers: entry)")
    parser.add_argument("--write-share", type=float, default=0.3, help="share of student actions that write")
    parser.add_argument("--officer-write-share", type=float, default=0.25,
                        help="share of officer actions that write an entry")
    parser.add_argument("--document-share", type=float, default=0.3,
                        help="share of case forms and messages that attach a document")
    parser.add_argument("--outage", type=float, default=4.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--seed-cases", type=int, default=500)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--system-cluster", action="store_true",
                        help="restart the machine's PostgreSQL cluster instead of a private one")
    args = parser.parse_args(argv)
    report = run(args)
    text, ok = render(report)
    print(text)
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    out = harness.RESULTS / f"load-faults-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"JSON: {out.relative_to(harness.ROOT)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

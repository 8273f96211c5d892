"""For the load-with-faults run (bench/load_faults.py): the pluggable writes (case, message, entry,
registration), each able to say how many records hold its keys and which records made in the run are partial."""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections import Counter

from bench.load_client import MARKER_RE, Actor, Client, Reply, new_marker


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
    from shared.platform import blobs
    from shared.platform.extensions import db

    with app.app_context():
        store = blobs.store()
        uids = [name.split("/", 1)[1] for name in store.names() if name.startswith("documents/")]
        # A database store's rows carry no time: such an orphan shows as written at the start.
        on_disk = {uid: (store.path(documents.blob_name(uid)).stat().st_mtime if store.backend == "filesystem"
                         else started_at) for uid in uids}
        rows = set(db.session.scalars(select(Document.uid)))
    return sorted((uid, round(at - started_at, 2)) for uid, at in on_disk.items() if uid not in rows)


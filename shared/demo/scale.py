"""`flask --app wsgi seed-scale --cases N`: realistic, fictional data in bulk, for benchmarks (never production).

N cases over N/5 students (five cases each), about ten entries per case (each with its version rows, some
amended), messages, appointments, consents, disclosures (each resting on exactly one basis: a consent, or
rarely a breach record) and the audit events describing them. One extra case per run has 200 entries, for
the "long case page" benchmark.

It is fast because it writes with Core bulk inserts (no ORM objects), gives rows their ids itself (so no
round trip per row) and commits per batch of cases. It is still faithful: free text goes through
`shared.platform.crypto.encrypt_text` with the context the `encrypted` descriptor uses
(`{table}.{attribute}.{uid}`), so the app opens it; case references are unique (`ADV-YYYY-NNNNN`,
continuing each year's highest number); and audit events are appended through `audit.append_many`, so
`flask --app wsgi audit verify` still prints OK.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import click
from flask import Flask, current_app
from sqlalchemy import func, insert, select, text

from shared.audit import log as audit
from shared.models import (
    Appointment,
    BreachRecord,
    Case,
    CaseEntry,
    CaseEntryVersion,
    CaseStatus,
    Consent,
    ConsentWording,
    Disclosure,
    EntryKind,
    ListItem,
    ListKind,
    Message,
    Staff,
    Student,
    StudentProfile,
    utcnow,
)
from shared.platform.crypto import encrypt_text, new_uid
from shared.platform.extensions import db
from shared.platform.passwords import hash_password

CASES_PER_STUDENT = 5
BIG_CASE_ENTRIES = 200
SCALE_STAFF_PASSWORD = "scale staff passphrase"  # noqa: S105 - fictional benchmark accounts, never production
SCALE_STUDENT_PASSWORD = "scale student passphrase"  # noqa: S105
SCALE_STAFF = [("officer", f"scale.officer{i}@example.ac.uk") for i in range(1, 11)] + [
    ("manager", "scale.manager@example.ac.uk"),
    ("admin", "scale.admin@example.ac.uk"),
]

FIRST = ["Ada", "Bea", "Cal", "Dev", "Eli", "Fen", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lin", "Max", "Nia", "Oli",
         "Pip", "Quin", "Ravi", "Sol", "Tam", "Uma", "Vic", "Wren", "Xan", "Yas", "Zed"]
LAST = ["Ashdown", "Brackley", "Corran", "Dunmore", "Elsworth", "Fenwick", "Garside", "Holloway", "Ingram",
        "Jessop", "Kerridge", "Lomax", "Marlow", "Northcott", "Ormsby", "Pendle", "Quarry", "Rushton"]
FACULTIES = ["Arts and Humanities", "Biology", "Clinical Medicine", "Humanities and Social Sciences",
             "Physical Sciences", "Technology"]
YEARS = ["1st year", "2nd year", "3rd year", "4th year", "Masters", "PhD"]
RECIPIENTS = [("Dr Fictional Tutor", "Fictional College"), ("Disability Resource Centre", "University"),
              ("Student Registry", "University"), ("Hardship Fund", "University")]
SENTENCES = [
    "The student described a difficulty with an assessment deadline and the support offered so far.",
    "We discussed the options available under the relevant procedure and the likely timescales.",
    "The student will gather the evidence listed and send it through the portal.",
    "Officer explained how an appeal is considered and what a panel looks for.",
    "Agreed to check in again after the college has replied.",
    "The student is worried about their accommodation contract and the deposit.",
    "Reviewed the draft letter together and suggested some changes to the wording.",
    "Signposted to the counselling service, as the student asked about wellbeing support.",
]


@dataclass
class Ids:
    """Rows get their ids here, continuing from the table's highest id, so inserts need no RETURNING."""

    next: dict = field(default_factory=dict)

    def take(self, model, count: int = 1) -> int:
        if model not in self.next:
            self.next[model] = (db.session.scalar(select(func.max(model.id))) or 0) + 1
        first = self.next[model]
        self.next[model] += count
        return first


def encrypted_value(table: str, attribute: str, uid: str, plaintext: str) -> str:
    # Exactly what the `encrypted` descriptor stores: bound to table, attribute and the row's uid.
    return encrypt_text(plaintext, f"{table}.{attribute}.{uid}")


def _text(rng: random.Random, sentences: int = 2) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(sentences))


def _scale_staff() -> dict[str, list[int]]:
    """The fictional benchmark staff, created once and reused by later runs."""
    existing = {s.email: s for s in db.session.scalars(select(Staff).where(Staff.email.like("scale.%")))}
    password_hash = None
    for role, email in SCALE_STAFF:
        if email not in existing:
            password_hash = password_hash or hash_password(SCALE_STAFF_PASSWORD)
            staff = Staff(email=email, name=email.split("@")[0].replace(".", " ").title(), role=role,
                          job_title="Administrator" if role == "admin" else "Student Advisor",
                          password_hash=password_hash)
            db.session.add(staff)
            db.session.flush()
            audit.record("system", "staff.created", staff, role=role)
            existing[email] = staff
    db.session.commit()
    by_role: dict[str, list[int]] = {"officer": [], "manager": [], "admin": []}
    for role, email in SCALE_STAFF:
        by_role[role].append(existing[email].id)
    return by_role


def _codes(kind: ListKind) -> list[str]:
    codes = db.session.scalars(select(ListItem.code).where(ListItem.kind == kind.value, ListItem.active)).all()
    return list(codes) or ["other"]


def _wording() -> tuple[str, str, str]:
    wording = db.session.scalar(
        select(ConsentWording).where(ConsentWording.active).order_by(ConsentWording.id.desc()).limit(1)
    )
    if wording is not None:
        return wording.version, wording.sha256, wording.text
    shown = "I agree that the Advice Service may share what I have ticked with the person named, for the purpose given."
    return "seed-scale", hashlib.sha256(shown.encode()).hexdigest(), shown


def _reference_counters() -> dict[int, int]:
    """Each year's highest reference number so far, so new references never collide."""
    counters: dict[int, int] = {}
    for ref in db.session.scalars(select(Case.reference).where(Case.reference.like("ADV-%"))):
        parts = ref.split("-")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            year = int(parts[1])
            counters[year] = max(counters.get(year, 0), int(parts[2]))
    return counters


def fix_sequences(models) -> None:
    if db.engine.dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our own table names
            f"(SELECT COALESCE(max(id), 1) FROM \"{table}\"))"
        ))
    db.session.commit()


def seed_scale(cases: int, *, batch_size: int = 1000, seed: int = 42, progress=None) -> dict:
    """Create `cases` cases (plus one with BIG_CASE_ENTRIES entries) and everything around them."""
    started = time.perf_counter()
    rng = random.Random(seed)
    staff = _scale_staff()
    officers = staff["officer"]
    areas, colleges = _codes(ListKind.AREA), _codes(ListKind.COLLEGE)
    outcomes, methods = _codes(ListKind.OUTCOME), _codes(ListKind.CONTACT_METHOD)
    wording_version, wording_sha, shown_text = _wording()
    counters = _reference_counters()
    student_hash = hash_password(SCALE_STUDENT_PASSWORD)  # one hash for every fictional student: fast
    ids = Ids()
    now = utcnow()
    span = timedelta(days=3 * 365)
    total = cases + 1  # the extra one is the long case
    counts = dict.fromkeys(
        ("students", "cases", "entries", "versions", "messages", "appointments", "consents", "disclosures",
         "breach_records", "audit_events"), 0)
    summary: dict = {"big_case_id": None, "sample_case_id": None, "sample_student_id": None}

    for start in range(0, total, batch_size):
        rows: dict = {m: [] for m in (Student, StudentProfile, Case, CaseEntry, CaseEntryVersion, Message,
                                      Appointment, Consent, BreachRecord, Disclosure)}
        events: list[dict] = []
        student_id = None
        for i in range(start, min(start + batch_size, total)):
            big = i == total - 1
            if i % CASES_PER_STUDENT == 0 or student_id is None:
                student_id = ids.take(Student)
                full_name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                college = rng.choice(colleges)
                faculty, year = rng.choice(FACULTIES), rng.choice(YEARS)
                registered = now - span + span * (i / total) - timedelta(days=1)
                rows[Student].append({"id": student_id, "email": f"scale-{student_id}@example.ac.uk",
                                      "password_hash": student_hash, "email_confirmed_at": registered,
                                      "created_at": registered})
                rows[StudentProfile].append({
                    "id": ids.take(StudentProfile), "uid": new_uid(), "student_id": student_id,
                    "full_name": full_name, "college_code": college, "faculty": faculty, "course": faculty,
                    "year_of_study": year, "crsid": f"sc{student_id}", "safe_channels": "email",
                    "may_leave_message": False, "updated_at": registered,
                })
                events.append({"action": "student.registered", "at": registered, "actor": None,
                               "subject": ("students", student_id), "student_id": student_id})
            opened = now - span + span * (i / total) + timedelta(minutes=rng.randint(0, 600))
            opened = min(opened, now)
            counters[opened.year] = counters.get(opened.year, 0) + 1
            case_id, case_uid = ids.take(Case), new_uid()
            age = now - opened
            status = (CaseStatus.CLOSED if age > timedelta(days=60) and rng.random() < 0.9
                      else rng.choice([CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.OPEN, CaseStatus.WAITING]))
            if big:
                status = CaseStatus.OPEN
            closed = status == CaseStatus.CLOSED
            officer = None if status == CaseStatus.NEW else rng.choice(officers)
            rows[Case].append({
                "id": case_id, "uid": case_uid, "reference": f"ADV-{opened.year}-{counters[opened.year]:05d}",
                "student_id": student_id, "status": status.value, "area_code": rng.choice(areas),
                "college_code": college, "faculty": faculty, "year_of_study": year,
                "contact_method": rng.choice(methods), "urgency": rng.choice(["normal", "normal", "soon", "urgent"]),
                "deadline": (opened + timedelta(days=rng.randint(7, 60))).date() if rng.random() < 0.3 else None,
                "meeting_preference": rng.choice(["in_person", "online", "phone", None]),
                "private_room": rng.random() < 0.1,
                "what_happened_enc": encrypted_value("cases", "what_happened", case_uid, _text(rng, 3)),
                "outcome_wanted_enc": encrypted_value("cases", "outcome_wanted", case_uid, _text(rng, 1)),
                "accessibility_enc": None, "assigned_to_id": officer, "opened_at": opened,
                "first_response_at": None if officer is None else opened + timedelta(hours=rng.randint(1, 72)),
                "closed_at": opened + timedelta(days=rng.randint(3, 60)) if closed else None,
                "outcome_code": rng.choice(outcomes) if closed else None, "anonymised_at": None,
            })
            events.append({"action": "case.submitted", "at": opened, "actor": ("student", student_id),
                           "subject": ("cases", case_id), "student_id": student_id, "case_id": case_id})
            if big:
                summary["big_case_id"] = case_id
            elif summary["sample_case_id"] is None and officer is not None:
                summary["sample_case_id"], summary["sample_student_id"] = case_id, student_id

            author = officer or rng.choice(officers)
            n_entries = BIG_CASE_ENTRIES if big else rng.randint(8, 12)
            first_entry = ids.take(CaseEntry, n_entries)
            for k in range(n_entries):
                entry_id = first_entry + k
                occurred = opened + timedelta(hours=6 * (k + 1))
                amended = rng.random() < 0.1
                rows[CaseEntry].append({"id": entry_id, "case_id": case_id, "kind": rng.choice(list(EntryKind)).value,
                                        "occurred_at": occurred, "author_id": author, "created_at": occurred,
                                        "current_version": 2 if amended else 1})
                for version in (1, 2) if amended else (1,):
                    uid = new_uid()
                    rows[CaseEntryVersion].append({
                        "id": ids.take(CaseEntryVersion), "uid": uid, "entry_id": entry_id, "version": version,
                        "text_enc": encrypted_value("case_entry_versions", "text", uid, _text(rng, 2)),
                        "reason_enc": encrypted_value("case_entry_versions", "reason", uid, "Corrected a date.")
                        if version == 2 else None,
                        "edited_by_id": author, "edited_at": occurred + timedelta(minutes=5 * version),
                    })
            for k in range(rng.randint(0, 4)):
                uid, from_student = new_uid(), k % 2 == 0
                sent = opened + timedelta(hours=3 * k + 1)
                rows[Message].append({
                    "id": ids.take(Message), "uid": uid, "case_id": case_id, "from_student": from_student,
                    "staff_id": None if from_student else author,
                    "body_enc": encrypted_value("messages", "body", uid, _text(rng, 1)), "sent_at": sent,
                    "read_at": sent + timedelta(hours=2),
                })
            if rng.random() < 0.5:
                rows[Appointment].append({
                    "id": ids.take(Appointment), "case_id": case_id,
                    "starts_at": opened + timedelta(days=rng.randint(1, 14)), "duration_minutes": 45,
                    "mode": rng.choice(["in_person", "online", "phone"]), "location": "Advice Service office",
                    "private_room": False, "officer_id": author, "created_by_id": author, "cancelled_at": None,
                })
            if rng.random() < 0.25:
                consent_id, uid = ids.take(Consent), new_uid()
                name, org = rng.choice(RECIPIENTS)
                granted = opened + timedelta(days=1)
                withdrawn = granted + timedelta(days=30) if rng.random() < 0.1 else None
                rows[Consent].append({
                    "id": consent_id, "uid": uid, "receipt_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "student_id": student_id, "case_id": case_id, "recipient_name": name,
                    "recipient_role": None, "recipient_organisation": org, "recipient_contact": None,
                    "purpose_enc": encrypted_value("consents", "purpose", uid, "To support the student's appeal."),
                    "scopes": ["attendance", "summary"], "document_ids": [], "granted_at": granted,
                    "expires_at": granted + timedelta(days=365), "withdrawn_at": withdrawn,
                    "withdrawn_by": "student" if withdrawn else None, "collection_method": "portal",
                    "recorded_by_id": None, "evidence_document_id": None, "evidence_note_enc": None,
                    "wording_version": wording_version, "wording_sha256": wording_sha,
                    "shown_text_enc": encrypted_value("consents", "shown_text", uid, shown_text), "typed_name": full_name,
                })
                events.append({"action": "consent.granted", "at": granted, "actor": ("student", student_id),
                               "subject": ("consents", consent_id), "student_id": student_id, "case_id": case_id})
                if rng.random() < 0.6:
                    _disclosure(rows, ids, events, rng, student_id, case_id, author, granted + timedelta(days=2),
                                name, org, consent_id=consent_id)
            if i % 500 == 499:
                breach_id, uid = ids.take(BreachRecord), new_uid()
                decided = opened + timedelta(days=1)
                rows[BreachRecord].append({
                    "id": breach_id, "uid": uid, "student_id": student_id, "case_id": case_id, "ground": "safety",
                    "situation_enc": encrypted_value("breach_records", "situation", uid, "A fictional safety concern."),
                    "achieves_enc": encrypted_value("breach_records", "achieves", uid, "Urgent support for the student."),
                    "recipient_name": "Duty Tutor", "recipient_organisation": "Fictional College",
                    "decided_by_id": author, "decided_at": decided, "student_told": True,
                    "student_told_at": decided, "not_told_reason_enc": None,
                })
                events.append({"action": "breach.recorded", "at": decided, "actor": ("staff", author),
                               "subject": ("breach_records", breach_id), "student_id": student_id,
                               "case_id": case_id})
                _disclosure(rows, ids, events, rng, student_id, case_id, author, decided, "Duty Tutor",
                            "Fictional College", breach_record_id=breach_id)

        for model, batch in rows.items():  # dict order is foreign-key order
            if batch:
                db.session.execute(insert(model.__table__), batch)
        counts["audit_events"] += audit.append_many(events)
        db.session.commit()
        for key, model in (("students", Student), ("cases", Case), ("entries", CaseEntry),
                           ("versions", CaseEntryVersion), ("messages", Message), ("appointments", Appointment),
                           ("consents", Consent), ("disclosures", Disclosure), ("breach_records", BreachRecord)):
            counts[key] += len(rows[model])
        if progress:
            progress(counts["cases"], total)

    fix_sequences([Student, StudentProfile, Case, CaseEntry, CaseEntryVersion, Message, Appointment, Consent,
                    BreachRecord, Disclosure])
    return {**counts, **summary, "officer_ids": officers, "manager_id": staff["manager"][0],
            "admin_id": staff["admin"][0], "seconds": round(time.perf_counter() - started, 1)}


def describe() -> dict:
    """What a benchmark needs to know about data seed-scale made earlier (ids to sign in as and to visit),
    read back from the database, so a seeded database can be reused from any checkout."""
    staff = {s.email: s.id for s in db.session.scalars(select(Staff).where(Staff.email.like("scale.%")))}
    sample = db.session.execute(
        select(Case.id, Case.student_id).where(Case.assigned_to_id.is_not(None)).order_by(Case.id).limit(1)
    ).one()
    return {
        "cases": db.session.scalar(select(func.count(Case.id))),
        "students": db.session.scalar(select(func.count(Student.id))),
        "big_case_id": db.session.scalar(select(func.max(Case.id))),  # the long case is each run's last
        "sample_case_id": sample.id,
        "sample_student_id": sample.student_id,
        "officer_ids": [staff[email] for role, email in SCALE_STAFF if role == "officer"],
        "manager_id": staff["scale.manager@example.ac.uk"],
        "admin_id": staff["scale.admin@example.ac.uk"],
    }


def _disclosure(rows, ids, events, rng, student_id, case_id, officer, at, name, org, **basis) -> None:
    disclosure_id, uid = ids.take(Disclosure), new_uid()
    rows[Disclosure].append({
        "id": disclosure_id, "uid": uid, "student_id": student_id, "case_id": case_id,
        "consent_id": basis.get("consent_id"), "breach_record_id": basis.get("breach_record_id"),
        "scope": "summary", "recipient_name": name, "recipient_organisation": org,
        "method": rng.choice(["email", "phone", "letter"]),
        "what_enc": encrypted_value("disclosures", "what", uid, "A short summary of the case."),
        "disclosed_at": at, "disclosed_by_id": officer,
    })
    events.append({"action": "disclosure.recorded", "at": at, "actor": ("staff", officer),
                   "subject": ("disclosures", disclosure_id), "student_id": student_id, "case_id": case_id})


def init_app(app: Flask) -> None:
    @app.cli.command("seed-scale")
    @click.option("--cases", type=click.IntRange(min=1), default=1000, show_default=True)
    @click.option("--batch-size", type=click.IntRange(min=10), default=1000, show_default=True)
    @click.option("--seed", type=int, default=42, show_default=True, help="Random seed: same seed, same data.")
    def seed_scale_command(cases, batch_size, seed):
        """Bulk fictional data for benchmarks: N cases over N/5 students (never in production)."""
        if current_app.config["PRODUCTION"]:
            raise click.ClickException("seed-scale is not available in production mode.")

        def progress(done, total):
            if done % 10000 < batch_size or done == total:
                click.echo(f"  {done:>7}/{total} cases", err=True)

        result = seed_scale(cases, batch_size=batch_size, seed=seed, progress=progress)
        click.echo(
            f"Seeded {result['cases']} cases for {result['students']} students in {result['seconds']} s: "
            f"{result['entries']} entries ({result['versions']} versions), {result['messages']} messages, "
            f"{result['appointments']} appointments, {result['consents']} consents, "
            f"{result['disclosures']} disclosures, {result['audit_events']} audit events. "
            f"Long case: id {result['big_case_id']}."
        )

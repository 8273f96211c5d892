"""A student's copy of their records, as plain data (dataclasses of strings and dates, never ORM objects).

`collect(student_id, case_id=None, redactions=...)` gathers everything the service holds about one
student: their details, and per case the casework form answers, the timeline (events, advice, action,
meetings, officers' notes and reflective-practice notes: all personal data), documents, appointments and
messages; their consents with full history; and disclosures with their basis. Every query is filtered by
that student's id, so nobody else's data can enter the copy.

Left out, always: anything resting on a breach record on the terrorism ground (the law forbids tipping
off), and anything a reviewer redacted. A redaction of a whole item drops it; a redacted passage is
replaced by a marker wherever it occurs in that item.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shared.casework import conflicts, documents
from shared.casework.cases import MEETING, STUDENT_STATUS
from shared.casework.intake import CHANNELS, URGENCY
from shared.consent.giving import how_given
from shared.consent.history import basis_for_student, visible_to_student
from shared.models import (
    Appointment,
    Case,
    CaseEntry,
    Consent,
    Disclosure,
    Document,
    ListItem,
    Message,
    PersonInvolved,
    RedactionTarget,
    ReflectiveFlag,
    Staff,
    Student,
    StudentProfile,
    utcnow,
)
from shared.platform import clock
from shared.platform.extensions import db

WITHHELD = "[withheld: information about another person]"
INCLUDED_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

ENTRY_KIND_LABELS = {
    "event": "Event",
    "advice": "Advice given",
    "action": "Action taken",
    "note": "Officer's note",
    "meeting": "Meeting",
    "reflective": "Reflective practice note",
}


@dataclass
class Fact:
    label: str
    value: str


@dataclass
class Item:
    """One redactable thing: what the reviewer sees and the copy shows."""

    kind: str  # a RedactionTarget
    id: int
    heading: str
    when: datetime | date | None = None
    text: str = ""
    facts: list[Fact] = field(default_factory=list)
    withheld_passages: int = 0
    earlier: list[Item] = field(default_factory=list)  # earlier wordings of an entry
    entry_id: int | None = None  # for an entry's wording: the entry, which can be withheld whole

    @property
    def when_text(self) -> str:
        if isinstance(self.when, datetime):
            return format_moment(self.when)
        return format_day(self.when) if self.when else ""


@dataclass
class DocumentInfo:
    item: Item
    content_type: str
    size_bytes: int
    included_as: str | None = None  # 'image' | 'pdf' | None
    data_uri: str | None = None  # for images, when files are loaded
    pdf_bytes: bytes | None = None  # for PDFs, attached to the copy when files are loaded


@dataclass
class CaseRecord:
    id: int
    reference: str
    facts: list[Fact]
    form: Item | None
    timeline: list[Item]
    documents: list[DocumentInfo]
    appointments: list[Fact]
    messages: list[Item]


@dataclass
class StudentRecord:
    student_id: int
    email: str
    name: str
    details: Item
    cases: list[CaseRecord]
    consents: list[Item]
    disclosures: list[Item]
    withheld_items: int = 0

    @property
    def entry_count(self) -> int:
        return sum(len(c.timeline) + len(c.messages) + len(c.documents) for c in self.cases)


@dataclass(frozen=True)
class RedactionRule:
    target_kind: str
    target_id: int
    passage: str | None


class _Redactor:
    def __init__(self, rules: Iterable[RedactionRule]):
        self.whole: set[tuple[str, int]] = set()
        self.passages: dict[tuple[str, int], list[str]] = {}
        for rule in rules:
            key = (rule.target_kind, rule.target_id)
            if rule.passage:
                self.passages.setdefault(key, []).append(rule.passage)
            else:
                self.whole.add(key)
        self.withheld_items = 0

    def hidden(self, kind: str, id_: int) -> bool:
        if (kind, id_) in self.whole:
            self.withheld_items += 1
            return True
        return False

    def apply(self, item: Item) -> Item:
        """Replace every redacted passage of this item, in its text and its facts."""
        for passage in self.passages.get((item.kind, item.id), ()):
            count = item.text.count(passage)
            for fact in item.facts:
                count += fact.value.count(passage)
                fact.value = fact.value.replace(passage, WITHHELD)
            item.text = item.text.replace(passage, WITHHELD)
            item.withheld_passages += count
        return item


def _facts(*pairs: tuple[str, object]) -> list[Fact]:
    out = []
    for label, value in pairs:
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        elif isinstance(value, datetime):
            value = format_moment(value)
        elif isinstance(value, date):
            value = format_day(value)
        out.append(Fact(label, str(value)))
    return out


format_day = clock.format_day
format_moment = clock.format_moment


def _labels() -> dict[tuple[str, str], str]:
    return {(i.kind, i.code): i.label for i in db.session.scalars(select(ListItem))}


def _staff_names(ids: set[int]) -> dict[int, str]:
    ids.discard(None)
    if not ids:
        return {}
    return {s.id: f"{s.name} ({s.job_title})" for s in db.session.scalars(select(Staff).where(Staff.id.in_(ids)))}


def _read_document(doc: Document) -> bytes | None:
    try:
        return documents.read_plaintext(doc)
    except Exception:  # noqa: BLE001 - a missing or unreadable file is listed, not included
        current_app.logger.warning("Document %s could not be read for an access copy", doc.id)
        return None


def collect(
    student_id: int,
    case_id: int | None = None,
    redactions: Iterable[RedactionRule] = (),
    *,
    load_files: bool = False,
) -> StudentRecord:
    red = _Redactor(redactions)
    student = db.session.get(Student, student_id)
    if student is None:
        raise LookupError("no such student")
    labels = _labels()
    profile = db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == student_id))

    details = Item(RedactionTarget.PROFILE.value, profile.id if profile else 0, "Your details")
    details.facts = _facts(("Email address", student.email), ("Account created", student.created_at))
    if profile is not None:
        details.facts += _facts(
            ("Full name", profile.full_name),
            ("Preferred name", profile.preferred_name),
            ("Pronouns", profile.pronouns),
            ("College", labels.get(("college", profile.college_code or ""), profile.college_code)),
            ("Faculty or department", profile.faculty),
            ("Course", profile.course),
            ("Year of study", profile.year_of_study),
            ("CRSid", profile.crsid),
            ("Phone", profile.phone),
            ("Safe ways to contact you", ", ".join(CHANNELS.get(c, c) for c in (profile.safe_channels or "").split(",") if c)),
            ("We may leave a message", profile.may_leave_message),
            ("Notes about contacting you", profile.contact_notes),
            ("Accessibility needs", profile.accessibility_needs),
        )
        red.apply(details)
    name = (profile.full_name if profile and profile.full_name else student.email)

    case_stmt = select(Case).where(Case.student_id == student_id).order_by(Case.opened_at, Case.id)
    if case_id is not None:
        case_stmt = case_stmt.where(Case.id == case_id)
    cases = list(db.session.scalars(case_stmt))
    case_ids = [c.id for c in cases]

    entries = _by_case(db.session.scalars(
        select(CaseEntry).where(CaseEntry.case_id.in_(case_ids)).order_by(CaseEntry.occurred_at, CaseEntry.id)
        .options(selectinload(CaseEntry.versions))  # every wording in one query, not one query per entry
    ))
    flags = _by_case(db.session.scalars(
        select(ReflectiveFlag).where(ReflectiveFlag.case_id.in_(case_ids)).order_by(ReflectiveFlag.flagged_at)
    ))
    messages = _by_case(db.session.scalars(
        select(Message).where(Message.case_id.in_(case_ids)).order_by(Message.sent_at, Message.id)
    ))
    appointments = _by_case(db.session.scalars(
        select(Appointment).where(Appointment.case_id.in_(case_ids)).order_by(Appointment.starts_at)
    ))
    documents = _by_case(db.session.scalars(
        select(Document)
        .where(Document.student_id == student_id, Document.case_id.in_(case_ids), Document.deleted_at.is_(None))
        .order_by(Document.uploaded_at, Document.id)
    ))
    # The people the student told us about are the student's own information; those an officer added are not.
    people = _by_case(db.session.scalars(
        select(PersonInvolved).where(PersonInvolved.case_id.in_(case_ids), PersonInvolved.added_by_student.is_(True))
        .order_by(PersonInvolved.id)
    ))
    staff_ids = {c.assigned_to_id for c in cases}
    for group in entries.values():
        for e in group:
            staff_ids.add(e.author_id)
            staff_ids.update(v.edited_by_id for v in e.versions)
    for group in (*flags.values(), *messages.values(), *appointments.values(), *documents.values()):
        for row in group:
            staff_ids.update(filter(None, (getattr(row, a, None) for a in (
                "flagged_by_id", "staff_id", "officer_id", "uploaded_by_staff_id"))))
    names = _staff_names(staff_ids)

    records = []
    for case in cases:
        records.append(_case_record(
            case, labels, names, red,
            entries.get(case.id, []), flags.get(case.id, []), messages.get(case.id, []),
            appointments.get(case.id, []), documents.get(case.id, []), load_files, people.get(case.id, []),
        ))

    consents = _consents(student_id, case_id, red)
    disclosures = _disclosures(student_id, case_id, red, names)
    return StudentRecord(student_id, student.email, name, details, records, consents, disclosures, red.withheld_items)


def _by_case(rows) -> dict[int, list]:
    out: dict[int, list] = {}
    for row in rows:
        out.setdefault(row.case_id, []).append(row)
    return out


def _person_text(person: PersonInvolved, labels) -> str:
    parts = [conflicts.relation_label(person.relation),
             labels.get(("college", person.college_code or ""), person.college_code), person.organisation, person.email]
    return f"{person.name} ({', '.join(p for p in parts if p)})"


def _case_record(case, labels, names, red, entries, flags, messages, appointments, documents, load_files,
                 people=()):
    facts = _facts(
        ("Reference", case.reference),
        ("Area", labels.get(("area", case.area_code), case.area_code)),
        ("Status", STUDENT_STATUS.get(case.status, case.status)),
        ("Opened", case.opened_at),
        ("Closed", case.closed_at),
        ("Outcome", labels.get(("outcome", case.outcome_code or ""), case.outcome_code)),
        ("Officer", names.get(case.assigned_to_id)),
        ("How you contacted us", labels.get(("contact_method", case.contact_method), case.contact_method)),
        ("College", labels.get(("college", case.college_code or ""), case.college_code)),
        ("Faculty or department", case.faculty),
        ("Year of study", case.year_of_study),
        ("Urgency", URGENCY.get(case.urgency, case.urgency)),
        ("Your deadline", case.deadline),
        ("Meeting preference", MEETING.get(case.meeting_preference or "", case.meeting_preference)),
        ("Private room", case.private_room),
    )
    form = None
    if not red.hidden(RedactionTarget.CASE.value, case.id):
        form = red.apply(Item(
            RedactionTarget.CASE.value, case.id, "Your casework form", case.opened_at,
            facts=_facts(
                ("What happened", case.what_happened),
                ("What you would like to happen", case.outcome_wanted),
                ("Accessibility needs", case.accessibility_needs),
                *(("Someone else involved", _person_text(p, labels)) for p in people),
            ),
        ))

    timeline: list[Item] = []
    for entry in entries:
        if red.hidden(RedactionTarget.ENTRY.value, entry.id):
            continue
        versions = [v for v in entry.versions if not red.hidden(RedactionTarget.ENTRY_VERSION.value, v.id)]
        if not versions:
            continue
        current, earlier = versions[-1], versions[:-1]
        item = _version_item(entry, current, names, red, ENTRY_KIND_LABELS.get(entry.kind, entry.kind.capitalize()))
        item.facts = _facts(("Recorded by", names.get(entry.author_id))) + item.facts
        item.earlier = [_version_item(entry, v, names, red, f"Earlier wording (version {v.version})") for v in earlier]
        timeline.append(item)
    for flag in flags:
        if red.hidden(RedactionTarget.FLAG.value, flag.id):
            continue
        timeline.append(red.apply(Item(
            RedactionTarget.FLAG.value, flag.id, ENTRY_KIND_LABELS["reflective"], flag.flagged_at, flag.reason or "",
            facts=_facts(("Raised by", names.get(flag.flagged_by_id)), ("Discussed", flag.discussed_at)),
        )))
    timeline.sort(key=lambda i: i.when)

    docs = []
    for doc in documents:
        if red.hidden(RedactionTarget.DOCUMENT.value, doc.id):
            continue
        item = red.apply(Item(
            RedactionTarget.DOCUMENT.value, doc.id, doc.title or "Untitled document", doc.uploaded_at,
            facts=_facts(
                ("Uploaded by", "You" if doc.uploaded_by_student else names.get(doc.uploaded_by_staff_id, "An officer")),
                ("Type", doc.content_type),
                ("Size", f"{max(1, round(doc.size_bytes / 1024))} KB"),
            ),
        ))
        info = DocumentInfo(item, doc.content_type, doc.size_bytes)
        if doc.content_type in INCLUDED_IMAGE_TYPES:
            info.included_as = "image"
        elif doc.content_type == "application/pdf":
            info.included_as = "pdf"
        if load_files and info.included_as:
            data = _read_document(doc)
            if data is None:
                info.included_as = None
            elif info.included_as == "image":
                info.data_uri = f"data:{doc.content_type};base64,{base64.b64encode(data).decode()}"
            else:
                info.pdf_bytes = data
        docs.append(info)

    appts = []
    for a in appointments:
        when = format_moment(a.starts_at)
        what = f"{a.duration_minutes} minutes, {a.mode.replace('_', ' ')}"
        if a.location:
            what += f", {a.location}"
        if a.officer_id:
            what += f", with {names.get(a.officer_id, 'an officer')}"
        if a.cancelled_at:
            what += " (cancelled)"
        appts.append(Fact(when, what))

    msgs = []
    for m in messages:
        if red.hidden(RedactionTarget.MESSAGE.value, m.id):
            continue
        who = "You" if m.from_student else names.get(m.staff_id, "The Advice Service")
        msgs.append(red.apply(Item(RedactionTarget.MESSAGE.value, m.id, f"From {who}", m.sent_at, m.body or "")))

    return CaseRecord(case.id, case.reference, facts, form, timeline, docs, appts, msgs)


def _version_item(entry, version, names, red, heading) -> Item:
    item = Item(
        RedactionTarget.ENTRY_VERSION.value, version.id, heading, entry.occurred_at, version.text or "",
        facts=_facts(("Amended by", names.get(version.edited_by_id)), ("Reason for amending", version.reason))
        if version.version > 1 else [],
    )
    item.entry_id = entry.id
    red.apply(item)
    # a passage redacted on the entry applies to every wording of it
    entry_view = Item(RedactionTarget.ENTRY.value, entry.id, "", text=item.text, facts=item.facts)
    red.apply(entry_view)
    item.text, item.withheld_passages = entry_view.text, item.withheld_passages + entry_view.withheld_passages
    return item


def _consents(student_id: int, case_id: int | None, red: _Redactor) -> list[Item]:
    stmt = select(Consent).where(Consent.student_id == student_id).order_by(Consent.granted_at, Consent.id)
    if case_id is not None:
        stmt = stmt.where((Consent.case_id == case_id) | Consent.case_id.is_(None))
    out = []
    for c in db.session.scalars(stmt):
        if red.hidden(RedactionTarget.CONSENT.value, c.id):
            continue
        recipient = ", ".join(filter(None, (c.recipient_name, c.recipient_role, c.recipient_organisation)))
        history = [f"Given on {format_moment(c.granted_at)} ({how_given(c)})"]
        if c.withdrawn_at:
            by = "you" if c.withdrawn_by == "student" else "the service"
            history.append(f"Withdrawn by {by} on {format_moment(c.withdrawn_at)}")
        history.append(f"{'Expired' if _past(c.expires_at) else 'Expires'} on {format_moment(c.expires_at)}")
        out.append(red.apply(Item(
            RedactionTarget.CONSENT.value, c.id, f"Consent to share with {recipient}", c.granted_at,
            c.purpose or "",
            facts=_facts(
                ("Receipt", c.receipt_id),
                ("What may be shared", ", ".join(s.replace("_", " ") for s in c.scopes)),
                ("Recipient contact", c.recipient_contact),
                ("History", "; ".join(history)),
                ("Wording you agreed to", f"version {c.wording_version}"),
                ("Name you typed", c.typed_name),
            ),
        )))
    return out


def _past(moment: datetime) -> bool:
    return moment <= utcnow()


def _disclosures(student_id: int, case_id: int | None, red: _Redactor, names: dict) -> list[Item]:
    stmt = (select(Disclosure).where(Disclosure.student_id == student_id, visible_to_student())
            .order_by(Disclosure.disclosed_at, Disclosure.id))
    if case_id is not None:
        stmt = stmt.where(Disclosure.case_id == case_id)
    rows = list(db.session.scalars(stmt))
    extra = _staff_names({d.disclosed_by_id for d in rows} - set(names))
    out = []
    for d in rows:
        if red.hidden(RedactionTarget.DISCLOSURE.value, d.id):
            continue
        basis = basis_for_student(d)  # the same words as the portal's disclosure history (and it refuses the rest)
        if d.breach_record_id is not None:
            basis += f" (decided {format_moment(d.breach_record.decided_at)}): {d.breach_record.situation}"
        out.append(red.apply(Item(
            RedactionTarget.DISCLOSURE.value, d.id,
            f"To {d.recipient_name}, {d.recipient_organisation}", d.disclosed_at, d.what or "",
            facts=_facts(
                ("Basis", basis),
                ("What was shared", d.scope.replace("_", " ")),
                ("How", d.method.replace("_", " ")),
                ("Shared by", names.get(d.disclosed_by_id) or extra.get(d.disclosed_by_id)),
            ),
        )))
    return out

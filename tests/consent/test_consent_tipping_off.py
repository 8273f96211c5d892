"""No tipping off by inference: two students with the same history, except that one has a breach record on
the terrorism ground with a disclosure resting on it, see exactly the same things. Every page they can reach
(walked from the home page and every portal page the route table lists), every download (the copy of their
records, consent receipts), every email sent to them, and the outcome of their erasure request must be the
same once ids, references, emails, form tokens and times are masked."""

from __future__ import annotations

import html
import io
import json
import re
from collections import deque
from datetime import timedelta
from urllib.parse import urldefrag, urlparse

import pytest
from pypdf import PdfReader
from pypdf.errors import PyPdfError as PdfError
from sqlalchemy import select

from shared.consent import gate
from shared.lifecycle import retention
from shared.models import AccessRequest, Case, Consent, Document, ErasureRequest, Student, utcnow
from shared.platform.extensions import db
from shared.platform.mail import sent_messages
from shared.subject_access import requests as access
from tests import factories_access as fa
from tests.factories import PASSWORD, make_staff, make_student
from tests.factories_consent import TERRORISM_RECIPIENT, breach_proposal, consulted_breach
from tests.route_matrix import RULES
from tests.support.web import Browser, signed_in, without_form_keys

SECRET = TERRORISM_RECIPIENT
OUTCOME = "We have erased what our rules allow us to erase."


@pytest.fixture
def colleague(ctx):
    return make_staff(email="colleague@example.ac.uk", name="Jo Colleague", job_title="Welfare and Rights Officer")


def record_terrorism_breach(officer, colleague, case: Case):
    """A breach record on the terrorism ground, with the disclosure resting on it, through the procedure."""
    proposal = breach_proposal(colleague, ground="terrorism", situation="TT-SITUATION", achieves="TT-ACHIEVES",
                               recipient_name="TT Officer", recipient_organisation=SECRET)
    return consulted_breach(officer, colleague, case, proposal=proposal, recipient_name="TT Officer",
                            recipient_organisation=SECRET, what="TT-WHAT was disclosed")


def twin_history(student: Student, officer, colleague, *, terrorism: bool) -> dict:
    """One open case carrying one of everything and one closed case shared with a tutor under consent; on the
    terrorism twin, that closed case also has a terrorism-ground breach record and its disclosure."""
    made = fa.make_full_record(student, officer)
    closed = fa.make_case(student, officer=officer, status="closed", opened_at=utcnow() - timedelta(days=60),
                          closed_at=utcnow() - timedelta(days=30), what_happened="A housing deposit was kept.")
    tutor = fa.make_consent(student, purpose="To tell my tutor about the deposit")
    gate.record_disclosure(officer, student, "summary", gate.Recipient(tutor.recipient_name, tutor.recipient_organisation),
                           what="Shared the deposit summary with consent", method="email", case=closed)
    if terrorism:
        record_terrorism_breach(officer, colleague, closed)
    return {"open": made["case"], "closed": closed}


def release_copy(staff, student) -> AccessRequest:
    req = access.request_copy(student)
    fa.review_and_release(staff, req)  # rendered at once in the tests (JOBS_MODE=sync)
    return db.session.get(AccessRequest, req.id)


# --- what the student can see, with what legitimately differs between two people masked --------------------

TIME = re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\b")
LONG_NUMBER = re.compile(r"\b\d{9,}\b")  # epoch seconds in a receipt
TOKEN = re.compile(r"[A-Za-z0-9_\-]{24,}(\.[A-Za-z0-9_\-]+)*")  # CSRF tokens, nonces, signed links, hashes
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
ATTRIBUTE_NUMBER = re.compile(r'(="[^"]*?)\d+')  # ids in links, form actions and element ids


class Student_:
    """What one twin's masking knows: the literals that name them and their objects, in a fixed order."""

    def __init__(self, student: Student, cases: list[Case]):
        self.email = student.email
        self.literals = [(student.email, "EMAIL")]
        self.literals += [(c.reference, f"CASE{i}") for i, c in enumerate(cases)]
        consents = db.session.scalars(select(Consent).where(Consent.student_id == student.id).order_by(Consent.id)).all()
        requests = db.session.scalars(select(AccessRequest).where(AccessRequest.student_id == student.id)
                                      .order_by(AccessRequest.id)).all()
        self.literals += [(r.reference, f"SAR{i}") for i, r in enumerate(requests)]
        self.literals += [(c.receipt_id, f"RECEIPT{i}") for i, c in enumerate(consents)]
        self.values = {
            "reference": [c.reference for c in cases], "consent_id": [c.id for c in consents],
            "request_id": [r.id for r in requests],
            "document_id": list(db.session.scalars(select(Document.id).where(Document.student_id == student.id)
                                                   .order_by(Document.id))),
        }

    def mask(self, text: str) -> str:
        text = without_form_keys(text)
        for literal, token in self.literals:
            text = text.replace(literal, token)
        for prefix, key in (("consents", "consent_id"), ("records", "request_id"), ("documents", "document_id")):
            for i, value in enumerate(self.values[key]):  # each object keeps its own place in the address
                text = re.sub(rf"/{prefix}/{value}\b", f"/{prefix}/{key[0].upper()}{i}", text)
        for pattern, token in ((UUID, "UUID"), (TOKEN, "TOKEN"), (TIME, "TIME"), (LONG_NUMBER, "EPOCH")):
            text = pattern.sub(token, text)
        text = re.sub(r"(?<=/)\d+\b", "#", text)  # ids in addresses
        while ATTRIBUTE_NUMBER.search(text):
            text = ATTRIBUTE_NUMBER.sub(r"\1#", text)
        return text

    def masked_url(self, url: str) -> str:
        return self.mask(url)


def _portal_urls(app, who: Student_) -> list[str]:
    """Every GET page of the portal a signed-in student may open, for each of their objects."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("portal.") or "GET" not in rule.methods:
            continue
        if RULES.get(rule.endpoint) is None or RULES[rule.endpoint].name != "STUDENT":
            continue
        if not set(rule.arguments) <= set(who.values):
            continue
        combos = [{}]
        for arg in rule.arguments:
            combos = [{**c, arg: v} for c in combos for v in who.values[arg]]
        for values in combos:
            urls.append(re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m, v=values: str(v[m.group(1)]), rule.rule))
    return urls


def _pdf(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        reader.pages[0]
    except PdfError:  # a student's own upload need not be a real PDF: compare its bytes
        return f"[a file of {len(data)} bytes that is not a readable PDF]"
    pages = [re.sub(r"-\s+", "-", " ".join((page.extract_text() or "").split())) for page in reader.pages]
    attachments = sorted(reader.attachments) if reader.attachments else []
    return f"[{len(pages)} pages, attachments {attachments}]\n" + "\n".join(pages)


def _read(resp) -> str:
    data = resp.get_data()
    if resp.mimetype == "application/pdf":
        body = _pdf(data)
    elif resp.mimetype == "application/json":
        body = json.dumps(json.loads(data), indent=1, sort_keys=True)
    else:
        body = html.unescape(data.decode())
    location = re.sub(r"\d+", "#", resp.headers.get("Location", ""))
    return f"{resp.status_code} {resp.mimetype} {location}\n{body}"


def _links(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


def crawl(app, student: Student, who: Student_) -> dict[str, str]:
    """Everything the student can reach, by masked address."""
    browser = signed_in(app, student, PASSWORD, "portal")
    seen: dict[str, str] = {}
    queue = deque(["/home", *_portal_urls(app, who)])
    visited = set()
    while queue:
        url = queue.popleft()
        if url in visited:
            continue
        visited.add(url)
        resp = browser.get(url)
        page = _read(resp)
        assert resp.status_code < 500, f"{url}: {page[:300]}"
        seen[who.masked_url(url)] = who.mask(page)
        if resp.mimetype == "text/html":
            for link in _links(page):
                link, _ = urldefrag(html.unescape(link))
                parts = urlparse(link)
                if parts.netloc or not parts.path.startswith("/") or parts.path.startswith(("/staff", "/static")):
                    continue
                queue.append(link)
    return seen


def emails_to(who: Student_) -> list[str]:
    return [who.mask(f"{m['Subject']}\n{m.get_content()}") for m in sent_messages() if m["To"] == who.email]


def assert_same(plain: dict[str, str], hidden: dict[str, str]) -> None:
    assert sorted(plain) == sorted(hidden), "the two students can reach different pages"
    for url in plain:
        assert plain[url] == hidden[url], f"{url} differs between the two students"
    assert not any(SECRET in page or "TT-" in page or retention.SILENT_BREACH in page for page in hidden.values())


# --- the twins -----------------------------------------------------------------------------------------------


@pytest.fixture
def twins(app, db, officer, colleague, manager):
    plain, hidden = make_student("plain.twin@example.ac.uk"), make_student("hidden.twin@example.ac.uk")
    made = {}
    for student, terrorism in ((plain, False), (hidden, True)):
        cases = twin_history(student, officer, colleague, terrorism=terrorism)
        release_copy(manager, student)
        made[student.id] = cases
    return plain, hidden, made


def test_a_terrorism_ground_record_changes_nothing_the_student_can_see(app, db, twins):
    plain, hidden = twins[0], twins[1]
    views = []
    for student in (plain, hidden):
        cases = twins[2][student.id]
        who = Student_(student, [cases["open"], cases["closed"]])
        views.append((crawl(app, student, who), emails_to(who)))
    (plain_pages, plain_mail), (hidden_pages, hidden_mail) = views
    assert "/records/R0/download" in plain_pages and "/consents/C1/receipt.pdf" in plain_pages
    assert "Shared the deposit summary with consent" in plain_pages["/consents/history"]
    assert_same(plain_pages, hidden_pages)
    assert plain_mail == hidden_mail and any("ready" in m for m in plain_mail)


def _erase(app, manager_browser, student: Student) -> ErasureRequest:
    """The student asks in the portal; the manager erases what the rules allow, telling both the same."""
    browser = signed_in(app, student, PASSWORD, "portal")
    resp = browser.submit("/erasure", {"details": "Please erase everything you can.", "confirm": "y"})
    assert resp.status_code == 302
    req = db.session.scalar(select(ErasureRequest).where(ErasureRequest.student_id == student.id))
    resp = manager_browser.submit(f"/staff/admin/erasure/{req.id}", {"decision": "erase", "outcome": OUTCOME})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.expire_all()
    return db.session.get(ErasureRequest, req.id)


def test_erasure_with_an_open_case_reads_the_same_with_a_terrorism_ground_record(app, db, twins, manager_browser):
    plain, hidden, made = twins
    for req in db.session.scalars(select(AccessRequest)):  # a month on: the copies can no longer be downloaded
        req.download_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    views = []
    for student in (plain, hidden):
        who = Student_(student, [made[student.id]["open"], made[student.id]["closed"]])
        req = _erase(app, manager_browser, student)
        assert req.status == "partly"  # the open case is kept, and the student is told so
        views.append((crawl(app, student, who), emails_to(who)))
    (plain_pages, plain_mail), (hidden_pages, hidden_mail) = views
    assert "Partly done" in plain_pages["/erasure"] and OUTCOME in plain_pages["/erasure"]
    assert_same(plain_pages, hidden_pages)
    assert plain_mail == hidden_mail
    # the closed case the erasure reached is gone from both students' portals; the record itself is kept
    kept = db.session.get(Case, made[hidden.id]["closed"].id)
    assert kept.anonymised_at is None and kept.what_happened == "A housing deposit was kept."
    # the reason is in the staff record only
    req = db.session.scalar(select(ErasureRequest).where(ErasureRequest.student_id == hidden.id))
    staff_page = html.unescape(manager_browser.get(f"/staff/admin/erasure/{req.id}").get_data(as_text=True))
    assert "never tell the student" in staff_page and kept.reference in staff_page and retention.SILENT_BREACH in staff_page


def test_erasure_of_everything_reads_the_same_with_a_terrorism_ground_record(app, db, officer, colleague, manager_browser,
                                                                             client):
    outcomes = []
    for email, terrorism in (("plain.twin@example.ac.uk", False), ("hidden.twin@example.ac.uk", True)):
        student = make_student(email)
        closed = fa.make_case(student, officer=officer, status="closed", opened_at=utcnow() - timedelta(days=60),
                              closed_at=utcnow() - timedelta(days=30), what_happened="A housing deposit was kept.")
        tutor = fa.make_consent(student, case=closed)
        gate.record_disclosure(officer, student, "summary", gate.Recipient(tutor.recipient_name, tutor.recipient_organisation),
                               what="Shared with consent", method="email", case=closed)
        if terrorism:
            record_terrorism_breach(officer, colleague, closed)
        who = Student_(student, [closed])
        req = _erase(app, manager_browser, student)
        signed_in = Browser(client).submit("/sign-in", {"email": email, "password": PASSWORD})
        outcomes.append((req.status, emails_to(who), signed_in.status_code, who.mask(_read(signed_in))))
        if terrorism:  # kept, silently, and still there for staff
            kept = db.session.get(Case, closed.id)
            assert kept.anonymised_at is None and kept.what_happened == "A housing deposit was kept."
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == "erased"


def test_retention_reads_the_same_with_a_terrorism_ground_record(app, db, officer, colleague):
    """A case past its retention period leaves the student's portal whether it is anonymised or, because of a
    terrorism-ground record, kept: kept intact for staff, apart from the student."""
    from tests.factories_staffsec import make_case as make_old_case

    views, kept = [], None
    for email, terrorism in (("plain.twin@example.ac.uk", False), ("hidden.twin@example.ac.uk", True)):
        student = make_student(email)
        fa.make_profile(student)
        current = fa.make_case(student, officer=officer)
        old = make_old_case(student, officer, closed_years_ago=7)
        if terrorism:
            record_terrorism_breach(officer, colleague, old)
            kept = old.id
        views.append((student, Student_(student, [current, old])))
    decisions = {d.case_id: d for d in retention.run()}
    assert decisions[kept].action == "hold" and decisions[kept].silent
    pages = [crawl(app, student, who) for student, who in views]
    assert "Page not found" in pages[0]["/cases/CASE1"] or pages[0]["/cases/CASE1"].startswith("404")
    assert_same(*pages)
    case = db.session.get(Case, kept)
    assert case.anonymised_at is None and case.what_happened == "My landlord kept my deposit (fictional)"
    assert retention.case_holds(case)[0].silent  # and still held, at the next run too
    assert retention.run() and db.session.get(Case, kept).anonymised_at is None

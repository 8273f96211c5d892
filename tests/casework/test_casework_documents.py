"""Documents: type by content, size limits, encrypted storage outside the web root, safe downloads."""

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.casework import cases as casework
from shared.casework import documents
from shared.casework.documents import Upload, detect_type
from shared.models import AuditEvent, Case, Document
from shared.platform import blobs
from tests.factories_casework import DOCX, PDF, PNG, intake_form, make_case, zip_of
from tests.support.blobs import stored_files

OLE_DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100 + "WordDocument".encode("utf-16-le") + b"\x00" * 50


@pytest.mark.parametrize("data,expected", [
    (PDF, "application/pdf"),
    (PNG, "image/png"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
    (b"GIF89a" + b"\x00" * 20, "image/gif"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    (DOCX, documents.TYPE_DOCX),
    (OLE_DOC, "application/msword"),
    ("Plain notes, café ☕\n".encode(), "text/plain"),
    (b"<3 thank you for the advice, and a <b> that is not a tag\n", "text/plain"),
    (zip_of({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>", "word/media/": ""}),
     documents.TYPE_DOCX),  # a folder entry, as some tools write
])
def test_accepted_types_are_recognised_by_their_content(data, expected):
    assert detect_type(data) == expected


@pytest.mark.parametrize("data", [
    b"MZ\x90\x00\x03" + b"\x00" * 60,  # a Windows program, whatever it is called
    zip_of({"payload.exe": "x"}),  # any zip that is not a Word document
    zip_of({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<x/>"}),  # a spreadsheet
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # an OLE file that is not Word
    b"<html>\x00\x01binary</html>",
    b"\x7fELF\x02\x01\x01",
    b"<!DOCTYPE html><script>alert(1)</script>",  # text, but a browser would run it
    b"\n  <svg onload=alert(1)/>",
    b"#!/bin/sh\necho owned\n",
    zip_of({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>", "../evil.sh": "x"}),
])
def test_other_content_is_refused_whatever_its_name(data):
    assert detect_type(data) is None


def test_zip_bombs_are_refused_without_unpacking():
    bomb = zip_of({"[Content_Types].xml": "<Types/>", "word/document.xml": "0" * (5 * 1024 * 1024)})
    assert detect_type(bomb) is None  # the compression ratio gives it away


def _post_form_with(browser, filename, data, **extra):
    payload = {**intake_form(), "documents": (io.BytesIO(data), filename), **extra}
    return browser.submit("/ask", payload, content_type="multipart/form-data")


def test_a_renamed_program_is_refused_with_a_clear_message_and_answers_kept(student_browser, db):
    resp = _post_form_with(student_browser, "letter.pdf", b"MZ\x90\x00" + b"\x00" * 100)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "is not a type we accept" in html and "letter.pdf" in html
    assert 'value="Morgan Fenwick"' in html
    assert db.session.scalar(select(Case)) is None


def test_a_file_over_the_limit_gets_a_clear_message(app, student_browser, db, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 1024)
    resp = _post_form_with(student_browser, "big.pdf", PDF + b"0" * 2000)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "is larger than 0.0009765625 MB" not in html
    assert "big.pdf is larger than" in html
    assert db.session.scalar(select(Case)) is None


def test_a_request_over_the_limit_gets_the_413_page(app, student_browser, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    resp = _post_form_with(student_browser, "huge.pdf", PDF + b"0" * 10_000)
    assert resp.status_code == 413
    assert "That file is too large" in resp.get_data(as_text=True)


def test_documents_are_encrypted_outside_the_web_root_and_downloaded_safely(
    app, db, student, student_browser, officer_browser
):
    secret = b"%PDF-1.4\nSECRET-DOCUMENT-MARKER\n%%EOF\n"
    resp = _post_form_with(student_browser, "..\\..\\etc\\evil<script>.pdf", secret)
    assert resp.status_code == 302
    document = db.session.scalar(select(Document))
    stored = stored_files()[f"documents/{document.uid}"]
    assert b"SECRET-DOCUMENT-MARKER" not in stored
    if blobs.store().backend == "filesystem":
        path = blobs.store().path(f"documents/{document.uid}")
        assert not str(path.resolve()).startswith(str(Path(app.static_folder).resolve()))
    assert document.content_type == "application/pdf" and document.title.endswith("evil<script>.pdf")
    assert "/" not in document.title and "\\" not in document.title
    case_page = officer_browser.get(f"/staff/cases/{db.session.scalar(select(Case)).reference}").get_data(as_text=True)
    assert "evil&lt;script&gt;.pdf" in case_page and "evil<script>" not in case_page
    for b, url in ((student_browser, f"/documents/{document.id}"), (officer_browser, f"/staff/documents/{document.id}")):
        resp = b.get(url)
        assert resp.status_code == 200 and resp.data == secret
        assert resp.headers["Content-Disposition"] == f'attachment; filename="document-{document.id}.pdf"'
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Content-Type"] == "application/pdf"
    db.session.commit()
    downloads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "document.downloaded")).all()
    assert len(downloads) == 2 and {e.actor_kind for e in downloads} == {"student", "staff"}


def test_officers_upload_to_the_case_and_the_student_does_not_see_internal_documents(
    db, student, student_browser, officer_browser
):
    case = make_case(student)
    page = f"/staff/cases/{case.reference}"
    resp = officer_browser.submit(f"{page}/documents", {"doc-document": (io.BytesIO(DOCX), "notes.docx")},
                                  page=page, content_type="multipart/form-data")
    assert resp.status_code == 302
    document = db.session.scalar(select(Document))
    assert document.content_type == documents.TYPE_DOCX and not document.uploaded_by_student
    assert "notes.docx" in officer_browser.get(page).get_data(as_text=True)
    assert student_browser.get(f"/documents/{document.id}").status_code == 404
    resp = officer_browser.submit(f"{page}/documents", {"doc-document": (io.BytesIO(b"MZ\x00\x00"), "x.txt")},
                                  page=page, content_type="multipart/form-data")
    assert resp.status_code == 200 and "is not a type we accept" in resp.get_data(as_text=True)
    resp = officer_browser.submit(f"{page}/documents", {}, page=page)
    assert "Choose a file to upload." in resp.get_data(as_text=True)


def test_students_attach_documents_to_messages(db, student, student_browser, officer_browser):
    case = make_case(student)
    resp = student_browser.submit(
        f"/cases/{case.reference}/messages",
        {"body": "The letter is attached.", "documents": (io.BytesIO(PNG), "photo.png")},
        page=f"/cases/{case.reference}", content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    document = db.session.scalar(select(Document))
    assert document.message_id is not None and document.case_id == case.id
    assert "photo.png" in student_browser.get(f"/cases/{case.reference}").get_data(as_text=True)
    assert officer_browser.get(f"/staff/documents/{document.id}").status_code == 200


def test_the_message_audit_event_names_the_documents_sent_with_it(db, student):
    """Found by the load test: the event listed [None] for each document, so the record could not say which
    files came with which message."""
    case = make_case(student)
    message = casework.student_sends_message(student, case.reference, "Two letters attached.",
                                             [Upload("a.png", PNG), Upload("b.pdf", PDF)])
    sent = sorted(db.session.scalars(select(Document.id).where(Document.message_id == message.id)))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "message.sent"))
    assert len(sent) == 2 and sorted(event.details["documents"]) == sent


def test_service_refuses_an_empty_file(ctx):
    with pytest.raises(documents.DocumentRefused):
        documents.check(Upload("empty.pdf", b""))


def test_case_service_maps_document_errors_to_the_documents_field(ctx, student):
    with pytest.raises(casework.InvalidAnswers) as info:
        make_case(student, uploads=[Upload("a.exe", b"MZ\x90\x00")])
    assert "documents" in info.value.errors

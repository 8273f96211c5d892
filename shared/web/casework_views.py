"""View helpers both blueprints use for casework: reading uploads, showing a service's field errors on a
form, and sending a document download. (Views only; the rules live in shared.casework and shared.casework.documents.)"""

from __future__ import annotations

from flask import Response, request, stream_with_context
from flask_wtf import FlaskForm

from shared.casework import documents
from shared.casework.cases import InvalidAnswers


def uploads_from(name: str) -> list[documents.Upload]:
    """The files sent in a form field, read up to one byte past the limit (so oversize is detected)."""
    limit = documents.max_upload_bytes()
    return [
        documents.Upload(f.filename or "", f.stream.read(limit + 1))
        for f in request.files.getlist(name)
        if f and (f.filename or "")
    ]


def show_errors(form: FlaskForm, exc: InvalidAnswers) -> None:
    """Put each of the service's messages beside its field (or at the top if the form has no such field)."""
    for name, message in exc.errors.items():
        target = getattr(form, name, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*(target.errors or []), message]
        else:
            form.form_errors.append(message)


def send_download(found: documents.Download) -> Response:
    """A fixed, safe file name; always a download, never shown inline; never cached."""
    return streamed_attachment(found.chunks, found.filename, found.content_type, found.size)


def attachment(data: bytes | str, filename: str, content_type: str) -> Response:
    """A file made for this request (a receipt, a report, a CSV), sent as every download is: an attachment
    with a fixed name, not cached, not sniffed."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    return _as_attachment(Response(body, mimetype=content_type), filename)


def _as_attachment(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def streamed_attachment(chunks, filename: str, content_type: str, size: int | None = None) -> Response:
    """A stored file sent chunk by chunk as it is read from the blob store (never held whole), as an
    attachment with a fixed name, not cached, not sniffed."""
    response = _as_attachment(Response(stream_with_context(chunks), mimetype=content_type), filename)
    if size is not None:
        response.headers["Content-Length"] = str(size)
    return response

"""Where a copy of records is kept, and the encryption context that binds its bytes to its request: shared
by the copy's making and download and by key rotation, which re-encrypts the copies without reading requests.

A copy is a file in the blob store (shared.platform.blobs) named `access/<uid>.pdf.enc`; the request's
`pdf_path` holds that name (once a path relative to the instance folder, which is the same string)."""

from __future__ import annotations

from shared.models import AccessRequest

COPIES_FOLDER = "access"


def copy_name(req: AccessRequest) -> str:
    """The name of the request's copy in the blob store."""
    return f"{COPIES_FOLDER}/{req.uid}.pdf.enc"


def pdf_context(req: AccessRequest) -> str:
    return f"access_requests.pdf.{req.uid}"

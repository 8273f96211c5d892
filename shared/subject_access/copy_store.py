"""Where a copy of records is kept, and the encryption context that binds its bytes to its request: shared
by the copy's making and download and by key rotation, which re-encrypts the copies without reading requests."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from shared.models import AccessRequest

COPIES_FOLDER = "access"  # in the instance folder; each request's row holds its copy's path relative to it


def copies_dir() -> Path:
    """Where the encrypted copies of records are kept."""
    return Path(current_app.instance_path) / COPIES_FOLDER


def pdf_context(req: AccessRequest) -> str:
    return f"access_requests.pdf.{req.uid}"

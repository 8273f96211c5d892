"""Encryption at rest for sensitive free text and documents.

AES-256-GCM with a key id on every value, so keys can rotate: new values use the first key in
ENCRYPTION_KEYS, old values still open with the key they name. The associated data binds each value to
its table, column and row, so a ciphertext copied into another row or column will not open.

Models declare a field with `encrypted("column_name")`; the row needs a `uid` column (set on first write),
which is what the ciphertext is bound to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

PREFIX = "v1"


class DecryptionError(Exception):
    pass


def generate_key() -> str:
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """'kid:base64key,kid2:base64key' -> [(kid, key)], newest first."""
    keys = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kid, _, b64 = part.partition(":")
        key = base64.urlsafe_b64decode(b64)
        if len(key) != 32 or not kid.isalnum():
            raise ValueError("ENCRYPTION_KEYS entries must be 'id:base64-of-32-bytes'")
        keys.append((kid, key))
    if not keys:
        raise ValueError("ENCRYPTION_KEYS is empty")
    return keys


def _keys() -> list[tuple[str, bytes]]:
    return current_app.extensions["encryption_keys"]


@lru_cache(maxsize=32)
def _cipher(key: bytes) -> AESGCM:
    """One AESGCM per key: building it (key schedule) costs as much as opening a short value, and a case
    page opens hundreds."""
    return AESGCM(key)


def _key_for(kid: str) -> bytes | None:
    return next((key for k, key in _keys() if k == kid), None)


def current_key_id() -> str:
    return _keys()[0][0]


def _aad(context: str) -> bytes:
    return context.encode()


def encrypt_bytes(plaintext: bytes, context: str) -> bytes:
    kid, key = _keys()[0]
    nonce = os.urandom(12)
    return f"{PREFIX}:{kid}:".encode() + nonce + _cipher(key).encrypt(nonce, plaintext, _aad(context))


def decrypt_bytes(blob: bytes, context: str) -> bytes:
    try:
        prefix, kid, rest = blob.split(b":", 2)
    except ValueError as exc:
        raise DecryptionError("not an encrypted value") from exc
    return _open(prefix.decode(), kid.decode(), rest, context)


def _open(prefix: str, kid: str, sealed: bytes, context: str) -> bytes:
    """Open nonce + ciphertext sealed under key `kid` for `context`."""
    key = _key_for(kid)
    if prefix != PREFIX or key is None:
        raise DecryptionError(f"no key {kid!r} to open this value")
    try:
        return _cipher(key).decrypt(sealed[:12], sealed[12:], _aad(context))
    except InvalidTag as exc:
        raise DecryptionError("value was altered or belongs to another row") from exc


def key_id_of(blob: bytes | str) -> str:
    if isinstance(blob, str):
        blob = blob.encode()
    return blob.split(b":", 2)[1].decode()


def encrypt_text(plaintext: str, context: str) -> str:
    blob = encrypt_bytes(plaintext.encode("utf-8"), context)
    head, _, body = blob.partition(b":")
    kid, _, raw = body.partition(b":")
    return f"{head.decode()}:{kid.decode()}:{base64.b64encode(raw).decode()}"


def decrypt_text(token: str, context: str) -> str:
    try:
        prefix, kid, b64 = token.split(":", 2)
        sealed = binascii.a2b_base64(b64)
    except (ValueError, binascii.Error) as exc:
        raise DecryptionError("not an encrypted value") from exc
    return _open(prefix, kid, sealed, context).decode("utf-8")


def match_key(purpose: str, value: str) -> str:
    """A keyed hash of a normalised value, so that two records naming the same person can be found without
    keeping the value in clear. Keyed with AUDIT_HMAC_KEY, which never changes (the audit chain is sealed
    with it), so keys written years apart still match."""
    secret = current_app.config["AUDIT_HMAC_KEY"].encode()
    return hmac.new(secret, f"{purpose}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def new_uid() -> str:
    return secrets.token_hex(16)


class encrypted:  # noqa: N801 - used like a column declaration
    """A property over a `_<name>_enc` text column: plaintext in Python, ciphertext in the database."""

    def __init__(self, column: str):
        self.column = column

    def __set_name__(self, owner, name):
        self.name = name
        self.owner = owner

    def _context(self, obj) -> str:
        if not obj.uid:
            obj.uid = new_uid()
        return f"{obj.__tablename__}.{self.name}.{obj.uid}"

    def open(self, token: str | None, uid: str) -> str | None:
        """The plaintext of a value read as a plain column, without a model instance (`Model.field.open(
        row.field_enc, row.uid)`): for pages that read many rows without loading them into the session."""
        return None if token is None else decrypt_text(token, f"{self.owner.__tablename__}.{self.name}.{uid}")

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        token = getattr(obj, self.column)
        return None if token is None else decrypt_text(token, self._context(obj))

    def __set__(self, obj, value):
        setattr(obj, self.column, None if value is None else encrypt_text(value, self._context(obj)))

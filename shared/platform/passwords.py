"""argon2id hashing and the password rules (NIST SP 800-63B: length and a blocklist, no composition rules)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from shared.platform.errors import WeakPassword


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = ("argon2_hasher", cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    hasher = current_app.extensions.get(key)
    if hasher is None:
        hasher = PasswordHasher(time_cost=key[1], memory_cost=key[2], parallelism=key[3])
        current_app.extensions[key] = hasher
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is an account: an unknown email is checked against a dummy hash."""
    hasher = _hasher()
    try:
        return hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def _dummy_hash() -> str:
    key = "argon2_dummy_hash"
    if key not in current_app.extensions:
        current_app.extensions[key] = _hasher().hash("not-a-real-password-used-for-timing")
    return current_app.extensions[key]


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from public breach corpora; nothing is fetched.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password_rules(password: str, *, email: str | None = None) -> None:
    cfg = current_app.config
    if len(password) < cfg["PASSWORD_MIN_LENGTH"]:
        raise WeakPassword(f"Use at least {cfg['PASSWORD_MIN_LENGTH']} characters.")
    if len(password) > cfg["PASSWORD_MAX_LENGTH"]:
        raise WeakPassword(f"Use at most {cfg['PASSWORD_MAX_LENGTH']} characters.")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(password)) < 4:
        raise WeakPassword("That password is too common or easy to guess. Try a few unrelated words.")
    if email and email.split("@")[0].lower() in lowered:
        raise WeakPassword("Your password must not contain your email address.")

"""Free-text answers, checked one way for every form: cleaned alike (NFC, no control characters, trimmed),
and an answer that is missing or too long named beside its field in the same words wherever it is typed
(InvalidAnswers, the one per-field error)."""

from __future__ import annotations

import unicodedata

from shared.platform.errors import InvalidAnswers

__all__ = ["InvalidAnswers", "check_text", "checked_text", "clean_text", "raise_if", "required_text", "too_long"]


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """NFC, no control characters (newlines and tabs kept in long text), trimmed. HTML is kept as typed:
    it is stored encrypted and always shown escaped."""
    value = unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").replace("\r", "\n")
    keep = "\n\t" if multiline else ""
    value = "".join(
        c for c in value if c in keep or unicodedata.category(c) not in ("Cc", "Cs", "Co", "Cn")
    )
    if not multiline:
        value = " ".join(value.split())
    return value.strip()


def too_long(label: str, limit: int, length: int) -> str:
    return f"{label[0].upper()}{label[1:]} must be {limit:,} characters or fewer (you have {length:,})."


def check_text(errors: dict, name: str, value: str, label: str, limit: int, required: bool = False, *,
               missing: str | None = None) -> None:
    """An error for `name` when a required answer is empty or any answer is over `limit`; `missing` replaces
    the plain "Enter ..." where the question needs its own words."""
    if required and not value:
        errors[name] = missing or f"Enter {label}."
    elif len(value) > limit:
        errors[name] = too_long(label, limit, len(value))


def checked_text(errors: dict, name: str, value: str | None, label: str, limit: int, required: bool = False, *,
                 multiline: bool = False, missing: str | None = None) -> str:
    """clean_text then check_text: the cleaned answer, with any error added to `errors`."""
    cleaned = clean_text(value, multiline=multiline)
    check_text(errors, name, cleaned, label, limit, required, missing=missing)
    return cleaned


def required_text(value: str | None, label: str, limit: int, *, field_name: str = "text",
                  multiline: bool = True) -> str:
    """One free-text answer for a service: cleaned, present and not too long, or InvalidAnswers."""
    errors: dict[str, str] = {}
    cleaned = checked_text(errors, field_name, value, label, limit, required=True, multiline=multiline)
    raise_if(errors)
    return cleaned


def raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise InvalidAnswers(errors)

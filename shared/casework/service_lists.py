"""The lists the service maintains (colleges, areas of concern, outcomes, contact methods, faculties and
years of study) and the consent wording versions. Published statistics name only items of these lists:
a faculty or year a student typed is published under its item when it matches one, otherwise as Other. Items are renamed, retired and reordered, never deleted: old cases keep them.
A new consent wording is a new row; the consents already given keep the text they recorded."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import func, select

from shared.audit import log as audit
from shared.models import ConsentWording, ListItem, ListKind, Staff
from shared.platform.errors import NotFound, ValidationFailed
from shared.platform.extensions import db

KIND_LABELS = {
    ListKind.COLLEGE.value: "Colleges",
    ListKind.AREA.value: "Areas of concern",
    ListKind.OUTCOME.value: "Outcomes",
    ListKind.CONTACT_METHOD.value: "Contact methods",
    ListKind.FACULTY.value: "Faculties and departments (for published statistics)",
    ListKind.YEAR_OF_STUDY.value: "Years of study (for published statistics)",
}


def check_kind(kind: str) -> str:
    if kind not in KIND_LABELS:
        raise NotFound()
    return kind


def items(kind: str) -> list[ListItem]:
    return db.session.scalars(
        select(ListItem).where(ListItem.kind == check_kind(kind)).order_by(ListItem.position, ListItem.id)
    ).all()


def get_item(item_id: int) -> ListItem:
    item = db.session.get(ListItem, item_id)
    if item is None:
        raise NotFound()
    return item


def _code_for(kind: str, label: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:50] or "item"
    code, n = base, 2
    while db.session.scalar(select(ListItem.id).where(ListItem.kind == kind, ListItem.code == code)):
        code, n = f"{base}_{n}", n + 1
    return code


def add(staff: Staff, kind: str, label: str, group: str | None = None) -> ListItem:
    label = (label or "").strip()
    if not label:
        raise ValidationFailed("Enter a name.")
    if kind == ListKind.AREA.value and group not in ("academic", "welfare"):
        raise ValidationFailed("Choose whether this area of concern is academic or welfare.")
    position = (db.session.scalar(select(func.max(ListItem.position)).where(ListItem.kind == check_kind(kind))) or 0) + 1
    item = ListItem(kind=kind, code=_code_for(kind, label), label=label, group=group or None, position=position)
    db.session.add(item)
    db.session.flush()
    audit.record(staff, "list.item_added", item, kind=kind, code=item.code)
    db.session.commit()
    return item


def rename(staff: Staff, item_id: int, label: str) -> None:
    """The code stays, so every case that used the item now shows the new name."""
    item = get_item(item_id)
    label = (label or "").strip()
    if not label:
        raise ValidationFailed("Enter a name.")
    item.label = label
    audit.record(staff, "list.item_renamed", item, kind=item.kind, code=item.code)
    db.session.commit()


def set_active(staff: Staff, item_id: int, active: bool) -> ListItem:
    item = get_item(item_id)
    item.active = active
    audit.record(staff, "list.item_restored" if active else "list.item_retired", item, kind=item.kind, code=item.code)
    db.session.commit()
    return item


def move(staff: Staff, item_id: int, direction: int) -> ListItem:
    item = get_item(item_id)
    siblings = items(item.kind)
    index = siblings.index(item)
    other = index + (1 if direction > 0 else -1)
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
        for position, sibling in enumerate(siblings):
            sibling.position = position
        audit.record(staff, "list.item_moved", item, kind=item.kind, code=item.code)
        db.session.commit()
    return item


# --- consent wording -------------------------------------------------------------------------------------


def wordings() -> list[ConsentWording]:
    return db.session.scalars(select(ConsentWording).order_by(ConsentWording.created_at.desc(), ConsentWording.id.desc())).all()


def publish_wording(staff: Staff, version: str, text: str) -> ConsentWording:
    """A new version becomes the one shown from now on; earlier versions stay as they were, so every
    consent keeps the exact text its student read."""
    version, text = (version or "").strip(), (text or "").strip()
    if not version or not text:
        raise ValidationFailed("Enter a version name and the wording.")
    if db.session.scalar(select(ConsentWording.id).where(ConsentWording.version == version)):
        raise ValidationFailed("That version name is already used: choose a new one.")
    for older in db.session.scalars(select(ConsentWording).where(ConsentWording.active.is_(True))):
        older.active = False
    wording = ConsentWording(
        version=version, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), active=True
    )
    db.session.add(wording)
    db.session.flush()
    audit.record(staff, "consent_wording.published", wording, version=version)
    db.session.commit()
    return wording

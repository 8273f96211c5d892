"""Reference data that nearly every back-office page shows: the service's lists (colleges, areas of
concern, outcomes...) and the names of active staff. Read with one query and kept by each worker for
REFERENCE_CACHE_SECONDS (0: read every time), so a page does not spend its queries on them.

A change that goes through this worker's ORM session (an administrator renaming a college, a new member of
staff) clears the copy at once; other workers see it within those seconds. Nothing here is about a student.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from shared.models import ListItem, Staff
from shared.platform.extensions import db

_KEY = "reference_data"


@dataclass(frozen=True)
class Item:
    kind: str
    code: str
    label: str
    group: str | None
    active: bool


@dataclass(frozen=True)
class StaffName:
    id: int
    name: str
    job_title: str | None


def _store() -> dict:
    return current_app.extensions.setdefault(_KEY, {})


def _cached(name: str, load: Callable):
    return kept(name, load, current_app.config.get("REFERENCE_CACHE_SECONDS", 30))


def kept(name: str, load: Callable, seconds: float):
    """`load()`, kept by this worker under `name` for `seconds` (0: not kept). Also used by other per-worker
    copies (the statistics page) so that one store is cleared and expired in one way."""
    store, now = _store(), time.monotonic()
    hit = store.get(name)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    for stale in [key for key, (expires, _) in store.items() if expires <= now]:
        store.pop(stale, None)  # copies for filters nobody asks for again do not pile up
    if seconds > 0:
        store[name] = (now + seconds, value)
    return value


def forget(prefix: str) -> None:
    """Forget every copy whose name starts with `prefix`."""
    store = _store()
    for name in [name for name in store if name.startswith(prefix)]:
        store.pop(name, None)


def clear(app) -> None:
    """Forget every copy of `app`'s: the next use reads the database again."""
    app.extensions.setdefault(_KEY, {}).clear()


# (tables, prefix): a write through this worker's session to one of the tables forgets those copies.
_FORGET_ON_WRITE: list[tuple[frozenset[str], str]] = []


def forget_on_write(prefix: str, *models) -> None:
    """Forget the copies named `prefix...` whenever this worker writes to one of these models' tables,
    whether by flushing objects or by a bulk INSERT, UPDATE or DELETE sent through the session."""
    _FORGET_ON_WRITE.append((frozenset(model.__table__.name for model in models), prefix))


def _forget_written(tables: set[str]) -> None:
    for watched, prefix in _FORGET_ON_WRITE:
        if watched & tables:
            forget(prefix)


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session, _flush_context) -> None:
    if has_app_context():
        _forget_written({table.name for obj in (*session.new, *session.dirty, *session.deleted)
                         if (table := getattr(obj, "__table__", None)) is not None})


@event.listens_for(Session, "do_orm_execute")
def _forget_after_bulk_write(state) -> None:
    """Bulk INSERT / UPDATE / DELETE statements sent through the session do not flush objects."""
    if has_app_context() and (state.is_insert or state.is_update or state.is_delete):
        table = getattr(state.statement, "table", None)
        if table is not None:
            _forget_written({table.name})


def list_items() -> tuple[Item, ...]:
    """Every item of every list, retired ones included, in display order."""
    def load():
        rows = db.session.execute(
            select(ListItem.kind, ListItem.code, ListItem.label, ListItem.group, ListItem.active)
            .order_by(ListItem.position, ListItem.label)
        )
        return tuple(Item(*row) for row in rows)

    return _cached("lists", load)


def from_lists(name: str, build: Callable):
    """Something built from the lists alone (a label lookup, a choice list), kept and cleared with them."""
    return _cached(f"lists:{name}", build)


def from_staff(name: str, build: Callable):
    """Something built from the active staff's names alone, kept and cleared with them."""
    return _cached(f"staff:{name}", build)


def active_staff() -> tuple[StaffName, ...]:
    def load():
        rows = db.session.execute(
            select(Staff.id, Staff.name, Staff.job_title).where(Staff.active.is_(True)).order_by(Staff.name)
        )
        return tuple(StaffName(*row) for row in rows)

    return _cached("staff", load)


forget_on_write("lists", ListItem)
forget_on_write("staff", Staff)

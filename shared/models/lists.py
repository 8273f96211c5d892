"""Lists the service maintains (colleges, areas of concern, outcomes, ...), editable by the administrator."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base


class ListKind(enum.StrEnum):
    COLLEGE = "college"
    AREA = "area"  # area of concern; `group` is 'academic' or 'welfare'
    OUTCOME = "outcome"  # how a case closed
    CONTACT_METHOD = "contact_method"  # how the student first contacted the service
    FACULTY = "faculty"  # students type their faculty; only a typed value matching an item is published
    YEAR_OF_STUDY = "year_of_study"  # likewise for the year of study


class ListItem(Base):
    """One choice in a service list. Items are retired (active=False), never deleted: old cases keep them."""

    __tablename__ = "list_items"
    __table_args__ = (UniqueConstraint("kind", "code", name="kind_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    code: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(200))
    group: Mapped[str | None] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

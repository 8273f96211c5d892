"""Who may do what. Deny by default: every endpoint is closed unless its blueprint's guard lets it through.

Each blueprint calls `guard(kind)` in `before_request`. A view marked `@public` is open to anyone; every
other view needs a signed-in account of the blueprint's kind, and `@roles(...)` narrows staff views
further. Objects are reached through scoped queries (see `cases_visible_to`), so another student's object
is a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from shared.models import StaffRole

PUBLIC_ATTR = "_advice_public"
ROLES_ATTR = "_advice_roles"

ALL_STAFF = frozenset(r.value for r in StaffRole)
MANAGERS = frozenset({StaffRole.MANAGER.value, StaffRole.ADMIN.value})
ADMINS = frozenset({StaffRole.ADMIN.value})
# The policy's advice officers (the manager is one): who may ask for, give and decide on advice about a
# breach of confidentiality. The administrator keeps the records but is not an advice officer.
ADVICE_OFFICERS = frozenset({StaffRole.OFFICER.value, StaffRole.MANAGER.value})


def public(view: Callable) -> Callable:
    """Open to anonymous visitors (sign-in, registration, reset, the public home page)."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def roles(*allowed: str) -> Callable:
    """Restrict a staff view to these roles; the guard checks it before the view runs."""

    def decorate(view: Callable) -> Callable:
        setattr(view, ROLES_ATTR, frozenset(allowed))
        return view

    return decorate


def view_function(endpoint: str | None) -> Callable | None:
    return current_app.view_functions.get(endpoint) if endpoint else None


def is_public(endpoint: str | None) -> bool:
    return bool(getattr(view_function(endpoint), PUBLIC_ATTR, False))


def guard(kind: str, login_endpoint: str):
    """before_request for a blueprint whose signed-in users are of `kind` ('student' or 'staff')."""
    if is_public(request.endpoint):
        return None
    view = view_function(request.endpoint)
    if view is None:
        abort(404)
    if not current_user.is_authenticated or current_user.kind != kind:
        if request.method in ("GET", "HEAD"):
            return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?")))
        abort(401)
    allowed = getattr(view, ROLES_ATTR, None)
    if kind == "staff":
        if allowed is None:
            allowed = ALL_STAFF
        if current_user.role not in allowed:
            abort(403)
    return None


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: 'next' is never a way off the site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 32 for c in target):
        return default
    return target


def is_advice_officer(staff) -> bool:
    return bool(staff is not None and getattr(staff, "active", False) and staff.role in ADVICE_OFFICERS)


def can_view_all_cases(user) -> bool:
    """The policy: every advice officer and the administrator may see every record; nobody else."""
    return bool(user.is_authenticated and user.kind == "staff" and user.role in ALL_STAFF)

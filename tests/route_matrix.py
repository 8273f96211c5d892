"""The route × role table: who may use every endpoint. tests/test_route_matrix.py checks each line against
the running app for {anonymous, student A, student B, officer, manager, admin} × every HTTP method.

Adding an endpoint is one line in RULES (and one in ARGS if its URL has parameters):

    "portal.case": STUDENT,                                   # RULES
    "portal.case": lambda owner: {"case_id": make_case(owner).id},   # ARGS: a factory (see below)

ARGS values are either a dict of sample URL arguments, or a factory `f(owner) -> dict` that builds an
object belonging to student A (`owner`, inside an app context) and returns the URL arguments for it. A
factory is called afresh for every check, so a POST by one role never changes what the next role sees.
For a STUDENT endpoint with a factory, student B must get 404 (never 403: that would confirm the object
exists). A missing endpoint fails the test with its name; so does a line for an endpoint that is gone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # "public", "student" or "staff"
    roles: frozenset = frozenset()  # staff roles allowed (staff rules only)

    def allows(self, who: str) -> bool:
        """who: 'anonymous', 'student_a', 'student_b', or a staff role."""
        if self.kind == "public":
            return True
        if self.kind == "student":
            return who in ("student_a", "student_b")
        return who in self.roles

    def __repr__(self) -> str:
        return self.name


def staff_roles(*roles: str) -> Rule:
    """A staff rule for an unusual set of roles, e.g. staff_roles("officer", "admin")."""
    return Rule("staff_roles(" + ", ".join(roles) + ")", "staff", frozenset(roles))


PUBLIC = Rule("PUBLIC", "public")  # anyone, signed in or not (must be decorated @public)
STUDENT = Rule("STUDENT", "student")  # a signed-in student
STAFF = Rule("STAFF", "staff", frozenset({"officer", "manager", "admin"}))  # any signed-in staff member
MANAGER = Rule("MANAGER", "staff", frozenset({"manager", "admin"}))  # @roles("manager", "admin")
ADMIN = Rule("ADMIN", "staff", frozenset({"admin"}))  # @roles("admin")


def _token(purpose: str, account) -> str:
    from shared.accounts import make_token

    return make_token(purpose, account)


def _staff_member():
    from tests import factories

    return factories.make_staff(role="officer")


RULES: dict[str, Rule] = {
    # --- outside the blueprints ------------------------------------------------------------------
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    # --- portal: accounts (foundation) -----------------------------------------------------------
    "portal.index": PUBLIC,
    "portal.sign_in": PUBLIC,
    "portal.register": PUBLIC,
    "portal.confirm_email": PUBLIC,
    "portal.reset_request": PUBLIC,
    "portal.reset": PUBLIC,
    "portal.sign_out": STUDENT,
    "portal.home": STUDENT,
    "portal.account": STUDENT,
    # --- back office: accounts (foundation) ------------------------------------------------------
    "backoffice.sign_in": PUBLIC,
    "backoffice.reset_request": PUBLIC,
    "backoffice.reset": PUBLIC,
    "backoffice.sign_out": STAFF,
    "backoffice.dashboard": STAFF,
    "backoffice.account": STAFF,
    # --- casework ---------------------------------------------------------------------------------
    # --- consent and disclosures ------------------------------------------------------------------
    # --- access requests (records, PDF) -----------------------------------------------------------
    # --- statistics and reports -------------------------------------------------------------------
    # --- staff security and administration ------------------------------------------------------
}

ARGS: dict = {
    "static": {"filename": "css/app.css"},
    "portal.confirm_email": lambda owner: {"token": _token("confirm", owner)},
    "portal.reset": lambda owner: {"token": _token("reset", owner)},
    "backoffice.reset": lambda owner: {"token": _token("reset", _staff_member())},
    # --- casework ---------------------------------------------------------------------------------
    # --- consent and disclosures ------------------------------------------------------------------
    # --- access requests (records, PDF) -----------------------------------------------------------
    # --- statistics and reports -------------------------------------------------------------------
    # --- staff security and administration ------------------------------------------------------
}

WHO = ("anonymous", "student_a", "student_b", "officer", "manager", "admin")
CHECKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SIGN_IN = {"student": "/sign-in", "staff": "/staff/sign-in"}


def url_map_app():
    """A throwaway app (no database touched) whose url_map the tests are generated from."""
    global _APP
    if _APP is None:
        import tempfile

        from tests.conftest import TEST_KEYS
        from wsgi import create_app

        _APP = create_app(
            {
                **TEST_KEYS,
                "TESTING": True,
                "INSTANCE_PATH": tempfile.mkdtemp(prefix="urlmap-"),
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
            }
        )
    return _APP


_APP = None


def endpoint_methods(app=None) -> list[tuple[str, tuple[str, ...]]]:
    """Every endpoint in url_map with the methods the matrix checks, in a stable order."""
    app = app or url_map_app()
    methods: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        methods.setdefault(rule.endpoint, set()).update(m for m in rule.methods if m in CHECKED_METHODS)
    return sorted((e, tuple(m for m in CHECKED_METHODS if m in ms)) for e, ms in methods.items())


def first_allowed(rule: Rule) -> str:
    """The least privileged user the rule lets in (whom forms are fuzzed as, for example)."""
    return next(who for who in WHO if rule.allows(who))

"""The student portal: mounted at /, for students only."""

from flask import Blueprint

from shared.security.authz import guard

bp = Blueprint("portal", __name__)


@bp.before_request
def _guard():
    return guard("student", "portal.sign_in")


from portal import access, cases, consent, views  # noqa: E402,F401  (routes register on import)

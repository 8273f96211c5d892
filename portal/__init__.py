"""The student portal: mounted at /, for students only."""

from flask import Blueprint

from shared.security.authz import guard
from shared.web import submissions

bp = Blueprint("portal", __name__)


@bp.before_request
def _guard():
    return guard("student", "portal.sign_in") or submissions.check()


from portal import cases, consent, subject_access, views  # noqa: E402,F401  (routes register on import)

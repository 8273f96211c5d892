"""The staff back office: mounted at /staff, for advice officers, the manager and the administrator."""

from flask import Blueprint

from shared.security.authz import guard
from shared.web import submissions

bp = Blueprint("backoffice", __name__, url_prefix="/staff")


@bp.before_request
def _guard():
    return guard("staff", "backoffice.sign_in") or sign_in_steps.policy_gate() or submissions.check()


from backoffice import (  # noqa: E402,F401  (routes register on import)
    admin,
    breach,
    cases,
    conflicts,
    consent,
    my_account,
    reviews,
    sign_in_steps,
    statistics,
    subject_access,
    views,
)

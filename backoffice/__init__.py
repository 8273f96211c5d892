"""The staff back office: mounted at /staff, for advice officers, the manager and the administrator."""

from flask import Blueprint

from shared.authz import guard

bp = Blueprint("backoffice", __name__, url_prefix="/staff")


@bp.before_request
def _guard():
    return guard("staff", "backoffice.sign_in")


from backoffice import access, breach, cases, consent, views  # noqa: E402,F401  (routes register on import)

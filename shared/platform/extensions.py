"""Flask extension objects, created unbound so that every module can import them without an app."""

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from shared.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()


class ServiceLoginManager(LoginManager):
    """Flask-Login's session protection is off here (the server-side session row is the protection, see
    shared.security.sessions), yet Flask-Login hashed every request's address and browser before finding it off.
    With it off, this asks nothing more; turned on, it is Flask-Login's own check."""

    def _session_protection_failed(self):
        if not current_app.config.get("SESSION_PROTECTION", self.session_protection):
            return False
        return super()._session_protection_failed()


login_manager = ServiceLoginManager()


class ServiceLimiter(Limiter):
    """Every limit is on a form's POST (the doors in shared/web/ratelimits.py), so a page view has none to
    check: it skips the limiter's per-request check altogether (filtering, scopes, its context), which
    cost a signed-in page as much as its security headers and its form token together. A limit on
    reading pages would have to change this first."""

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        return super()._check_request_limit(callable_name, in_middleware)


limiter = ServiceLimiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)

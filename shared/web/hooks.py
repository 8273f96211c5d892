"""What every response shares: security headers, error pages, the health check and session loading."""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError, generate_csrf
from itsdangerous import BadSignature
from limits.errors import StorageError
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map, ValidationError
from werkzeug.utils import cached_property

from shared.casework.documents import limit_text
from shared.consent import gate as consent_gate
from shared.consent import giving as consent_giving
from shared.platform import clock
from shared.platform.errors import NotFound, PermissionDenied
from shared.platform.extensions import db, login_manager
from shared.platform.forms import NUMBER_MAX
from shared.security import sessions
from shared.security.authz import MANAGERS, public
from shared.web import submissions

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

ERROR_TEXT = {
    400: ("Something was wrong with that request", "Please go back and try again."),
    401: ("Please sign in", "You need to sign in to do that."),
    403: ("You cannot do that", "Your account does not have permission to do that."),
    404: ("Page not found", "We could not find that page. If you typed the address, check it is correct."),
    405: ("That cannot be done here", "Please go back and use the page's own buttons."),
    413: ("That file is too large", "The file you sent is larger than we accept. Please send a smaller one."),
    429: ("Too many attempts", "Please wait a few minutes before trying again."),
    500: ("Something went wrong on our side", "Nothing you did caused this. Please try again in a moment."),
    503: ("The service is unavailable", "We are having a short technical problem. Please try again shortly."),
}

health = Blueprint("health", __name__)

# A request body the app left unread is read and dropped, up to this much, before the answer goes out.
UNREAD_BODY_MAX_BYTES = 100 * 1024 * 1024


@health.get("/healthz")
@public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError):
        _rollback_quietly()
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="up")


def render_error(status: int, message: str | None = None):
    title, body = ERROR_TEXT.get(status, ERROR_TEXT[500])
    return render_template("errors/error.html", status=status, title=title, body=message or body), status


class ReadUnreadBody:
    """WSGI middleware: once the app has answered, read and drop what it left unread of the request body,
    before the answer is sent. A request over MAX_CONTENT_LENGTH gets the 413 page without its upload being
    read; if the server then closed the connection with the upload still arriving, the sender's system
    would reset it and the person would see "connection reset" instead of the page saying what to do.
    Only where the server ends wsgi.input at the end of the body (gunicorn does); past the bound the
    connection is closed unread, as before."""

    def __init__(self, wsgi_app, max_bytes: int = UNREAD_BODY_MAX_BYTES):
        self.wsgi_app = wsgi_app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        response = self.wsgi_app(environ, start_response)
        if environ.get("wsgi.input_terminated"):
            _read_and_drop(environ["wsgi.input"], self.max_bytes)
        return response


def _read_and_drop(stream, max_bytes: int) -> None:
    left = max_bytes
    try:
        while left > 0 and (chunk := stream.read(min(64 * 1024, left))):
            left -= len(chunk)
    except Exception:  # noqa: BLE001 - the sender went away or sent a broken body: nothing more to read
        log.debug("Stopped reading an unread request body", exc_info=True)


def too_large_message() -> str:
    return (
        f"What you sent is larger than we accept: files can be up to {limit_text()} in all. Nothing you sent "
        "was saved. Please go back and send smaller files, or fewer at once."
    )


def _keep(store: dict, key, value, most: int):
    """Keep `value` under `key` in one of a worker's stores of things made once and kept, which never holds
    more than `most`: a full store is emptied, and whatever it held is only made again when next needed."""
    if len(store) >= most:
        store.clear()
    store[key] = value
    return value


# A worker's open sessions, or near enough: the bound of the stores kept per session (form tokens, cookies).
_SESSIONS_KEPT = 10_000


def _remembering_url_for(links: dict[str, dict[str, str]], script_root: str):
    """Templates' url_for in a request: a link without arguments (the navigation's, on every page) is built
    once per endpoint and mount point, not on every page; anything else goes to Flask's url_for as before.
    Made once per page for the request's mount point (the `page_context` processor), so each link is one
    dictionary lookup. `links` is the app's own: mount point -> endpoint -> its link."""
    built = links.get(script_root)
    if built is None:  # a mount point is the server's, but never let a stream of them grow this
        built = _keep(links, script_root, {}, most=100)

    def template_url_for(endpoint: str, **values) -> str:
        if values or endpoint[:1] == ".":
            return url_for(endpoint, **values)
        url = built.get(endpoint)
        if url is None:
            url = built[endpoint] = url_for(endpoint)
        return url

    return template_url_for


def select_options(choices, selected) -> Markup:
    """A select's <option>s (and <optgroup>s, for a (group, choices) pair), `selected` marked. The same
    choices and selection give the same HTML, so it is made once and kept: a filter form's lists are the
    larger part of its page. A value that is not one of the choices (anything typed into the address) is
    shown as no choice at all (the empty one, if there is one), and is not kept."""
    choices = tuple(choices)
    selected = selected if isinstance(selected, str) else str(selected)
    return _options_html(choices, selected if selected in _values(choices) else "")


@lru_cache(maxsize=256)
def _values(choices: tuple) -> frozenset:
    return frozenset(v for value, label in choices for v in (_values(label) if isinstance(label, tuple) else (value,)))


@lru_cache(maxsize=1024)
def _options_html(choices: tuple, selected: str) -> Markup:
    html = []
    for value, label in choices:
        if isinstance(label, tuple):
            html.append(Markup('<optgroup label="{}">{}</optgroup>').format(value, _options_html(label, selected)))
        else:
            mark = Markup(" selected") if value == selected else ""
            html.append(Markup('<option value="{}"{}>{}</option>').format(value, mark, label))
    return Markup("").join(html)


_SIGNED_CSRF_TOKENS: dict[tuple, str] = {}  # (app's secret, a session's raw form token) -> signed, per worker


def kept_csrf_token() -> str:
    """Templates' csrf_token(): Flask-WTF's, with each session's signed token made once and kept by the
    worker. Signing (a key derivation, an HMAC, compression) is most of what the sign-out button on
    every page costs. Tokens do not expire by age here (WTF_CSRF_TIME_LIMIT is None: the session's own
    limits end them), so a token signed earlier is exactly as valid as a new one; with an age limit
    configured, every page signs afresh as before."""
    if "csrf_token" in g or current_app.config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    raw, secret = session.get("csrf_token"), current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    signed = _SIGNED_CSRF_TOKENS.get((secret, raw)) if isinstance(raw, str) else None
    if signed is None:
        signed = generate_csrf()  # first: it puts a raw token into a session that has none yet
        _keep(_SIGNED_CSRF_TOKENS, (secret, session["csrf_token"]), signed, most=_SESSIONS_KEPT)
    else:
        g.csrf_token = signed  # what generate_csrf keeps for the rest of the request
    return signed


class KeptSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with each cookie's checked contents kept by the worker. A browser
    sends the same cookie on every page until something in it changes, and checking it afresh (a key
    derivation, an HMAC, decoding) was a tenth of a signed-in page's time. What is kept is keyed by the
    secret keys and the exact cookie, so it is exactly what checking that cookie again would give; the
    cookie's age is still checked on every request, against the time signed into it. Only sessions of
    plain values (text, numbers, flags) are kept: each request gets its own copy, and nothing it changes
    can reach the kept one."""

    def __init__(self):
        self._opened: dict[tuple, tuple[float, dict]] = {}

    def open_session(self, app: Flask, request: Request):
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie or not app.secret_key:
            return super().open_session(app, request)
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()), cookie)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        kept = self._opened.get(key)
        if kept is not None and 0 <= time.time() - kept[0] <= max_age:
            return self.session_class(kept[1])
        try:
            data, signed_at = self.get_signing_serializer(app).loads(cookie, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if isinstance(data, dict) and all(type(v) in _PLAIN for v in data.values()):
            _keep(self._opened, key, (signed_at.timestamp(), dict(data)), most=_SESSIONS_KEPT)
        return self.session_class(data)


_PLAIN = frozenset({str, int, bool, float, type(None)})


class ServiceRequest(Request):
    """The app's request: NUL characters are dropped from its query string and its form fields on the way
    in. No one types one, no text the service keeps can hold one (PostgreSQL refuses them), so they could
    only ever cause an error: a NUL in a case-list filter was a 500 there (found by the query-string fuzzer)."""

    @cached_property
    def args(self) -> MultiDict:
        return _without_nul(self.parameter_storage_class, parse_qsl(
            self.query_string.decode(), keep_blank_values=True, errors="werkzeug.url_quote"))

    def _load_form_data(self) -> None:
        loaded = "form" in self.__dict__
        super()._load_form_data()
        if not loaded:
            self.__dict__["form"] = _without_nul(self.parameter_storage_class, self.form.items(multi=True))


class RecordIdConverter(IntegerConverter):
    """Every <int:...> in the app's addresses (they are all records' numbers): ASCII digits, 1 up to
    shared.platform.forms.NUMBER_MAX, else the address matches nothing and is a 404. Werkzeug's own int converter
    took any number of digits, and one past 2^63 was a 500 (SQLite's driver raises OverflowError); it also
    read Arabic-Indic and other digits as a number, so one record had many addresses."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", NUMBER_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        if len(value.lstrip("0")) > len(str(self.max)):  # before int(), which refuses 4300 digits and more
            raise ValidationError()
        return super().to_python(value)


class ServiceMap(Map):
    """The app's url_map: `int` is the bounded RecordIdConverter, for every blueprint's routes."""

    default_converters = {**Map.default_converters, "int": RecordIdConverter}


class ServiceApp(Flask):
    """The app: its requests are ServiceRequests, and each hook and view is checked once for being a
    coroutine function, not on every call (Flask asks on each one, about fifteen times a page)."""

    request_class = ServiceRequest
    url_map_class = ServiceMap

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_callables: dict = {}

    def ensure_sync(self, func):
        try:
            return self._sync_callables[func]
        except KeyError:
            wrapped = self._sync_callables[func] = super().ensure_sync(func)
            return wrapped
        except TypeError:  # an unhashable callable: as Flask does
            return super().ensure_sync(func)


def _without_nul(storage, pairs) -> MultiDict:
    return storage((_drop_nul(name), _drop_nul(value)) for name, value in pairs)


def _drop_nul(text):
    return text.replace("\x00", "") if isinstance(text, str) else text  # a malformed part may have no name


def init_app(app: Flask) -> None:
    app.register_blueprint(health)
    app.session_interface = KeptSessionInterface()
    app.wsgi_app = ReadUnreadBody(app.wsgi_app)
    app.jinja_env.globals["options"] = select_options
    app.jinja_env.globals["csrf_token"] = kept_csrf_token
    # The one clock's ways of writing days and moments (shared.platform.clock), for every page and PDF.
    app.jinja_env.filters.update(local=clock.local, day=clock.short_day, long_day=clock.format_day,
                                 moment=clock.format_moment)
    # A consent in words: its state, how it was given, what each scope means (to a student, to staff).
    app.jinja_env.filters.update(
        consent_status=consent_giving.consent_state, how_given=consent_giving.how_given,
        scope_label=lambda s: consent_gate.SCOPE_LABELS.get(s, s),
        staff_scope_label=lambda s: consent_gate.STAFF_SCOPE_LABELS.get(s, s))
    submissions.init_app(app, csrf_token=kept_csrf_token, error_page=render_error)

    @login_manager.user_loader
    def load_user(token: str):
        return sessions.load(token)

    links: dict[str, dict[str, str]] = {}

    @app.context_processor
    def page_context():
        # The navigation marks the current page: read once per page, not once per link. Outside a request
        # (an email, a PDF) templates keep Flask's own url_for.
        if not has_request_context():
            return {"endpoint": None}
        return {"endpoint": request.endpoint, "url_for": _remembering_url_for(links, request.script_root),
                # the back office's navigation: the Administration link for those who may use it
                "may_administer": getattr(current_user, "role", None) in MANAGERS}

    @app.before_request
    def deny_unknown_endpoints():
        # Endpoints outside a guarded blueprint must be public (static files, the health check).
        endpoint = request.endpoint
        if endpoint is None or endpoint == "static":
            return None
        if "." not in endpoint:
            abort(404)
        blueprint = endpoint.rsplit(".", 1)[0]
        if blueprint not in app.config["GUARDED_BLUEPRINTS"] and not getattr(
            app.view_functions.get(endpoint), "_advice_public", False
        ):
            abort(404)
        return None

    @app.after_request
    def refused_number_is_a_bad_request(response):
        # A form field refused a number (not a number, or one no record has): the page showing the field's
        # error, with the answers kept, says so with 400 rather than 200 (shared.platform.forms.WholeNumber, record_id).
        if response.status_code == 200 and g.get("refused_number"):
            response.status_code = 400
        return response

    @app.after_request
    def security_headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "no-referrer"
        h["X-Frame-Options"] = "DENY"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        if app.config["PRODUCTION"]:
            h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if request.endpoint != "static":
            h["Cache-Control"] = "no-store"
            h["Pragma"] = "no-cache"
        else:
            h.setdefault("Cache-Control", "public, max-age=3600")
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(exc):
        # A forged or stale form ends the session: the safe reading of a request we cannot trust.
        if current_user.is_authenticated and current_user.login_session is not None:
            sessions.end(current_user.login_session, "csrf_failure")
            db.session.commit()
        logout_user()
        session.clear()
        return render_error(400, "This form had expired or did not come from this site. Please sign in and try again.")

    @app.errorhandler(NotFound)
    def not_found(exc):
        # The one way a view answers "not found": the service raises, nothing catches it on the way.
        return render_error(404, exc.message)

    @app.errorhandler(PermissionDenied)
    def permission_denied(exc):
        return render_error(403, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code in (301, 302, 303, 307, 308):
            return exc
        if exc.code == 413:
            return render_error(413, too_large_message())
        return render_error(exc.code or 500)

    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, database_unavailable)
    for error in REDIS_UNAVAILABLE:
        app.register_error_handler(error, redis_unavailable)

    # Registered after Flask-SQLAlchemy's own teardown, so it runs before it.
    app.teardown_appcontext(_end_session_quietly)

    @app.errorhandler(Exception)
    def unexpected(exc):
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return database_unavailable(exc)  # a lost connection surfacing as another DBAPI error
        _rollback_quietly()
        if app.testing:
            raise exc
        log.exception("Unhandled error")
        return render_error(500)


# The database is down, restarting or unreachable, or the pool is exhausted: a short outage, not a bug.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


# What reaches a view when Redis is away and nothing could stand in: the rate limiter raises it when neither
# Redis nor its in-memory fallback can decide (the fallback takes over only after the first failure; a second
# failure inside the same check surfaces here), and the job queue when a job cannot be queued.
REDIS_UNAVAILABLE = (RedisError, StorageError)


def redis_unavailable(exc):
    """The 503 page, never a 500: a rate-limited door that cannot count attempts never lets one through
    uncounted (failing open on sign-in), and the request's writes are rolled back."""
    _rollback_quietly()
    log.error("Redis unavailable (rate limits or job queue): %s", type(exc).__name__)
    return _unavailable_page()


def _unavailable_page():
    """The friendly 503 page; Retry-After tells clients and proxies when to try again."""
    body, status = render_error(503)
    return body, status, {"Retry-After": "5"}


def _rollback_quietly() -> None:
    """Roll back the request's transaction; on a dead connection that can fail too, and must not turn a
    friendly error page into a bare 500."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - anything here is the outage we are already reporting
        log.warning("Rollback failed while reporting an error", exc_info=True)


def _end_session_quietly(_exc=None) -> None:
    """End the request's database session. A page that read after its last commit still has a transaction
    open, and if the database has just dropped the connection the closing rollback fails: the page is made
    by then, so that must not turn it into a bare 500 (the load test's database restart found this). The
    failed rollback has closed the transaction, so ending the session again returns the connection."""
    try:
        db.session.remove()
    except DATABASE_UNAVAILABLE + (DBAPIError,):
        log.warning("Ending the request's database session failed: the connection was lost")
        db.session.remove()


def database_unavailable(exc):
    """The friendly 503 page (never a 500) while the database is away; nothing was saved, so the user
    may simply try again. Retry-After tells clients and proxies when."""
    _rollback_quietly()
    if "_login_user" not in g:
        # The page must not try to load the signed-in user again (that needs the database that just
        # failed, and would turn this page into a bare 500): it is rendered as for an anonymous visitor.
        g._login_user = login_manager.anonymous_user()
    log.error("Database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return _unavailable_page()

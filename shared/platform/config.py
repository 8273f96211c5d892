"""Configuration from environment variables, with safe local defaults and a strict production mode."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.platform.crypto import generate_key, parse_keys

SECRET_NAMES = ("SECRET_KEY", "AUDIT_HMAC_KEY", "ENCRYPTION_KEYS")


class ConfigurationError(RuntimeError):
    """The app refuses to start: the message says what to set."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(v.strip().lower() for v in value.split(",") if v.strip())


def database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def defaults(instance_path: str) -> dict:
    env = os.environ
    production = env.get("APP_ENV", "development").lower() == "production"
    return {
        "APP_ENV": "production" if production else "development",
        "PRODUCTION": production,
        "DEBUG": _bool(env.get("FLASK_DEBUG")),
        "SQLALCHEMY_DATABASE_URI": database_url(
            env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'advice.db'}"
        ),
        # Where stored files live (shared/platform/blobs.py): filesystem | database; unset means database on
        # PostgreSQL (every host sees the same files), filesystem (the instance folder) otherwise.
        "BLOB_BACKEND": env.get("BLOB_BACKEND", "").strip().lower(),
        "ALLOW_SQLITE_IN_PRODUCTION": _bool(env.get("ALLOW_SQLITE_IN_PRODUCTION")),
        "DATABASE_PRE_PING": _bool(env.get("DATABASE_PRE_PING")),
        "SECRET_KEY": env.get("SECRET_KEY"),
        "AUDIT_HMAC_KEY": env.get("AUDIT_HMAC_KEY"),
        "ENCRYPTION_KEYS": env.get("ENCRYPTION_KEYS"),
        "STUDENT_EMAIL_DOMAINS": _list(env.get("STUDENT_EMAIL_DOMAINS"), ("cam.ac.uk", "example.ac.uk")),
        "PASSWORD_MIN_LENGTH": 12,
        "PASSWORD_MAX_LENGTH": 128,
        # argon2id; tests pass cheaper parameters, production keeps these (argon2-cffi's RFC 9106 low-memory profile).
        "ARGON2_TIME_COST": int(env.get("ARGON2_TIME_COST", 3)),
        "ARGON2_MEMORY_COST": int(env.get("ARGON2_MEMORY_COST", 65536)),
        "ARGON2_PARALLELISM": int(env.get("ARGON2_PARALLELISM", 4)),
        "STUDENT_IDLE_MINUTES": int(env.get("STUDENT_IDLE_MINUTES", 30)),
        "STUDENT_ABSOLUTE_HOURS": int(env.get("STUDENT_ABSOLUTE_HOURS", 12)),
        "REFERENCE_CACHE_SECONDS": int(env.get("REFERENCE_CACHE_SECONDS", 30)),
        "STATS_CACHE_SECONDS": int(env.get("STATS_CACHE_SECONDS", 60)),
        "STAFF_IDLE_MINUTES": int(env.get("STAFF_IDLE_MINUTES", 15)),
        "STAFF_ABSOLUTE_HOURS": int(env.get("STAFF_ABSOLUTE_HOURS", 8)),
        # Staff security and the data lifecycle (shared/security/mfa.py, shared/security/staff_policy.py, shared/lifecycle/retention.py).
        "STAFF_POLICY_VERSION": env.get("STAFF_POLICY_VERSION", "2026-1"),
        "MFA_PENDING_SECONDS": int(env.get("MFA_PENDING_SECONDS", 300)),
        "RATELIMIT_MFA": env.get("RATELIMIT_MFA", "5 per minute; 20 per hour"),
        "RETENTION_YEARS_DEFAULT": int(env.get("RETENTION_YEARS", 6)),
        "TOKEN_MAX_AGE_SECONDS": int(env.get("TOKEN_MAX_AGE_SECONDS", 3600)),
        "MAIL_BACKEND": env.get("MAIL_BACKEND", "smtp" if env.get("MAIL_SERVER") else "outbox"),
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(env.get("MAIL_PORT", 587)),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), True),
        "MAIL_FROM": env.get("MAIL_FROM", "Advice Service <advice@example.ac.uk>"),
        "SERVICE_URL": env.get("SERVICE_URL", "http://127.0.0.1:5000"),
        # How many reverse proxies stand in front (0: none). Their X-Forwarded-For/-Proto are trusted that
        # many hops deep, so rate limits see the visitor's address, not the proxy's.
        "PROXY_HOPS": int(env.get("PROXY_HOPS", 0)),
        "REDIS_URL": env.get("REDIS_URL", ""),
        # Background jobs (shared/subject_access/jobs.py): rq | thread | sync; unset means rq with REDIS_URL, else thread.
        "JOBS_MODE": env.get("JOBS_MODE", ""),
        "JOBS_STALE_MINUTES": int(env.get("JOBS_STALE_MINUTES", 15)),
        "JOBS_MAX_ATTEMPTS": int(env.get("JOBS_MAX_ATTEMPTS", 3)),
        # A form sent again while the first post still runs waits this long for its outcome (web.submissions).
        "SUBMISSION_WAIT_SECONDS": float(env.get("SUBMISSION_WAIT_SECONDS", 5)),
        "ACCESS_DOWNLOAD_DAYS": int(env.get("ACCESS_DOWNLOAD_DAYS", 30)),  # a released copy, then ask again
        "CONSENT_DEFAULT_MONTHS": int(env.get("CONSENT_DEFAULT_MONTHS", 12)),  # a consent lasts this long unless the student chooses less
        "CONSENT_MAX_MONTHS": int(env.get("CONSENT_MAX_MONTHS", 12)),  # and never longer than this
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", env.get("REDIS_URL") or "memory://"),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        # While Redis is unreachable each worker keeps counting the same limits in its own memory (a sign-in
        # door never opens because the store is down), and goes back to Redis once it answers again. A
        # store that hangs rather than refuses is given up on after a second, not a request's whole time.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        # How many worker processes serve the app: gunicorn's own WEB_CONCURRENCY, which gunicorn.conf.py
        # sets to the real count (however it was given) before any worker starts. Unset: one.
        "WEB_CONCURRENCY": env.get("WEB_CONCURRENCY", "1"),
        "RATELIMIT_LOGIN": env.get("RATELIMIT_LOGIN", "10 per minute; 50 per hour"),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_UPLOAD_MB", 10)) * 1024 * 1024 + 64 * 1024,
        "MAX_UPLOAD_BYTES": int(env.get("MAX_UPLOAD_MB", 10)) * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # the CSRF token lives as long as the session, which times out itself
        "SESSION_COOKIE_NAME": "__Host-session" if production else "advice_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": 0,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "SEED_DEMO_ALLOWED": not production,
        # published statistics: counts below this are suppressed (never below 5)
        "STATS_SUPPRESSION_THRESHOLD": env.get("STATS_SUPPRESSION_THRESHOLD", "10"),
    }


def _local_secrets(instance_path: str) -> dict:
    """Generate keys once into instance/secrets.json, for local runs only."""
    path = Path(instance_path) / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "AUDIT_HMAC_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": f"k{secrets.token_hex(4)}:{generate_key()}",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def load(app, overrides: dict | None = None) -> None:
    config = defaults(app.instance_path)
    config.update(overrides or {})
    if config["PRODUCTION"]:
        _check_production(config)
    else:
        generated = None
        for name in SECRET_NAMES:
            if not config.get(name):
                generated = generated or _local_secrets(app.instance_path)
                config[name] = generated[name]
    _check_threshold(config)
    _choose_blob_backend(config)
    # A server connection can drop between requests (a restart, a failover): wsgi's pool checkout hook
    # replaces one the server has closed, without a round trip. DATABASE_PRE_PING=1 adds SQLAlchemy's
    # pre-ping (a statement on every checkout), for networks that can drop a connection silently.
    # PostgreSQL's JIT compiles a query whose estimate looks expensive, taking hundreds of milliseconds
    # for a page's small indexed queries: off for this short-query application.
    # connect_args' options replace the URL's own (`?options=-csearch_path=...`), so they are joined here.
    sqlite = config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {} if sqlite else
                      {"pool_pre_ping": bool(config["DATABASE_PRE_PING"]),
                       "connect_args": {"options": _server_options(config["SQLALCHEMY_DATABASE_URI"])}})
    app.config.update(config)
    app.extensions["encryption_keys"] = parse_keys(config["ENCRYPTION_KEYS"])


def _choose_blob_backend(config: dict) -> None:
    backend = config.get("BLOB_BACKEND") or (
        "database" if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "filesystem")
    if backend not in ("filesystem", "database"):
        raise ConfigurationError(f"BLOB_BACKEND is {backend!r}: set it to filesystem or database.")
    config["BLOB_BACKEND"] = backend


def _server_options(url: str) -> str:
    """The server settings of every connection: the URL's own options, then JIT off."""
    given = make_url(url).query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    return f"{given} -c jit=off".strip()


def _check_threshold(config: dict) -> None:
    value = str(config.get("STATS_SUPPRESSION_THRESHOLD", "10")).strip()
    if not value.isdigit() or int(value) < 5:
        raise ConfigurationError("STATS_SUPPRESSION_THRESHOLD must be a whole number of at least 5.")
    config["STATS_SUPPRESSION_THRESHOLD"] = int(value)


def _check_production(config: dict) -> None:
    problems = []
    if config["DEBUG"]:
        problems.append("FLASK_DEBUG is on: debug mode must never run in production.")
    for name in SECRET_NAMES:
        if not config.get(name):
            problems.append(f"{name} is not set: production needs its own key, not a generated one.")
    for name in ("SECRET_KEY", "AUDIT_HMAC_KEY"):
        if config.get(name) and len(config[name]) < 32:
            problems.append(f"{name} is too short: use at least 32 random characters.")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and not config["ALLOW_SQLITE_IN_PRODUCTION"]:
        problems.append("DATABASE_URL points at SQLite: set a PostgreSQL URL (or ALLOW_SQLITE_IN_PRODUCTION=1).")
    if config["MAIL_BACKEND"] == "outbox":
        problems.append("MAIL_SERVER is not set: production sends mail through SMTP (the local outbox writes to "
                        "one host's disk and sends nothing).")
    problems += filter(None, [limiter_storage_problem(config)])
    if problems:
        raise ConfigurationError("Refusing to start in production mode:\n- " + "\n- ".join(problems))


def limiter_storage_problem(config: dict, workers=None) -> str | None:
    """Why these rate limits would not hold in production, or None. memory:// keeps each worker's counters
    in that worker: with several, each counts alone and an attacker gets the limit once per worker. The
    app's own check and gunicorn.conf.py's (which knows the real worker count) both ask this."""
    workers = config.get("WEB_CONCURRENCY", "1") if workers is None else workers
    try:
        workers = int(str(workers).strip())
    except ValueError:
        return f"WEB_CONCURRENCY is {workers!r}: set it to the number of worker processes, like 4."
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if workers > 1 and storage.startswith("memory://") and config.get("RATELIMIT_ENABLED", True):
        return (f"RATELIMIT_STORAGE_URI is memory:// with {workers} workers: each worker would count sign-in "
                "attempts alone. Set RATELIMIT_STORAGE_URI (or REDIS_URL) to Redis, like redis://127.0.0.1:6379/0, "
                "or run one worker.")
    return None

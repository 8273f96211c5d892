"""Deny by default, security headers, CSRF, error pages, health, production refusals."""

import re

import pytest

from shared.security.authz import PUBLIC_ATTR

# Every endpoint open to anonymous visitors, written down: a new public endpoint must be added here on purpose.
PUBLIC_ENDPOINTS = {
    "static",
    "health.healthz",
    "portal.index",
    "portal.sign_in",
    "portal.register",
    "portal.confirm_email",
    "portal.reset_request",
    "portal.reset",
    "backoffice.sign_in",
    "backoffice.reset_request",
    "backoffice.reset",
    # The staff second step: open only to someone half-way in (a valid password in the last few minutes).
    "backoffice.sign_in_code",
    "backoffice.sign_in_enrol",
}


def _sample_url(app, rule):
    values = {}
    for arg in rule.arguments:
        items = getattr(rule._converters.get(arg), "items", None)  # an <any(...)> converter: use a real choice
        values[arg] = sorted(items)[0] if items else "1"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_every_endpoint_is_public_on_purpose_or_refused_to_anonymous_visitors(app):
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, PUBLIC_ATTR, False) or rule.endpoint == "static":
            assert rule.endpoint in PUBLIC_ENDPOINTS, f"{rule.endpoint} is public but not in the allowlist"
            continue
        url = _sample_url(app, rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = client.open(url, method=method)
            assert resp.status_code in (302, 400, 401, 404), f"{method} {url} answered {resp.status_code}"
            if resp.status_code == 302:
                assert "sign-in" in resp.headers["Location"]
            checked += 1
    assert checked > 0


def test_public_allowlist_names_only_real_endpoints(app):
    assert PUBLIC_ENDPOINTS <= set(app.view_functions)


def test_unguarded_endpoint_outside_blueprints_is_refused(tmp_path_factory):
    from tests.support.web import testing_config
    from wsgi import create_app

    app = create_app(testing_config(tmp_path_factory))

    @app.get("/forgotten")
    def forgotten():
        return "secret"

    assert app.test_client().get("/forgotten").status_code == 404


def test_security_headers_on_every_page(client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in resp.headers  # only in production (HTTPS)


def test_authenticated_pages_are_not_stored(student_browser, officer_browser):
    assert student_browser.get("/home").headers["Cache-Control"] == "no-store"
    assert officer_browser.get("/staff/").headers["Cache-Control"] == "no-store"


def test_pages_load_no_third_party_assets(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html
    assert "<script" not in html


def test_missing_csrf_token_is_refused_and_ends_the_session(student_browser):
    resp = student_browser.post("/account", {"current": "x", "password": "y", "confirm": "y"})
    assert resp.status_code == 400
    assert student_browser.get("/home").status_code == 302


def _form_token(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_a_session_keeps_one_form_token_and_it_signs_out(student_browser):
    """Each session's signed form token is made once and reused on every page (tokens do not expire by age
    here); it is still the session's own, and still signs out."""
    token = _form_token(student_browser.get("/home"))
    assert _form_token(student_browser.get("/cases")) == token == _form_token(student_browser.get("/home"))
    assert student_browser.post("/sign-out", data={"csrf_token": token}).status_code in (302, 303)
    assert student_browser.get("/home").status_code == 302


def test_another_sessions_kept_form_token_is_refused(student_browser, other_student_browser):
    theirs = _form_token(other_student_browser.get("/home"))
    assert _form_token(student_browser.get("/home")) != theirs
    assert student_browser.post("/sign-out", data={"csrf_token": theirs}).status_code == 400
    assert other_student_browser.get("/home").status_code == 200  # theirs was not touched


def test_logout_is_post_only(student_browser):
    assert student_browser.get("/sign-out").status_code == 405
    assert student_browser.get("/home").status_code == 200


def test_error_pages_are_friendly_and_reveal_nothing(client):
    resp = client.get("/no/such/page")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "Page not found" in body
    assert "Traceback" not in body and "werkzeug" not in body.lower()


def test_oversize_request_gets_a_clear_413_page(app, client):
    resp = client.post("/sign-in", data={"email": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    assert resp.status_code == 413
    assert "too large" in resp.get_data(as_text=True)


def test_health_check_reports_the_database(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json["database"] == "up"


def test_health_check_answers_503_when_the_database_is_down(tmp_path_factory):
    from tests.support.web import testing_config
    from wsgi import create_app

    config = testing_config(tmp_path_factory)
    config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    app = create_app(config)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.json["database"] == "down"


def test_rate_limit_on_sign_in_does_not_reveal_accounts(make_limited_app, student):
    from tests.support.web import Browser

    limited = make_limited_app(RATELIMIT_LOGIN="3 per minute")
    outcomes = {}
    for n, email in enumerate((student.email, "nobody.here@example.ac.uk")):
        b = Browser(limited.test_client())
        b.client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"  # each guess from its own address
        outcomes[email] = [
            b.submit("/sign-in", {"email": email, "password": "wrong password entirely"}).status_code
            for _ in range(4)
        ]
    assert outcomes[student.email] == outcomes["nobody.here@example.ac.uk"] == [200, 200, 200, 429]


def test_a_rate_limited_door_still_shows_its_page(make_limited_app, student):
    """Limits are on submitting a form, never on reading a page: once sign-in attempts from an address
    are limited, the sign-in page itself (and every other page) still answers, so the person can read
    what to do; the next attempt is still refused."""
    from tests.support.web import Browser

    limited = make_limited_app(RATELIMIT_LOGIN="2 per minute")
    b = Browser(limited.test_client())
    b.client.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    attempts = [b.submit("/sign-in", {"email": student.email, "password": "wrong password entirely"}).status_code
                for _ in range(3)]
    assert attempts == [200, 200, 429]
    assert all(b.client.get("/sign-in").status_code == 200 for _ in range(5))
    assert b.client.get("/").status_code == 200
    assert b.submit("/sign-in", {"email": student.email, "password": "wrong password entirely"}).status_code == 429


@pytest.mark.parametrize(
    "env,needle",
    [
        ({"FLASK_DEBUG": "1"}, "FLASK_DEBUG"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "SQLite"),
        ({"AUDIT_HMAC_KEY": "short"}, "too short"),
        ({"MAIL_SERVER": ""}, "SMTP"),
    ],
)
def test_production_mode_refuses_unsafe_configuration(monkeypatch, tmp_path, env, needle):
    from shared.platform.config import ConfigurationError
    from wsgi import create_app

    safe = {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "AUDIT_HMAC_KEY": "a" * 40,
        "ENCRYPTION_KEYS": "k1:" + __import__("shared.platform.crypto", fromlist=["x"]).generate_key(),
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
        "FLASK_DEBUG": "0",
        "MAIL_SERVER": "smtp.example.ac.uk",
    }
    for key, value in {**safe, **env}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match=needle):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def _production_env(monkeypatch, **env) -> dict:
    """A production environment that is safe apart from `env`: no Redis and one worker unless told."""
    from shared.platform.crypto import generate_key

    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY", "RATELIMIT_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    values = {"APP_ENV": "production", "SECRET_KEY": "s" * 40, "AUDIT_HMAC_KEY": "a" * 40,
              "ENCRYPTION_KEYS": "k1:" + generate_key(), "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
              "MAIL_SERVER": "smtp.example.ac.uk", **env}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_production_refuses_rate_limits_in_memory_with_several_workers(monkeypatch, tmp_path):
    """Each worker would count sign-in attempts alone: four workers, four times the attempts."""
    from shared.platform.config import ConfigurationError
    from wsgi import create_app

    _production_env(monkeypatch, WEB_CONCURRENCY="4")
    with pytest.raises(ConfigurationError, match=r"RATELIMIT_STORAGE_URI is memory:// with 4 workers.*Redis"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("WEB_CONCURRENCY", "four")
    with pytest.raises(ConfigurationError, match="WEB_CONCURRENCY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize("env", [{}, {"WEB_CONCURRENCY": "1"},
                                 {"WEB_CONCURRENCY": "4", "REDIS_URL": "redis://127.0.0.1:6379/0"},
                                 {"WEB_CONCURRENCY": "4", "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}])
def test_production_starts_with_one_worker_or_with_limits_in_redis(monkeypatch, tmp_path, env):
    from wsgi import create_app

    _production_env(monkeypatch, **env)
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["PRODUCTION"]


def test_gunicorn_in_production_refuses_several_workers_with_limits_in_memory(monkeypatch, tmp_path):
    """As an operator starts it (gunicorn reads the repository's gunicorn.conf.py by itself): --workers on the
    command line is seen, and gunicorn stops before any worker starts, saying which setting to fix."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, **_production_env(monkeypatch), "INSTANCE_PATH": str(tmp_path)}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    try:
        run = subprocess.run([gunicorn, "--workers", "3", "--bind", "127.0.0.1:0", "wsgi:app"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("gunicorn started three workers in production with the rate limits in each one's memory")
    assert run.returncode != 0
    assert "RATELIMIT_STORAGE_URI is memory:// with 3 workers" in run.stderr, run.stderr[-2000:]


def test_the_gunicorn_hook_tells_the_app_how_many_workers_there_are(monkeypatch):
    import os
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    hooks = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    _production_env(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0", WEB_CONCURRENCY="1")  # undone after
    hooks["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=5)))
    assert os.environ["WEB_CONCURRENCY"] == "5"  # so each worker's create_app sees the real count
    monkeypatch.delenv("REDIS_URL")
    with pytest.raises(SystemExit, match="RATELIMIT_STORAGE_URI is memory:// with 5 workers"):
        hooks["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=5)))


def test_production_mode_starts_with_safe_configuration_and_secure_cookies(monkeypatch, tmp_path):
    from shared.platform.crypto import generate_key
    from wsgi import create_app

    for key, value in {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "AUDIT_HMAC_KEY": "a" * 40,
        "ENCRYPTION_KEYS": "k1:" + generate_key(),
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
        "MAIL_SERVER": "smtp.example.ac.uk",
    }.items():
        monkeypatch.setenv(key, value)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert not app.config["SEED_DEMO_ALLOWED"]
    resp = app.test_client().get("/healthz", base_url="https://localhost")
    assert "max-age" in resp.headers["Strict-Transport-Security"]


def test_every_download_is_an_attachment_never_sniffed_nor_cached(db, student_browser, manager_browser, student):
    """One download responder: the receipt, the published statistics and the CSVs, as the documents."""
    from tests.factories_consent import give_consent

    consent = give_consent(student)
    downloads = [student_browser.get(f"/consents/{consent.id}/receipt.json"),
                 student_browser.get(f"/consents/{consent.id}/receipt.pdf"),
                 manager_browser.get("/staff/admin/audit.csv")]
    for resp in downloads:
        assert resp.status_code == 200, resp.request.path
        assert resp.headers["Content-Disposition"].startswith("attachment;"), resp.request.path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", resp.request.path
        assert "no-store" in resp.headers["Cache-Control"], resp.request.path


def test_the_services_check_their_actor_not_only_the_guard(db, student):
    """Subject access's staff services and third-party enquiries refuse anyone who is not staff themselves."""
    from shared.consent import enquiries
    from shared.platform.errors import NotFound
    from shared.subject_access import reading
    from tests.factories_access import make_request

    req = make_request(student)
    for call in (lambda: reading.view_request(student, req.id), lambda: reading.request_queue(student),
                 lambda: enquiries.enquiries(student), lambda: enquiries.enquiry(student, 1),
                 lambda: enquiries.answer_enquiry(student, enquirer_name="A", enquirer_role=None,
                                                  enquirer_organisation="B", about_name="C", about_email=None,
                                                  asked="D")):
        with pytest.raises(NotFound):
            call()

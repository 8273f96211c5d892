"""The benchmark machinery: databases at a given scale, signing in without the sign-in form, timing pages
with their SQL statement counts, throughput under gunicorn beside a floor page, and audit verification.

Everything here takes an app (or a database URL) explicitly, so tests run it on a tiny scale.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func, select

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))

# Fixed, fictional keys for benchmark databases only, so a seeded database can be reused between runs.
BENCH_KEYS = {
    "SECRET_KEY": "bench-secret-key-not-for-production-" + "s" * 16,
    "AUDIT_HMAC_KEY": "bench-audit-key-not-for-production-" + "a" * 16,
    "ENCRYPTION_KEYS": "bench1:" + "YmVuY2gta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0xMjM=",  # 32 bytes, base64
}


def bench_config(database_url: str, **extra) -> dict:
    from shared.platform.config import database_url as normalise

    return {
        **BENCH_KEYS,
        "SQLALCHEMY_DATABASE_URI": normalise(database_url),
        "INSTANCE_PATH": str(RESULTS / "instance"),
        "MAIL_BACKEND": "memory",
        **extra,
    }


def bench_env(database_url: str, **extra) -> dict:
    """The same configuration as environment variables, for gunicorn."""
    env = {**os.environ, **BENCH_KEYS, "DATABASE_URL": database_url, "MAIL_BACKEND": "memory",
           "PYTHONPATH": str(ROOT), "APP_ENV": "development"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def database_url_for(kind: str, cases: int) -> str:
    if kind == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{RESULTS / f'scale-{cases}.sqlite'}"
    return f"postgresql://postgres@127.0.0.1:5432/perf_bench_{cases}"


def create_postgres_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    base, _, name = url.rpartition("/")
    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


# --- data at scale ---------------------------------------------------------------------------------


def prepare(app, cases: int, *, reuse: bool = True, log=print) -> dict:
    """Migrate and seed `cases` cases, or reuse a database that seed-scale filled with that many before."""
    from flask_migrate import upgrade

    from shared.demo.scale import describe, seed_scale
    from shared.models import Case
    from shared.platform.extensions import db

    with app.app_context():
        upgrade()
        existing = db.session.scalar(select(func.count(Case.id)))
        if reuse and existing == cases + 1:  # seed-scale adds the long case
            summary = describe()
            log(f"  reusing the {existing} cases already seeded")
        elif existing:
            raise SystemExit(f"{app.config['SQLALCHEMY_DATABASE_URI']} already holds {existing} cases, not "
                             f"{cases} from seed-scale: drop it (or delete its file) so the scale is exact.")
        else:
            log(f"  seeding {cases} cases ...")
            summary = seed_scale(cases, progress=lambda done, total: None)
            log(f"  seeded in {summary['seconds']} s")
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load: planner statistics and the visibility map.
            # Without them PostgreSQL guesses a million rows for a 200-id IN list and scans the table.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    summary["last_page_50"] = max(1, -(-summary["cases"] // 50))
    add_page_placeholders(app, summary)
    return summary


def add_page_placeholders(app, summary: dict) -> None:
    """Values the page table's paths use besides seed-scale's own: the case list's last page, references."""
    from sqlalchemy import select

    from shared.casework.case_list import PAGE_SIZE
    from shared.models import Case
    from shared.platform.extensions import db

    summary["last_page"] = max(1, -(-summary["cases"] // PAGE_SIZE))
    with app.app_context():
        for key in ("big_case", "sample_case"):
            case_id = summary.get(f"{key}_id")
            summary[f"{key}_reference"] = db.session.scalar(select(Case.reference).where(Case.id == case_id))


# --- signing in ------------------------------------------------------------------------------------


def account_for(who: str, summary: dict):
    from shared.models import Staff, Student
    from shared.platform.extensions import db

    if who == "anonymous":
        return None
    if who == "student":
        return db.session.get(Student, summary["sample_student_id"])
    staff_id = {"officer": summary["officer_ids"][0], "manager": summary["manager_id"],
                "admin": summary["admin_id"]}[who]
    return db.session.get(Staff, staff_id)


def session_cookie(app, who: str, summary: dict) -> tuple[str, str] | None:
    """(cookie name, value) for a fresh login session of `who`, made directly through shared.security.sessions.start:
    no sign-in form, so a later extra sign-in step (staff TOTP) does not break the benchmark."""
    from shared.platform.transactions import writer_thread

    # Signing in writes: on SQLite, a transaction that read first could not then write if a server's worker
    # committed in between ("database is locked" at once); a writer's transaction takes the lock first.
    with app.app_context(), writer_thread():
        account = account_for(who, summary)
        return None if account is None else session_cookie_for(app, account)


def session_cookie_for(app, account) -> tuple[str, str]:
    """(cookie name, value) signing `account` in (in the caller's app context), as the sign-in pages would."""
    from shared.platform.extensions import db
    from shared.security import sessions

    if account.kind == "staff":
        from shared.security import staff_policy

        if not staff_policy.has_accepted_current(account):
            staff_policy.record_for_seed(account)  # staff must accept the policy before the back office
    login_session = sessions.start(account, "benchmark")
    db.session.commit()
    token = login_session.raw_token
    serializer = app.session_interface.get_signing_serializer(app)
    # The cookie as a browser holds it after its first page: with the form token Flask-WTF keeps in the
    # session (without it, every page would make one and send a new cookie, which no browser would cause).
    csrf = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324 - Flask-WTF's own recipe for the raw token
    name = app.config["SESSION_COOKIE_NAME"]
    value = serializer.dumps({"_user_id": token, "_fresh": True, "csrf_token": csrf})
    # ... and with what the first page adds to it (the back office remembers there that this person has
    # accepted the current confidentiality policy): a browser sends the cookie it was given back.
    client = app.test_client()
    client.set_cookie(name, value)
    with app.app_context():  # its own context, so its own database session: the caller's is left as it was
        client.get("/staff/" if account.kind == "staff" else "/home").close()
    given = client.get_cookie(name)
    return name, given.value if given is not None else value


# --- page timings ----------------------------------------------------------------------------------


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")


@contextmanager
def counting_statements(engine):
    """Counts the SQL statements a request sends (transaction control aside, so both databases agree)."""
    counter = {"n": 0}

    def before(_conn, _cursor, statement, *_args, **_kw):
        if not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):  # SQLite's BEGIN IMMEDIATE
            counter["n"] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure_pages(app, summary: dict, pages, *, repeats: int = 50, warmup: int = 5) -> list[dict]:
    """Server time (in-process, through the WSGI app) and SQL statements per request, for each page."""
    from shared.platform.extensions import db
    from wsgi import settle_after_startup

    settle_after_startup()  # as a worker does once it has started (wsgi:app)

    with app.app_context():
        engine = db.engine
    results = []
    cookies: dict[str, tuple[str, str] | None] = {}
    for page in pages:
        if page.who not in cookies:
            cookies[page.who] = session_cookie(app, page.who, summary)
        client = app.test_client()
        if cookies[page.who]:
            name, value = cookies[page.who]
            client.set_cookie(name, value)
        path = page.path.format(**summary)
        times, queries, statuses = [], [], set()
        with counting_statements(engine) as counter:
            for i in range(warmup + repeats):
                counter["n"] = 0
                started = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - started
                response.close()
                statuses.add(response.status_code)
                if i >= warmup:
                    times.append(elapsed * 1000)
                    queries.append(counter["n"])
        results.append({
            "page": page.name, "who": page.who, "path": path,
            "status": sorted(statuses), "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(percentile(times, 95), 2), "queries": max(queries), "queries_min": min(queries),
        })
    return results


def verify_timing(app) -> dict:
    from shared.audit import log as audit

    with app.app_context():
        started = time.perf_counter()
        result = audit.verify()
        seconds = time.perf_counter() - started
    per_100k = seconds * 100_000 / max(1, result.checked)
    return {"ok": result.ok, "events": result.checked, "seconds": round(seconds, 2),
            "seconds_per_100k": round(per_100k, 2), "result": str(result)}


# --- throughput under gunicorn ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn_options() -> list[str]:
    # gunicorn >= 24 opens a control socket at one fixed path: off, so that runs never disturb each other.
    try:
        help_text = subprocess.run([GUNICORN, "--help"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    except OSError:
        return []
    return ["--no-control-socket"] if "--no-control-socket" in help_text else []


_NO_CONTROL_SOCKET = _gunicorn_options()


@contextmanager
def gunicorn(database_url: str, *, workers: int = 2, app_path: str = "bench.serve:app", env_extra=None,
             log_path: Path | None = None):
    """A gunicorn serving the project app (and the floor page at /__floor) on a free loopback port."""
    port = free_port()
    env = bench_env(database_url, **(env_extra or {}))
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [GUNICORN, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5",
         "--timeout", "30", *_NO_CONTROL_SOCKET, app_path],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
    )
    try:
        wait_until_up(port, proc)
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def wait_until_up(port: int, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s")


def load(port: int, path: str, *, seconds: float, connections: int = 8, cookie: str | None = None) -> dict:
    """Closed-loop load for `seconds`: wrk when installed, else Python threads with keep-alive."""
    if shutil.which("wrk"):
        return _wrk(port, path, seconds, connections, cookie)
    return _python_load(port, path, seconds, connections, cookie)


def _wrk(port, path, seconds, connections, cookie) -> dict:
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,  # noqa: S603
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"tool": "wrk", "rps": round(rps, 1), "requests": total, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else ""}


def _python_load(port, path, seconds, connections, cookie) -> dict:
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "bad": 0}
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        ok = bad = 0
        while time.monotonic() < stop:
            try:
                conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
                response = conn.getresponse()
                response.read()
                ok, bad = (ok + 1, bad) if response.status == 200 else (ok, bad + 1)
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with lock:
            counts["ok"] += ok
            counts["bad"] += bad

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = counts["ok"] + counts["bad"]
    return {"tool": "python", "rps": round(total / elapsed, 1), "requests": total, "non_2xx": counts["bad"],
            "socket_errors": ""}


FLOOR_PATH = "/__floor/"


def check_status(port: int, path: str, cookie: str | None = None) -> None:
    """Load tools count redirects as successes: make sure the page itself answers 200 before loading it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    status = conn.getresponse().status
    conn.close()
    if status != 200:
        raise RuntimeError(f"{path} answered {status}, not 200: fix the page table (path or role) first")


def audit_count(app) -> int:
    from shared.models import AuditEvent
    from shared.platform.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)))


def throughput(app, database_url: str, summary: dict, pages, *, seconds: float = 10, connections: int = 8,
               workers: int = 2, rounds: int = 3) -> dict:
    """Requests/s for each `throughput=True` page beside the floors (bench.floor), all from the same gunicorn.

    These machines are shared: another process can take a core for a while. So each page is measured in
    `rounds` slices that alternate with slices of each floor, and a ratio is the page's requests over the
    floor's in the slices beside it; a burst of noise then weighs on both sides alike."""
    from bench import floor

    out = {"workers": workers, "seconds": seconds, "connections": connections, "rounds": rounds, "pages": []}
    keys = {name: app.config[name] for name in BENCH_KEYS}  # the cookies made here must open over there
    RESULTS.mkdir(parents=True, exist_ok=True)
    slice_seconds = max(1.0, seconds / rounds)
    floors = []
    floor.create_floor_tables(database_url)
    signed_in = floor.stack_floor_cookie()
    references = {"floor": (FLOOR_PATH, None),
                  "floor_with_a_write": (FLOOR_PATH.rstrip("/") + floor.WRITE_PATH, None),
                  "stack_floor": (floor.STACK_FLOOR_PATH, signed_in),
                  "stack_floor_reading": (floor.STACK_FLOOR_PATH.rstrip("/") + floor.READING_PATH, signed_in)}
    with gunicorn(database_url, workers=workers, env_extra=keys, log_path=RESULTS / "gunicorn.log") as (_proc, port):
        for path, cookie in references.values():
            check_status(port, path, cookie)
        load(port, FLOOR_PATH, seconds=1, connections=connections)  # warm-up
        for page in pages:
            if not page.throughput:
                continue
            cookie = session_cookie(app, page.who, summary)
            header = f"{cookie[0]}={cookie[1]}" if cookie else None
            path = page.path.format(**summary)
            check_status(port, path, header)
            load(port, path, seconds=1, connections=connections, cookie=header)
            page_slices, written = [], 0
            beside: dict[str, list[dict]] = {name: [] for name in references}
            for _ in range(rounds):
                for name, (reference, reference_cookie) in references.items():
                    beside[name].append(load(port, reference, seconds=slice_seconds, connections=connections,
                                             cookie=reference_cookie))
                before = audit_count(app)
                page_slices.append(load(port, path, seconds=slice_seconds, connections=connections, cookie=header))
                written += audit_count(app) - before
            floors += beside["floor"]
            result = _combined(page_slices)
            result.update(page=page.name, path=path,
                          audit_events_per_request=round(written / max(1, result["requests"]), 2))
            for name, slices in beside.items():
                rps = _combined(slices)["rps"]
                result[f"{name}_rps"] = rps
                result[f"ratio_to_{name}"] = round(result["rps"] / max(rps, 0.1), 2)
            out["pages"].append(result)
        if not floors:
            floors.append(load(port, FLOOR_PATH, seconds=seconds, connections=connections))
    out["floor"] = _combined(floors)
    return out


def _combined(slices: list[dict]) -> dict:
    """Slices of equal length as one run: their mean rate, their total requests and failures."""
    return {"tool": slices[0]["tool"], "rps": round(sum(s["rps"] for s in slices) / len(slices), 1),
            "requests": sum(s["requests"] for s in slices), "non_2xx": sum(s["non_2xx"] for s in slices),
            "socket_errors": "; ".join(s["socket_errors"] for s in slices if s["socket_errors"]),
            "slices_rps": [s["rps"] for s in slices]}

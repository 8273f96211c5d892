"""Load with faults: `python -m bench.load_faults` (or `make load-faults`). Bounded in time, loopback only.

gunicorn (several workers) on PostgreSQL, with Redis for rate limits, serves simulated students (writing:
see WRITES) and officers (browsing) for --seconds. Meanwhile one worker is killed with SIGKILL and
PostgreSQL is stopped for a few seconds and started again. Afterwards it checks, and prints on one screen:
every submission that got a success page is in the database exactly once; no partial records; errors only
inside the fault windows, and those were clean 503 pages (or, for the killed worker's in-flight requests,
a dropped connection); no 500s; the audit chain verifies; the app recovered by itself. Exit status 1 if any
check fails.

PostgreSQL: by default a private throwaway cluster (initdb under /tmp, its own port), so restarting it
disturbs nobody else's database; `--system-cluster` restarts the machine's cluster instead (pg_ctlcluster),
and in every case the script makes sure that cluster is running again when it ends.

Adding a write: subclass `Write` (a `submit` that performs one submission over HTTP and returns its key and
whether the success page came back, and a `count` of records per key in the database), add it to WRITES,
and pass `--write NAME`. For casework after the merge: submit the casework form (or a message) as the
signed-in student, key by (student, a marker) and count the cases (or messages) holding it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench import harness

FRIENDLY_503 = "The service is unavailable"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- an HTTP client with cookies and form tokens ----------------------------------------------------


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (connection refused, reset or timed out)
    body: str = ""
    error: str = ""
    location: str = ""


class Client:
    def __init__(self, port: int, cookie: tuple[str, str] | None = None):
        self.port = port
        self.cookies: dict[str, str] = dict([cookie]) if cookie else {}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, form: dict | None = None) -> Reply:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Reply(0, error=type(exc).__name__)
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "expires=thu, 01 jan 1970" not in header.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return Reply(response.status, text, location=response.getheader("Location", ""))

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def submit(self, path: str, form: dict) -> tuple[Reply, Reply | None]:
        """GET the form for its CSRF token, then POST it: (the POST's reply, or the failed GET's, and whether
        the POST was sent)."""
        page = self.get(path)
        match = CSRF_RE.search(page.body) if page.status == 200 else None
        if match is None:
            return page, None
        return self.request("POST", path, {"csrf_token": match.group(1), **form}), page

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- pluggable writes --------------------------------------------------------------------------------


class Write:
    """One kind of submission a simulated student makes."""

    name = ""
    audit_action = ""  # the audit event each stored record must have (for the partial-record check)

    def submit(self, client: Client, rng: random.Random) -> tuple[str, Reply, bool]:
        """Perform one submission: (its key, the reply, whether the reply is the success page)."""
        raise NotImplementedError

    def count(self, app, keys: list[str]) -> dict[str, int]:
        """How many records hold each key."""
        raise NotImplementedError

    def partial(self, app) -> list[str]:
        """Records of this kind without their audit event (or the reverse): must be empty."""
        return []


class RegisterWrite(Write):
    """Registration: a new student row and its `student.registered` audit event, in one transaction."""

    name = "register"
    audit_action = "student.registered"

    def submit(self, client, rng):
        email = f"load-{uuid.uuid4().hex[:16]}@example.ac.uk"
        password = "load test passphrase " + uuid.uuid4().hex[:8]
        reply, _page = client.submit("/register", {"email": email, "password": password, "confirm": password})
        return email, reply, reply.status == 200 and "Check your email" in reply.body

    def count(self, app, keys):
        from sqlalchemy import func, select

        from shared.extensions import db
        from shared.models import Student

        counts = dict.fromkeys(keys, 0)
        with app.app_context():
            for chunk in range(0, len(keys), 500):
                rows = db.session.execute(
                    select(Student.email, func.count()).where(Student.email.in_(keys[chunk:chunk + 500]))
                    .group_by(Student.email)
                )
                counts.update({email: n for email, n in rows})
        return counts

    def partial(self, app):
        from sqlalchemy import select

        from shared.extensions import db
        from shared.models import AuditEvent, Student

        with app.app_context():
            every_student = set(db.session.scalars(select(Student.id)))
            load_students = set(db.session.scalars(select(Student.id).where(Student.email.like("load-%"))))
            audited = Counter(db.session.scalars(
                select(AuditEvent.student_id).where(AuditEvent.action == self.audit_action)))
        problems = [f"student {s} has {audited[s]} registration events" for s in load_students if audited[s] != 1]
        problems += [f"a registration event for student {s}, who is not stored" for s in audited
                     if s not in every_student]
        return problems


WRITES: dict[str, Write] = {w.name: w for w in (RegisterWrite(),)}


# --- PostgreSQL that can be restarted ----------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


class PrivatePostgres:
    """A throwaway cluster under /tmp on its own port: restarting it disturbs nobody."""

    def __init__(self):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: float(p.parent.name))[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="perf_load_pg_"))
        self.data = self.dir / "data"
        self.port = harness.free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/perf_load"

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / args[0]), *args[1:]]), check=True, capture_output=True)  # noqa: S603

    def setup(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "perf_load")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-k /tmp -h 127.0.0.1 -p {self.port} -c max_connections=100", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def finish(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class SystemPostgres:
    """The machine's own cluster (pg_ctlcluster): always left running at the end."""

    def __init__(self):
        self.version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
        self.url = "postgresql://postgres@127.0.0.1:5432/perf_load"

    def _ctl(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action],  # noqa: S603,S607
                       check=True, capture_output=True)

    def setup(self) -> None:
        harness.create_postgres_database(self.url)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop")

    def finish(self) -> None:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode != 0:  # noqa: S603,S607
            self.start()


# --- the run -----------------------------------------------------------------------------------------


@dataclass
class Log:
    started: float = field(default_factory=time.monotonic)
    requests: list = field(default_factory=list)  # (t, who, path, status, clean_503, error)
    submissions: list = field(default_factory=list)  # (t, key, success, status)
    faults: dict = field(default_factory=dict)  # name -> [t_start, t_end]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def request(self, who: str, path: str, reply: Reply, t: float) -> None:
        clean = reply.status == 503 and FRIENDLY_503 in reply.body and "<html" in reply.body
        with self.lock:
            self.requests.append((t, who, path, reply.status, clean, reply.error))


def student_loop(port, cookie, write: Write, log: Log, stop: threading.Event, rng: random.Random, write_share):
    browser = Client(port, cookie)
    while not stop.is_set():
        t = log.now()
        if rng.random() < write_share:
            writer = Client(port)  # a fresh visitor for each registration
            key, reply, success = write.submit(writer, rng)
            writer.close()
            log.request("student", "/register", reply, t)
            with log.lock:
                log.submissions.append((t, key, success, reply.status))
        else:
            log.request("student", "/home", browser.get("/home"), t)
        stop.wait(rng.uniform(0.05, 0.4))
    browser.close()


def officer_loop(port, cookie, paths, log: Log, stop: threading.Event, rng: random.Random):
    client = Client(port, cookie)
    while not stop.is_set():
        path = rng.choice(paths)
        t = log.now()
        log.request("officer", path, client.get(path), t)
        stop.wait(rng.uniform(0.05, 0.4))
    client.close()


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True,  # noqa: S603,S607
                         check=False).stdout
    return [int(p) for p in out.split()]


def faults(master: int, pg, log: Log, stop: threading.Event, *, kill_at: float, outage_at: float,
           outage_seconds: float) -> None:
    if stop.wait(kill_at):
        return
    victims = worker_pids(master)
    if victims:
        t = log.now()
        os.kill(victims[0], signal.SIGKILL)
        log.faults["worker_killed"] = [t, t]
        while log.now() - t < 30:  # until the master has replaced it
            pids = worker_pids(master)
            if victims[0] not in pids and len(pids) >= len(victims):
                break
            time.sleep(0.05)
        log.faults["worker_killed"][1] = log.now()
    if stop.wait(max(0.0, outage_at - log.now())):
        return
    t = log.now()
    log.faults["database_down"] = [t, None]
    pg.stop()
    time.sleep(outage_seconds)
    pg.start()
    log.faults["database_down"][1] = log.now()


def probe(port, log: Log, stop: threading.Event, seen: list) -> None:
    """/healthz every 100 ms: when the app answers again after each fault."""
    client = Client(port)
    while not stop.is_set():
        t = log.now()
        reply = client.get("/healthz")
        seen.append((t, reply.status))
        stop.wait(0.1)
    client.close()


def run(args) -> dict:
    from wsgi import create_app

    write = WRITES[args.write]
    pg = SystemPostgres() if args.system_cluster else PrivatePostgres()
    report: dict = {"postgres": "system cluster" if args.system_cluster else "private throwaway cluster",
                    "workers": args.workers, "seconds": args.seconds, "students": args.students,
                    "officers": args.officers, "write": write.name}
    redis_url = args.redis_url
    try:
        pg.setup()
        app = create_app(harness.bench_config(pg.url, RATELIMIT_STORAGE_URI=redis_url))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        from shared.scale import seed_scale

        with app.app_context():
            summary = seed_scale(args.seed_cases)
            student_ids = _scale_student_ids(app, args.students)
        env = {"REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url,
               # The limits stay on (in Redis) but generous: every simulated user shares 127.0.0.1.
               "RATELIMIT_LOGIN": "100000 per minute",
               # Cheap password hashing: this run measures the app and its faults, not argon2 on 2 cores.
               "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
        log = Log()
        stop = threading.Event()
        health: list = []
        with harness.gunicorn(pg.url, workers=args.workers, app_path="wsgi:app", env_extra=env,
                              log_path=harness.RESULTS / "load-faults-gunicorn.log") as (proc, port):
            cookies_students = []
            for sid in student_ids:
                cookies_students.append(harness.session_cookie(app, "student", {**summary, "sample_student_id": sid}))
            cookies_officers = [harness.session_cookie(app, "officer", {**summary, "officer_ids": [oid]})
                                for oid in (summary["officer_ids"] * args.officers)[: args.officers]]
            log = Log()
            threads = [threading.Thread(target=student_loop, daemon=True, args=(
                port, cookie, write, log, stop, random.Random(i), args.write_share))
                for i, cookie in enumerate(cookies_students)]
            threads += [threading.Thread(target=officer_loop, daemon=True, args=(
                port, cookie, args.officer_paths, log, stop, random.Random(1000 + i)))
                for i, cookie in enumerate(cookies_officers)]
            threads.append(threading.Thread(target=probe, args=(port, log, stop, health), daemon=True))
            fault_thread = threading.Thread(target=faults, daemon=True, args=(proc.pid, pg, log, stop), kwargs={
                "kill_at": args.seconds * 0.25, "outage_at": args.seconds * 0.5, "outage_seconds": args.outage})
            for t in threads:
                t.start()
            fault_thread.start()
            stop.wait(args.seconds)
            stop.set()
            fault_thread.join(timeout=60)
            for t in threads:
                t.join(timeout=30)
            # Recovered by itself: nothing was restarted by us except the database.
            final = [Client(port, cookies_officers[0]).get(args.officer_paths[0]),
                     Client(port, cookies_students[0]).get("/home"), Client(port).get("/healthz")]
            key, reply, success = write.submit(Client(port), random.Random(7))
            log.submissions.append((log.now(), key, success, reply.status))
            report["final_requests_ok"] = all(r.status == 200 for r in final) and success
        report.update(analyse(app, write, log, health))
        report["redis_rate_limit_keys"] = _redis_limit_keys(redis_url)
        report["audit"] = harness.verify_timing(app)["result"]
        with app.app_context():
            from shared.extensions import db

            db.engine.dispose()
    finally:
        pg.finish()
    return report


def _redis_limit_keys(url: str) -> int:
    """Proof that the workers kept their rate-limit counters in Redis (Flask-Limiter's LIMITS keys)."""
    import redis

    try:
        return sum(1 for _ in redis.Redis.from_url(url).scan_iter("LIMITS*", count=1000))
    except redis.exceptions.RedisError:
        return -1


def _scale_student_ids(app, count: int) -> list[int]:
    from sqlalchemy import select

    from shared.extensions import db
    from shared.models import Student

    ids = db.session.scalars(select(Student.id).where(Student.email.like("scale-%")).order_by(Student.id)).all()
    return [ids[i % len(ids)] for i in range(count)]


def analyse(app, write: Write, log: Log, health: list) -> dict:
    windows = {name: (start, end) for name, (start, end) in log.faults.items()}
    down = windows.get("database_down")
    killed = windows.get("worker_killed")

    # Recovery: from the database being started again to the first healthy answer.
    recovery = None
    if down and down[1] is not None:
        after = [t for t, status in health if t >= down[1] and status == 200]
        recovery = round(after[0] - down[1], 2) if after else None
    grace = (recovery or 0) + 1.0

    def allowed(t: float, status: int, clean: bool) -> bool:
        if status == 0:  # no answer: only the killed worker's in-flight requests
            return bool(killed and killed[0] - 0.5 <= t <= killed[1] + 2)
        if status == 503 and clean:  # the friendly page, only while the database was away
            return bool(down and down[0] - 0.5 <= t <= (down[1] or 1e9) + grace)
        return False  # a 500, an unfriendly 503 or any other error is never acceptable

    kinds: Counter = Counter()
    outside = []
    for t, who, path, status, clean, error in log.requests:
        if status in (200, 302):
            continue
        if status == 503:
            kind = "503 friendly page" if clean else "503 not the friendly page"
        else:
            kind = f"no answer ({error})" if status == 0 else f"HTTP {status}"
        kinds[kind] += 1
        if not allowed(t, status, clean):
            outside.append((round(t, 2), who, path, status, error))

    keys = [key for _t, key, _ok, _status in log.submissions]
    counts = write.count(app, keys)
    succeeded = [key for _t, key, ok, _s in log.submissions if ok]
    lost = [k for k in succeeded if counts.get(k, 0) == 0]
    duplicated = [k for k in keys if counts.get(k, 0) > 1]
    unconfirmed = [k for _t, k, ok, _s in log.submissions if not ok and counts.get(k, 0) == 1]
    partial = write.partial(app)
    statuses = Counter(status for _t, _w, _p, status, _c, _e in log.requests)
    return {
        "requests": len(log.requests), "by_status": dict(sorted(statuses.items())),
        "errors_by_kind": dict(kinds), "errors_outside_fault_windows": outside[:20],
        "errors_outside_count": len(outside), "faults": {k: [round(v, 2) for v in w if v is not None]
                                                        for k, w in log.faults.items()},
        "submissions": len(log.submissions), "submissions_succeeded": len(succeeded), "lost": lost,
        "duplicated": duplicated, "partial": partial[:20], "committed_without_confirmation": len(unconfirmed),
        "recovery_seconds": recovery,
        "http_500": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
    }


def render(report: dict) -> tuple[str, bool]:
    checks = {
        "no lost submissions": not report["lost"],
        "no duplicated submissions": not report["duplicated"],
        "no partial records": not report["partial"],
        "no 500s": report["http_500"] == 0,
        "errors only in fault windows, as clean 503s": report["errors_outside_count"] == 0,
        "audit chain verifies": report["audit"].startswith("OK"),
        "recovered by itself": report["final_requests_ok"] and report["recovery_seconds"] is not None,
        "rate limits kept in Redis": (report.get("redis_rate_limit_keys") or 0) > 0,
    }
    lines = [
        f"Load with faults: {report['seconds']} s, gunicorn {report['workers']} workers, PostgreSQL "
        f"({report['postgres']}), Redis rate limits; {report['students']} students ({report['write']}), "
        f"{report['officers']} officers",
        f"Faults (s from start): {report['faults']}",
        f"Requests: {report['requests']}   by status: {report['by_status']}",
        f"Errors by kind: {report['errors_by_kind'] or 'none'}",
        f"Submissions: {report['submissions']}, success pages {report['submissions_succeeded']}, "
        f"lost {len(report['lost'])}, duplicated {len(report['duplicated'])}, "
        f"stored but unconfirmed (answer lost in a fault) {report['committed_without_confirmation']}",
        f"Recovery after the database came back: {report['recovery_seconds']} s; "
        f"rate-limit counters in Redis: {report.get('redis_rate_limit_keys')}",
        f"Audit: {report['audit']}",
    ]
    if report["errors_outside_fault_windows"]:
        lines.append(f"Errors outside the fault windows: {report['errors_outside_fault_windows']}")
    if report["partial"]:
        lines.append(f"Partial records: {report['partial']}")
    lines += [f"  [{'ok' if passed else 'FAIL'}] {name}" for name, passed in checks.items()]
    return "\n".join(lines), all(checks.values())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--officers", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--write", choices=sorted(WRITES), default="register")
    parser.add_argument("--write-share", type=float, default=0.3, help="share of student actions that write")
    parser.add_argument("--officer-paths", nargs="+", default=["/staff/"], help="pages officers browse")
    parser.add_argument("--outage", type=float, default=4.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--seed-cases", type=int, default=500)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--system-cluster", action="store_true",
                        help="restart the machine's PostgreSQL cluster instead of a private one")
    args = parser.parse_args(argv)
    report = run(args)
    text, ok = render(report)
    print(text)
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    out = harness.RESULTS / f"load-faults-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"JSON: {out.relative_to(harness.ROOT)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Load with faults: `python -m bench.load_faults` (or `make load-faults`). Bounded in time, loopback only.

gunicorn (several workers) on PostgreSQL, with Redis for rate limits and the job queue, serves 50 simulated
students (submitting the casework form, sending messages on their cases, browsing) and 10 officers (signed
in with password and authenticator code; browsing the dashboard, the case list and case pages, and writing
entries) for --seconds. Meanwhile one worker is killed with SIGKILL and PostgreSQL is stopped for a few
seconds and started again, and then Redis (a private one) too. A person whose submission fails (the 503 page, or no answer) tries again, up to
three times, as a person would; a post whose reply was lost is sent again at once with the same body (the
same submission key), as a browser does, and a share of successful posts is sent twice on purpose (a double
click). Afterwards it checks, and prints on one screen: every submission that got a
success page is in the database exactly once; no partial records; errors only inside the fault windows, and
those were clean 503 pages (or, for the killed worker's in-flight requests, a dropped connection); no 500s;
the audit chain verifies; the app recovered by itself. Exit status 1 if any check fails.

PostgreSQL: by default a private throwaway cluster (initdb under /tmp, its own port), so restarting it
disturbs nobody else's database; `--system-cluster` restarts the machine's cluster instead (pg_ctlcluster),
and in every case the script makes sure that cluster is running again when it ends.

Adding a write: subclass `Write` and add it to WRITES (bench/load_writes.py). `who` says whether students or officers make it;
`new_key` picks what to write (a unique marker, and the case it goes on) or None if this actor cannot make
it now; `attempt` performs one try over HTTP (the success page must have been seen, so a 429 or an error page
is never a success); `count` says how many records hold each key (free text is encrypted at rest, so it
reads the records through the models and looks for the marker in the decrypted text); `partial` lists the
records created during the run that are incomplete. `--write` picks the writes (default: case, message and
entry; `--write register` is account registration).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from bench import harness
from bench.load_client import MAX_ATTEMPTS, Actor, Client, Log, World
from bench.load_postgres import PrivatePostgres, SystemPostgres
from bench.load_writes import DEFAULT_WRITES, WRITES, Write, baseline, orphan_files
from tests.support.redis_server import RedisServer


def perform(writes: list[Write], actor: Actor, log: Log, rng: random.Random, patience=time.sleep) -> None:
    """One submission of the first write this actor can make now, tried again (after reading the error page
    for a moment) while it fails with the 503 page or no answer."""
    for write in writes:
        key = write.new_key(actor, rng)
        if key is not None:
            break
    else:
        return
    t = log.now()
    for attempts in range(1, MAX_ATTEMPTS + 1):
        reply, success, again = write.attempt(actor, key, rng)
        if success or not again or attempts == MAX_ATTEMPTS:
            break
        patience(rng.uniform(1.0, 2.0))
    log.submission(t, write.name, key, success, reply.status, attempts)


def student_pages(actor: Actor, rng: random.Random) -> str:
    pages = ["/home", "/cases"]
    if actor.references:
        pages.append(f"/cases/{rng.choice(actor.references)}")
    return rng.choice(pages)


def officer_pages(actor: Actor, rng: random.Random) -> str:
    pages = ["/staff/", "/staff/cases", f"/staff/cases?page={rng.randint(2, 5)}", "/staff/cases?status=new"]
    if actor.references:
        pages += [f"/staff/cases/{rng.choice(actor.references)}"] * 3
    return rng.choice(pages)


def actor_loop(actor: Actor, writes: list[Write], write_share: float, pages, log: Log, stop: threading.Event,
               rng: random.Random) -> None:
    while not stop.is_set():
        if writes and rng.random() < write_share:
            perform(rng.sample(writes, len(writes)), actor, log, rng)
        else:
            actor.client.get(pages(actor, rng))
        stop.wait(rng.uniform(0.05, 0.4))
    actor.client.close()


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True,  # noqa: S603,S607
                         check=False).stdout
    return [int(p) for p in out.split()]


def faults(master: int, pg, log: Log, stop: threading.Event, *, kill_at: float, outage_at: float,
           outage_seconds: float, redis=None, redis_at: float = 0.0, redis_seconds: float = 0.0) -> None:
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
    if not outage(log, stop, "database_down", pg, at=outage_at, seconds=outage_seconds) or redis is None:
        return
    outage(log, stop, "redis_down", redis, at=redis_at, seconds=redis_seconds)


def outage(log: Log, stop: threading.Event, name: str, service, *, at: float, seconds: float) -> bool:
    """Stop a service (anything with stop() and start()) at `at` s for `seconds`, and log the window.
    False if the run ended first."""
    if stop.wait(max(0.0, at - log.now())):
        return False
    log.faults[name] = [log.now(), None]
    service.stop()
    time.sleep(seconds)
    service.start()
    log.faults[name][1] = log.now()
    return True


def probe(port, log: Log, stop: threading.Event, seen: list) -> None:
    """/healthz every 100 ms: when the app answers again after each fault."""
    client = Client(port)
    while not stop.is_set():
        t = log.now()
        reply = client.get("/healthz")
        seen.append((t, reply.status))
        stop.wait(0.1)
    client.close()


def prepare_people(app, students: int, officers: int) -> dict:
    """The run's students (seed-scale's, each with their open cases) and officers (seed-scale's, enrolled in
    two-factor sign-in with a fresh secret and having accepted the policy), and the form's choices."""
    import pyotp
    from sqlalchemy import select

    from shared.casework import cases as casework
    from shared.demo.scale import SCALE_STAFF_PASSWORD
    from shared.models import Case, CaseStatus, Staff, Student
    from shared.platform.extensions import db
    from shared.security import mfa, staff_policy

    with app.app_context():
        ids = db.session.scalars(select(Student.id).where(Student.email.like("scale-%")).order_by(Student.id)).all()
        if len(ids) < students:
            raise SystemExit(f"only {len(ids)} seeded students for {students}: raise --seed-cases")
        student_ids = ids[:students]
        open_cases = {sid: [] for sid in student_ids}
        for sid, reference in db.session.execute(select(Case.student_id, Case.reference).where(
                Case.student_id.in_(student_ids), Case.status != CaseStatus.CLOSED.value).order_by(Case.id)):
            open_cases[sid].append(reference)
        staff = db.session.scalars(select(Staff).where(Staff.email.like("scale.officer%")).order_by(Staff.id)).all()
        if len(staff) < officers:
            raise SystemExit(f"only {len(staff)} seeded officers for {officers}")
        officer_logins = []
        for member in staff[:officers]:
            secret = pyotp.random_base32()
            mfa.enrol_for_demo(member, secret)
            staff_policy.record_for_seed(member)
            officer_logins.append((member.id, member.email, SCALE_STAFF_PASSWORD, secret))
        db.session.commit()
        colleges = [code for code, _label in casework.college_choices()]
        areas = [code for group in casework.area_groups().values() for code, _label in group]
    return {"students": open_cases, "officers": officer_logins, "colleges": colleges, "areas": areas}


def officer_sign_in(port: int, email: str, password: str, secret: str) -> dict:
    """The real two-step sign-in over HTTP: the password, then the authenticator's current code. The cookies
    of the signed-in browser."""
    import pyotp

    client = Client(port)
    reply, _ = client.submit("/staff/sign-in", {"email": email, "password": password})
    if reply.status != 302 or not reply.location.endswith("/staff/sign-in/code"):
        raise RuntimeError(f"{email}: the password step answered {reply.status} {reply.location}")
    reply, _ = client.submit("/staff/sign-in/code", {"code": pyotp.TOTP(secret).now()})
    if reply.status != 302 or "/sign-in" in reply.location:
        raise RuntimeError(f"{email}: the code step answered {reply.status} {reply.location}")
    if client.follow(reply).status != 200:
        raise RuntimeError(f"{email}: signed in, but the back office did not open")
    client.close()
    return client.cookies


def run(args) -> dict:
    from wsgi import create_app

    writes = [WRITES[name] for name in args.write]
    pg = SystemPostgres() if args.system_cluster else PrivatePostgres()
    instance = Path(tempfile.mkdtemp(prefix="perf_load_instance_"))  # the document store, shared by both sides
    report: dict = {"postgres": "system cluster" if args.system_cluster else "private throwaway cluster",
                    "workers": args.workers, "seconds": args.seconds, "students": args.students,
                    "officers": args.officers}
    redis = None
    if args.redis_outage and RedisServer.available():  # a private Redis, so that stopping it disturbs nobody
        redis = RedisServer().start()
        redis_url = redis.url
    else:
        redis_url = args.redis_url
    # Cheap password hashing: this run measures the app and its faults, not argon2 on 2 cores.
    cheap = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.setup()
        app = create_app(harness.bench_config(pg.url, RATELIMIT_STORAGE_URI=redis_url, INSTANCE_PATH=str(instance),
                                              **cheap))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        from shared.demo.scale import seed_scale

        with app.app_context():
            seed_scale(args.seed_cases)
        people = prepare_people(app, args.students, args.officers)
        before = baseline(app)
        env = {"REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url, "JOBS_MODE": "rq",
               "INSTANCE_PATH": str(instance),
               # The limits stay on (in Redis) but generous: every simulated person shares 127.0.0.1.
               "RATELIMIT_LOGIN": "100000 per minute", "RATELIMIT_MFA": "100000 per minute", **cheap}
        health: list = []
        stop = threading.Event()
        with harness.gunicorn(pg.url, workers=args.workers, app_path="wsgi:app", env_extra=env,
                              log_path=harness.RESULTS / "load-faults-gunicorn.log") as (proc, port):
            world = World(references=[r for refs in people["students"].values() for r in refs],
                          colleges=people["colleges"], areas=people["areas"], document_share=args.document_share)
            officer_cookies = [officer_sign_in(port, email, password, secret)
                               for _id, email, password, secret in people["officers"]]
            report["redis_limit_probe"] = redis_limit_probe(port, redis_url)
            log = Log()
            students = [Actor(Client(port, dict([harness.session_cookie(app, "student", {"sample_student_id": sid})]),
                                     log=log, who="student"), sid, list(refs), world)
                        for sid, refs in people["students"].items()]
            officers = [Actor(Client(port, cookies, log=log, who="officer"), oid, world.references, world)
                        for (oid, *_rest), cookies in zip(people["officers"], officer_cookies, strict=True)]
            for actor in (*students, *officers):
                actor.client.double_post_share = args.double_post_share
            student_writes = [w for w in writes if w.who == "student"]
            officer_writes = [w for w in writes if w.who == "officer"]
            threads = [threading.Thread(target=actor_loop, daemon=True, args=(
                actor, student_writes, args.write_share, student_pages, log, stop, random.Random(i)))
                for i, actor in enumerate(students)]
            threads += [threading.Thread(target=actor_loop, daemon=True, args=(
                actor, officer_writes, args.officer_write_share, officer_pages, log, stop, random.Random(1000 + i)))
                for i, actor in enumerate(officers)]
            threads.append(threading.Thread(target=probe, args=(port, log, stop, health), daemon=True))
            fault_thread = threading.Thread(target=faults, daemon=True, args=(proc.pid, pg, log, stop), kwargs={
                "kill_at": args.seconds * 0.25, "outage_at": args.seconds * 0.5, "outage_seconds": args.outage,
                "redis": redis, "redis_at": args.seconds * 0.75, "redis_seconds": args.redis_outage})
            for t in threads:
                t.start()
            fault_thread.start()
            stop.wait(args.seconds)
            stop.set()
            fault_thread.join(timeout=60)
            for t in threads:
                t.join(timeout=30)
            report["final_requests_ok"] = final_check(port, students[0], officers[0] if officers else None,
                                                      writes, log)
            clients = [a.client for a in (*students, *officers)]
            report["resent_after_lost_reply"] = sum(c.resent for c in clients)
            doubles = [d for c in clients for d in c.double_posts]
            report["double_posts"] = len(doubles)
            report["double_posts_answered_alike"] = sum(1 for first, status, again in doubles
                                                        if status in (302, 303) and again == first)
            report["double_posts_otherwise"] = [(status, again == first) for first, status, again in doubles
                                                if not (status in (302, 303) and again == first)]
        report.update(analyse(app, writes, log, health, before))
        report["audit"] = harness.verify_timing(app)["result"]
        with app.app_context():
            from shared.platform.extensions import db

            db.engine.dispose()
    finally:
        pg.finish()
        if redis is not None:
            redis.stop()
        shutil.rmtree(instance, ignore_errors=True)
    return report


def final_check(port: int, student: Actor, officer: Actor | None, writes: list[Write], log: Log) -> bool:
    """Recovered by itself (nobody restarted anything but the database): after the run, each page and each
    write works at the first try."""
    rng = random.Random(7)
    pages = [Client(port, student.client.cookies).get("/home"), Client(port).get("/healthz")]
    if officer is not None:
        pages.append(Client(port, officer.client.cookies).get("/staff/"))
    ok = all(r.status == 200 for r in pages)
    for write in writes:
        actor = student if write.who == "student" else officer
        key = write.new_key(actor, rng) if actor else None
        if key is None:
            continue
        actor.client.log = None  # not part of the run's traffic
        _reply, success, _again = write.attempt(actor, key, rng)
        log.submission(log.now(), write.name, key, success, _reply.status, 1)
        ok = ok and success
    return ok


def redis_limit_probe(port: int, url: str, attempts: int = 3) -> int:
    """Proof that the workers keep their rate-limit counters in Redis: `attempts` sign-ins with an
    address never used before, each from a new visitor (so any worker may answer), are counted together
    under that address in Redis. Returns the count found there (-1: Redis unreachable)."""
    import redis

    email = f"load-limit-probe-{uuid.uuid4().hex[:12]}@example.ac.uk"
    for _ in range(attempts):
        visitor = Client(port)
        visitor.submit("/staff/sign-in", {"email": email, "password": "not anyone's password"})
        visitor.close()
    try:
        store = redis.Redis.from_url(url)
        return sum(int(store.get(key) or 0) for key in store.scan_iter(f"LIMITS*{email}*", count=1000)
                   if store.type(key) == b"string")
    except redis.exceptions.RedisError:
        return -1


def analyse(app, writes: list[Write], log: Log, health: list, before: dict) -> dict:
    windows = {name: (start, end) for name, (start, end) in log.faults.items()}
    down = windows.get("database_down")
    killed = windows.get("worker_killed")
    redis_down = windows.get("redis_down")

    # Recovery: from the database being started again to the first healthy answer.
    recovery = None
    if down and down[1] is not None:
        after = [t for t, status in health if t >= down[1] and status == 200]
        recovery = round(after[0] - down[1], 2) if after else None
    grace = (recovery or 0) + 1.0

    def during(window, sent: float, answered: float, after: float) -> bool:
        """The request was in flight (sent, waiting in gunicorn's queue, or being answered) in the window."""
        return bool(window) and sent <= (window[1] or 1e9) + after and answered >= window[0] - 0.5

    def allowed(sent: float, answered: float, status: int, clean: bool) -> bool:
        if status == 0:  # no answer: only the killed worker's in-flight requests
            return during(killed, sent, answered, 2.0)
        if status == 503 and clean:  # the friendly page, only while the database was away
            return during(down, sent, answered, grace)
        return False  # a 500, a 429, an unfriendly 503 or any other error is never acceptable

    kinds: Counter = Counter()
    outside = []
    during_redis = Counter()
    for t, who, path, status, clean, error, *answered in log.requests:
        if status in (200, 302, 303):
            continue
        if status == 503:
            kind = "503 friendly page" if clean else "503 not the friendly page"
        else:
            kind = f"no answer ({error})" if status == 0 else f"HTTP {status}"
        kinds[kind] += 1
        if during(redis_down, t, answered[0] if answered else t, 1.0):
            during_redis[kind] += 1
        if not allowed(t, answered[0] if answered else t, status, clean):
            outside.append((round(t, 2), who, path, status, error))

    by_write = {}
    for write in writes:
        subs = [s for s in log.submissions if s[1] == write.name]
        keys = list(dict.fromkeys(key for _t, _w, key, _ok, _s, _a in subs))
        counts = write.count(app, keys) if keys else {}
        succeeded = [key for _t, _w, key, ok, _s, _a in subs if ok]
        by_write[write.name] = {
            "submissions": len(subs), "succeeded": len(succeeded),
            "retried": sum(1 for s in subs if s[5] > 1),
            "lost": [k for k in succeeded if counts.get(k, 0) == 0],
            "duplicated": [k for k in keys if counts.get(k, 0) > 1],
            "unconfirmed": sum(1 for _t, _w, k, ok, _s, _a in subs if not ok and counts.get(k, 0) == 1),
            "failed": sum(1 for _t, _w, k, ok, _s, _a in subs if not ok and counts.get(k, 0) == 0),
            "partial": write.partial(app, before),
        }
    statuses = Counter(row[3] for row in log.requests)
    return {
        "requests": len(log.requests), "by_status": dict(sorted(statuses.items())),
        "by_who": dict(Counter(who for _t, who, *_rest in log.requests)),
        "errors_by_kind": dict(kinds), "errors_outside_fault_windows": outside[:20],
        "errors_outside_count": len(outside), "faults": {k: [round(v, 2) for v in w if v is not None]
                                                        for k, w in log.faults.items()},
        "writes": by_write, "orphan_files": orphan_files(app, log.started_at),
        "recovery_seconds": recovery, "errors_while_redis_down": dict(during_redis),
        "requests_while_redis_down": sum(1 for t, *_r in log.requests if during(redis_down, t, t, 0.0)),
        "http_500": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
    }


def render(report: dict) -> tuple[str, bool]:
    writes = report["writes"]
    partial = {name: w["partial"] for name, w in writes.items() if w["partial"]}
    checks = {
        "no lost submissions": not any(w["lost"] for w in writes.values()),
        "no duplicated submissions": not any(w["duplicated"] for w in writes.values()),
        "no partial records": not partial and not report["orphan_files"],
        "no 500s": report["http_500"] == 0,
        "errors only in fault windows, as clean 503s": report["errors_outside_count"] == 0,
        "audit chain verifies": report["audit"].startswith("OK"),
        "recovered by itself": report["final_requests_ok"] and report["recovery_seconds"] is not None,
        "rate limits counted in Redis": report.get("redis_limit_probe") == 3,
        "nothing failed while Redis was down": not report.get("errors_while_redis_down"),
        # The second of a double post answers with the first's redirect, or (sent while the database was
        # away) the clean 503 page, after which the person's retry gets that redirect.
        "a form sent twice answered with its first outcome":
            all(status == 503 for status, _same in report.get("double_posts_otherwise", [])),
    }
    faults = report["faults"]
    killed, down = faults.get("worker_killed"), faults.get("database_down")
    lines = [
        f"Load with faults: {report['seconds']:g} s; gunicorn {report['workers']} workers; PostgreSQL "
        f"({report['postgres']}); Redis for rate limits and the job queue (no job in this mix)",
        f"People: {report['students']} students, {report['officers']} officers (signed in with password and "
        f"authenticator code); writes: {', '.join(writes)}",
        "Faults: " + "; ".join(filter(None, [
            killed and f"worker SIGKILL at {killed[0]} s (replaced by {killed[-1]} s)",
            down and f"PostgreSQL down {down[0]}-{down[-1]} s",
            faults.get("redis_down") and f"Redis down {faults['redis_down'][0]}-{faults['redis_down'][-1]} s"])),
        f"Requests: {report['requests']} ({', '.join(f'{w} {n}' for w, n in report['by_who'].items())}); "
        f"by status: {report['by_status']}",
        f"Errors by kind: {report['errors_by_kind'] or 'none'}",
        f"  {'write':<8}{'tried':>6}{'success':>8}{'lost':>5}{'dupl.':>6}{'partial':>8}{'retried':>8}"
        f"   stored, answer lost   not stored (error seen)",
    ]
    for name, w in writes.items():
        lines.append(f"  {name:<8}{w['submissions']:>6}{w['succeeded']:>8}{len(w['lost']):>5}"
                     f"{len(w['duplicated']):>6}{len(w['partial']):>8}{w['retried']:>8}{w['unconfirmed']:>22}"
                     f"{w['failed']:>26}")
    lines += [
        f"Recovery after the database came back: {report['recovery_seconds']} s; sign-ins counted in Redis: "
        f"{report.get('redis_limit_probe')} of 3; document files without a row: {len(report['orphan_files'])}",
        f"While Redis was down: {report.get('requests_while_redis_down', 0)} requests, errors "
        f"{report.get('errors_while_redis_down') or 'none'}",
        f"Forms sent twice on purpose: {report.get('double_posts', 0)} (answered with the first outcome: "
        f"{report.get('double_posts_answered_alike', 0)}; otherwise, as (status, same redirect): "
        f"{report.get('double_posts_otherwise') or 'none'}); sent again after a lost reply: "
        f"{report.get('resent_after_lost_reply', 0)}",
        f"Audit: {report['audit']}",
    ]
    if report["orphan_files"]:
        lines.append(f"Document files without a row (written at s): {[at for _uid, at in report['orphan_files']]}")
    if report["errors_outside_fault_windows"]:
        lines.append(f"Errors outside the fault windows: {report['errors_outside_fault_windows'][:5]}")
    for name, problems in partial.items():
        lines.append(f"Partial {name} records: {problems[:3]}")
    for name, w in writes.items():
        if w["lost"] or w["duplicated"]:
            lines.append(f"{name}: lost {w['lost'][:3]}, duplicated {w['duplicated'][:3]}")
    lines += [f"  [{'ok' if passed else 'FAIL'}] {name}" for name, passed in checks.items()]
    return "\n".join(lines), all(checks.values())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--officers", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--write", nargs="+", choices=sorted(WRITES), default=DEFAULT_WRITES,
                        help="the writes to make (students: case, message, register; officers: entry)")
    parser.add_argument("--write-share", type=float, default=0.3, help="share of student actions that write")
    parser.add_argument("--officer-write-share", type=float, default=0.25,
                        help="share of officer actions that write an entry")
    parser.add_argument("--document-share", type=float, default=0.3,
                        help="share of case forms and messages that attach a document")
    parser.add_argument("--outage", type=float, default=4.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--redis-outage", type=float, default=8.0,
                        help="seconds a private Redis stays down (0: no Redis outage, use --redis-url)")
    parser.add_argument("--double-post-share", type=float, default=0.1,
                        help="share of successful form posts sent again at once, as a double click does")
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


"""Streaming from the blob store and backups: memory and time, measured and printed (issue 25, and goal 9 of
issue 21). Two sections, each a function of its own so the main bench table can call them:

- `download_memory(url)`: a 20 MB document and a 2,000-entry copy of records downloaded through a real
  gunicorn worker from the database blob store; the worker's memory growth (peak resident set during the
  download minus resident set before it, from /proc) is printed beside the goal (< 50 MB).
- `backup_figures(url)`: `backup create` and `backup restore` in a process of their own, peak memory growth
  (goal <= 100 MB at 100k cases) and time, beside the database's own dump (pg_dump, or sqlite3 .dump) plus
  AES-GCM encryption of the dump's bytes in the same 1 MiB chunks (goal: create <= 1.5x that).

    python -m bench.blobs_bench --database postgresql://postgres@127.0.0.1:5432/blobs_bench [--cases 100000]
    python -m bench.blobs_bench --database sqlite:///bench/results/blobs.sqlite --backup-only --cases 100000

The database named is emptied and rebuilt (migrated, seeded) unless --reuse is given and it holds data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness

MB = 1024 * 1024
DOC_BYTES = 20 * MB
COPY_ENTRIES = 2000


# --- helpers ----------------------------------------------------------------------------------------------


def _app(url: str, instance: Path, **extra):
    from wsgi import create_app

    return create_app(harness.bench_config(url, INSTANCE_PATH=str(instance), JOBS_MODE="sync", **extra))


def _fresh_schema(app) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from shared.platform.extensions import db

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.engine.dispose()
        Path(db.engine.url.database).unlink(missing_ok=True)
    upgrade()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current resident set


def _download(port: int, path: str, cookie: tuple[str, str]) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", path, headers={"Cookie": f"{cookie[0]}={cookie[1]}"})
    response = conn.getresponse()
    size = 0
    while chunk := response.read(256 * 1024):
        size += len(chunk)
    conn.close()
    assert response.status == 200, (path, response.status)
    return size


# --- section 1: downloads through a gunicorn worker -------------------------------------------------------------


def _build_downloads(app) -> dict:
    """A student with a 20 MB document and a released, rendered copy of 2,000 entries."""
    from datetime import timedelta

    from shared.casework import documents
    from shared.models import AccessRequest, Case, CaseEntry, CaseEntryVersion, Staff, Student, utcnow
    from shared.platform.extensions import db
    from shared.subject_access import requests as access
    from shared.subject_access.deadlines import one_month_after, service_date

    student = Student(email="blobs.bench@example.ac.uk", password_hash="!", email_confirmed_at=utcnow())  # noqa: S106
    officer = Staff(email="blobs.officer@example.ac.uk", name="Robin Benchmark", job_title="Student Advisor",
                    role="manager", password_hash="!")  # noqa: S106
    db.session.add_all([student, officer])
    db.session.flush()
    start, case = utcnow() - timedelta(days=COPY_ENTRIES), None
    for n in range(COPY_ENTRIES):
        if n % 100 == 0:
            case = Case(reference=f"ADV-2026-{n // 100 + 1:04d}", student_id=student.id, area_code="exams")
            case.what_happened = "The exam was marked without the agreed adjustments (fictional). " * 3
            db.session.add(case)
            db.session.flush()
        entry = CaseEntry(case_id=case.id, kind="note", occurred_at=start + timedelta(days=n), author_id=officer.id)
        db.session.add(entry)
        db.session.flush()
        version = CaseEntryVersion(entry_id=entry.id, version=1, edited_by_id=officer.id)
        version.text = f"Entry {n + 1}. The student asked about the appeal deadline and the evidence needed (fictional)."
        db.session.add(version)
    big = documents.add(documents.Upload("scan.pdf", b"%PDF-1.4\n" + os.urandom(DOC_BYTES - 9)),
                        student_id=student.id, case_id=case.id)
    small = documents.add(documents.Upload("note.txt", b"a small fictional note\n"), student_id=student.id, case_id=case.id)
    db.session.commit()
    day = service_date(utcnow())
    req = AccessRequest(reference="SAR-BENCH-0001", student_id=student.id, received_at=utcnow(), received_on=day,
                        base_due_on=one_month_after(day), due_on=one_month_after(day), status="received")
    db.session.add(req)
    db.session.commit()
    started = time.perf_counter()
    access.mark_reviewed(officer, req.id)
    access.release(officer, req.id)  # JOBS_MODE=sync: rendered here, stored in the blob store
    rendered = time.perf_counter() - started
    db.session.expire_all()
    req = db.session.get(AccessRequest, req.id)
    assert req.pdf_path, "the copy was not rendered"
    from shared.platform import blobs
    from shared.subject_access.copy_store import pdf_context

    copy_bytes = sum(len(chunk) for chunk in blobs.store().open(req.pdf_path, pdf_context(req)))
    return {"student": student, "big": big.id, "small": small.id, "copy": req.id, "pages": req.pdf_pages,
            "render_s": rendered, "copy_bytes": copy_bytes}


def download_memory(url: str, *, reuse: bool = False) -> dict:
    """Downloads through one gunicorn sync worker; returns and prints its memory growth for each."""
    instance = Path(tempfile.mkdtemp(prefix="blobs_bench_"))
    app = _app(url, instance, BLOB_BACKEND="database", MAX_UPLOAD_BYTES=25 * MB)
    with app.app_context():
        _fresh_schema(app)
        built = _build_downloads(app)
        cookie = harness.session_cookie_for(app, built["student"])
        copy_bytes = built["copy_bytes"]
    plain_url = url.replace("postgresql+psycopg://", "postgresql://")
    env = {**harness.BENCH_KEYS, "INSTANCE_PATH": instance, "BLOB_BACKEND": "database", "MAX_UPLOAD_MB": 25}
    results = {}
    with harness.gunicorn(plain_url, workers=1, app_path="wsgi:app", env_extra=env) as (proc, port):
        [worker] = _children(proc.pid)
        _download(port, f"/documents/{built['small']}", cookie)  # warm: the route, the session, the store
        for label, path, size in (("20 MB document", f"/documents/{built['big']}", DOC_BYTES),
                                  (f"copy of {COPY_ENTRIES} entries", f"/records/{built['copy']}/download", copy_bytes)):
            before = _status_kb(worker, "VmRSS")
            _reset_peak(worker)
            started = time.perf_counter()
            got = _download(port, path, cookie)
            seconds = time.perf_counter() - started
            peak = _status_kb(worker, "VmHWM")
            assert got == size, (label, got, size)
            results[label] = {"bytes": got, "growth_mb": round((peak - before) / 1024, 1), "seconds": round(seconds, 2)}
    print("\n== Downloads from the database blob store through one gunicorn worker (goal: growth < 50 MB)")
    print(f"{'what':<26} {'size MB':>8} {'growth MB':>10} {'s':>6}  goal")
    for label, r in results.items():
        ok = "met" if r["growth_mb"] < 50 else "NOT met"
        print(f"{label:<26} {r['bytes'] / MB:>8.1f} {r['growth_mb']:>10.1f} {r['seconds']:>6.2f}  {ok}")
    print(f"(the copy attaches the 20 MB document; rendered in {built['render_s']:.1f} s before the download)")
    return results


# --- section 2: backups -----------------------------------------------------------------------------------------


def _child(what: str, url: str, path: str) -> dict:
    """In a process of its own: the app made and warmed, then `what` run; peak memory growth over the warm
    baseline (the peak resident set, reset just before, minus the resident set then)."""
    out = subprocess.run([sys.executable, "-m", "bench.blobs_bench", "--child", what, "--database", url, "--path", path],  # noqa: S603
                         cwd=harness.ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(harness.ROOT)})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run_child(what: str, url: str, path: str) -> None:
    from shared.lifecycle import backup

    instance = Path(tempfile.mkdtemp(prefix="blobs_bench_child_"))
    app = _app(url, instance)
    with app.app_context():
        from sqlalchemy import text

        from shared.platform.extensions import db

        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        before = _status_kb(os.getpid(), "VmRSS")
        _reset_peak(os.getpid())
        started = time.perf_counter()
        if what == "create":
            summary = backup.create(path)
        else:
            summary = backup.restore(path)
        seconds = time.perf_counter() - started
    peak = _status_kb(os.getpid(), "VmHWM")
    print(json.dumps({"seconds": round(seconds, 2), "growth_mb": round((peak - before) / 1024, 1),
                      "rows": sum(summary.tables.values()), "files": summary.files}))


def _encrypt_file(path: Path) -> float:
    """AES-GCM over the file's bytes in 1 MiB chunks, as the archive does: the 'plus encryption' of the floor."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cipher = AESGCM(os.urandom(32))
    started = time.perf_counter()
    with open(path, "rb") as fh, open(os.devnull, "wb") as out:
        index = 0
        while chunk := fh.read(MB):
            out.write(cipher.encrypt(os.urandom(12), chunk, f"backup.x.{index}".encode()))
            index += 1
    return time.perf_counter() - started


def _native_dump(url: str, target: Path) -> float:
    started = time.perf_counter()
    if url.startswith("sqlite"):
        database = url.split("///", 1)[1]
        with open(target, "wb") as out:
            subprocess.run(["sqlite3", database, ".dump"], stdout=out, check=True)  # noqa: S603, S607
    else:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run(["pg_dump", "--format=plain", "--no-owner", "--file", str(target), plain], check=True)  # noqa: S603, S607
    return time.perf_counter() - started


def backup_figures(url: str, *, cases: int, restore_url: str | None = None, reuse: bool = False) -> dict:
    """Seed `cases` (unless reused), then time and measure `backup create` (and restore into `restore_url`)."""
    from sqlalchemy import func, select

    from shared.demo.scale import seed_scale
    from shared.models import Case
    from shared.platform.extensions import db

    instance = Path(tempfile.mkdtemp(prefix="blobs_bench_"))
    app = _app(url, instance)
    with app.app_context():
        have = 0
        if reuse:
            try:
                have = db.session.scalar(select(func.count(Case.id)))
            except Exception:  # noqa: BLE001 (no schema yet)
                db.session.rollback()
        if have < cases:
            _fresh_schema(app)
            seed_scale(cases)
        have = db.session.scalar(select(func.count(Case.id)))
    work = Path(tempfile.mkdtemp(prefix="blobs_bench_backup_"))
    archive, dump = work / "backup.enc", work / "native.dump"
    created = _child("create", url, str(archive))
    dump_s = _native_dump(url, dump)
    encrypt_s = _encrypt_file(dump)
    floor = dump_s + encrypt_s
    result = {"cases": have, "create": created, "archive_mb": round(archive.stat().st_size / MB, 1),
              "dump_s": round(dump_s, 2), "encrypt_s": round(encrypt_s, 2), "dump_mb": round(dump.stat().st_size / MB, 1),
              "ratio": round(created["seconds"] / floor, 2)}
    if restore_url:
        restore_app = _app(restore_url, Path(tempfile.mkdtemp(prefix="blobs_bench_restore_")))
        with restore_app.app_context():
            _fresh_schema(restore_app)
        result["restore"] = _child("restore", restore_url, str(archive))
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"\n== Backups at {have:,} cases on {engine} (goals: memory <= 100 MB; create <= 1.5x dump + encryption)")
    print(f"backup create  {created['seconds']:>7.2f} s  growth {created['growth_mb']:>6.1f} MB  "
          f"archive {result['archive_mb']} MB  ({created['rows']:,} rows, {created['files']} files)")
    print(f"floor          {floor:>7.2f} s  = {'pg_dump' if engine == 'PostgreSQL' else 'sqlite3 .dump'} {dump_s:.2f} s "
          f"({result['dump_mb']} MB) + AES-GCM of its bytes {encrypt_s:.2f} s")
    print(f"ratio          {result['ratio']:>7.2f} x  ({'met' if result['ratio'] <= 1.5 else 'NOT met'});  memory "
          f"{'met' if created['growth_mb'] <= 100 else 'NOT met'}")
    if "restore" in result:
        r = result["restore"]
        print(f"backup restore {r['seconds']:>7.2f} s  growth {r['growth_mb']:>6.1f} MB  "
              f"({'met' if r['growth_mb'] <= 100 else 'NOT met'})")
    for p in (archive, dump):
        p.unlink(missing_ok=True)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("BLOBS_BENCH_DATABASE_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/blobs_bench"))
    parser.add_argument("--restore-database", default=None, help="an empty database to restore into (emptied)")
    parser.add_argument("--cases", type=int, default=1000, help="cases seeded for the backup figures")
    parser.add_argument("--backup-only", action="store_true")
    parser.add_argument("--downloads-only", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded data if it has enough cases")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from shared.platform.config import database_url

    url = database_url(args.database)
    if args.child:
        _run_child(args.child, url, args.path)
        return
    if url.startswith("postgresql"):
        harness.create_postgres_database(args.database.replace("postgresql+psycopg://", "postgresql://"))
    if args.restore_database and args.restore_database.startswith("postgres"):
        harness.create_postgres_database(args.restore_database.replace("postgresql+psycopg://", "postgresql://"))
    if not args.backup_only and url.startswith("postgresql"):
        download_memory(url)
    if not args.downloads_only:
        backup_figures(url, cases=args.cases, restore_url=database_url(args.restore_database) if args.restore_database else None,
                       reuse=args.reuse)


if __name__ == "__main__":
    main()

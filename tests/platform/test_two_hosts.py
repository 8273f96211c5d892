"""Two web hosts and a job worker on a third, sharing only PostgreSQL and Redis: every file the service keeps is
seen by every host (the database blob store), and nothing a student did through one host is lost or left
behind through another. Each host has its own INSTANCE_PATH (standing for its own disk).

Runs with `make test` when TEST_DATABASE_URL is PostgreSQL and Redis answers at TEST_REDIS_URL (default
redis://127.0.0.1:6379/15, a database number of its own: the worker takes every job on its queue there)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from bench import harness
from shared.models import AccessRequest, BlobChunk, Case, Document, ErasureRequest, utcnow
from shared.platform import blobs
from tests.factories import make_staff
from tests.factories_staffsec import make_case
from tests.support.live import LiveClient

pytestmark = pytest.mark.two_hosts

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
FLASK = str(Path(sys.executable).with_name("flask"))
BIG_PDF = b"%PDF-1.4\n% fictional scan of a tenancy agreement\n" + os.urandom(int(2.5 * blobs.CHUNK))
FIGURES: dict[str, float] = {}


def _redis_answers() -> bool:
    try:
        from redis import Redis

        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 (any failure means: not reachable)
        return False


@pytest.fixture(scope="module")
def hosts(app, tmp_path_factory):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("two hosts share PostgreSQL: set TEST_DATABASE_URL to a PostgreSQL database")
    if not _redis_answers():
        # CI's PostgreSQL run sets REQUIRE_TWO_HOSTS=1: there the test must run, not be skipped.
        (pytest.fail if os.environ.get("REQUIRE_TWO_HOSTS") else pytest.skip)(
            f"two hosts share Redis: none answers at {REDIS_URL} (set TEST_REDIS_URL)")
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    keys = {name: app.config[name] for name in harness.BENCH_KEYS}
    instances = {name: tmp_path_factory.mktemp(f"host-{name}") for name in ("a", "b", "worker")}

    def extras(name):  # nothing chosen for the blob store: PostgreSQL means the database backend
        return {**keys, "INSTANCE_PATH": instances[name], "REDIS_URL": REDIS_URL, "RATELIMIT_ENABLED": "0"}

    def env(name):
        return harness.bench_env(url, **extras(name))

    with ExitStack() as stack:
        started = time.monotonic()
        ports = {name: stack.enter_context(harness.gunicorn(url, workers=1, app_path="wsgi:app",
                                                            env_extra=extras(name)))[1]
                 for name in ("a", "b")}
        worker = subprocess.Popen([FLASK, "--app", "wsgi", "jobs", "work"], cwd=harness.ROOT, env=env("worker"),  # noqa: S603
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        stack.callback(_stop, worker)
        FIGURES["start two hosts and a worker (s)"] = time.monotonic() - started
        yield {"ports": ports, "instances": instances, "env": env}
    print("\n".join(f"two hosts: {k}: {v:.2f}" for k, v in FIGURES.items()))  # noqa: T201 (docs/deploy.md quotes these)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def _cli(hosts, name, *args):
    run = subprocess.run([FLASK, "--app", "wsgi", *args], cwd=harness.ROOT, env=hosts["env"](name),  # noqa: S603
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def _local_files(hosts) -> list[Path]:
    return [p for folder in hosts["instances"].values() for sub in blobs.FOLDERS
            for p in (folder / sub).glob("*") if p.is_file()]


def _audit_rows(html: str) -> list[str]:
    body = html.split("<tbody", 1)[-1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", row) for row in re.findall(r"<tr.*?</tr>", body, flags=re.S)]


def _timed(label):
    class _T:
        def __enter__(self):
            self.t = time.monotonic()

        def __exit__(self, *exc):
            FIGURES[label] = time.monotonic() - self.t

    return _T()


def test_two_hosts_share_every_file_the_audit_trail_erasure_and_backups(app, db, hosts, tmp_path, monkeypatch):
    a, b = hosts["ports"]["a"], hosts["ports"]["b"]
    officer = make_staff(email="officer.twohosts@example.ac.uk", role="officer")
    manager = make_staff(email="manager.twohosts@example.ac.uk", role="manager")
    from tests.factories import make_student

    student = make_student(email="two.hosts@example.ac.uk")
    case = make_case(student, officer)
    reference, student_id = case.reference, student.id
    as_student = {port: LiveClient(port, harness.session_cookie_for(app, student)) for port in (a, b)}
    as_manager = {port: LiveClient(port, harness.session_cookie_for(app, manager)) for port in (a, b)}

    # Uploaded through A, downloaded through B: the same bytes.
    with _timed("upload 2.5 MB through A (s)"):
        status, _, _ = as_student[a].submit(f"/cases/{reference}", f"/cases/{reference}/messages",
                                            {"body": "The agreement, scanned (fictional)."},
                                            files={"documents": ("agreement.pdf", BIG_PDF)})
    assert status == 302
    db.session.commit()
    document = db.session.scalar(select(Document).where(Document.student_id == student_id,
                                                       Document.size_bytes == len(BIG_PDF)))
    with _timed("download it through B (s)"):
        status, headers, body = as_student[b].get(f"/documents/{document.id}")
    assert status == 200 and body == BIG_PDF and headers["content-disposition"].startswith("attachment")

    # A copy asked for through B, rendered by the worker (its own disk), served by A.
    status, _, _ = as_student[b].submit("/records/request", "/records/request", {"scope": "all", "note": ""})
    assert status == 302
    db.session.commit()
    req = db.session.scalar(select(AccessRequest).where(AccessRequest.student_id == student_id))
    from shared.subject_access import copies as sar_copies
    from shared.subject_access import requests as access

    monkeypatch.setitem(app.config, "JOBS_MODE", "rq")
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    access.mark_reviewed(officer, req.id)
    started = time.monotonic()
    access.release(manager, req.id)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.get(AccessRequest, req.id).ready_at is not None:
            break
        time.sleep(0.25)
    else:
        pytest.fail("the worker did not render the copy within 120 s")
    FIGURES["copy rendered by the worker, from release (s)"] = time.monotonic() - started
    req = db.session.get(AccessRequest, req.id)
    status, _, pdf = as_student[a].get(f"/records/{req.id}/download")
    assert status == 200 and pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == req.pdf_sha256
    assert _local_files(hosts) == []  # no host keeps a file on its own disk

    # Officers on A and B see the same audit trail, with the download through B and the copy through A in it.
    pages = {port: as_manager[port].get("/staff/admin/audit")[2].decode() for port in (a, b)}
    rows_a, rows_b = _audit_rows(pages[a]), _audit_rows(pages[b])
    # B's page is newer by one event (B's own viewing of the trail, first); the rest is the same trail.
    assert len(rows_b) > 5 and rows_b[1:] == rows_a[: len(rows_b) - 1] and "audit.searched" in rows_b[0]
    assert "document.downloaded" in pages[a] and "access.downloaded" in pages[a]

    # A backup taken through B, before the student's records are erased.
    archive = tmp_path / "through-b.enc"
    with _timed("backup through B (s)"):
        _cli(hosts, "b", "backup", "create", str(archive))
    digests = {d.uid: d.sha256 for d in db.session.scalars(select(Document))}
    copy = (req.pdf_path, req.pdf_sha256, req.uid)

    # Erasure through A: the copy's download period ends (the job deletes it), the case is closed, the student
    # asks, a manager on A decides: no byte of the student's files is left in any backend.
    db.session.get(AccessRequest, req.id).download_expires_at = utcnow()
    closing = db.session.get(Case, case.id)
    closing.status, closing.closed_at, closing.outcome_code = "closed", utcnow(), "resolved"
    db.session.commit()
    sar_copies.discard_expired()
    status, _, _ = as_student[a].submit("/erasure", "/erasure", {"details": "Please erase my records.", "confirm": "y"})
    assert status == 302
    db.session.commit()
    erasure = db.session.scalar(select(ErasureRequest).where(ErasureRequest.student_id == student_id))
    status, _, _ = as_manager[a].submit(f"/staff/admin/erasure/{erasure.id}", f"/staff/admin/erasure/{erasure.id}",
                                        {"decision": "erase", "outcome": "Your closed case has been erased."})
    assert status == 302
    db.session.commit()
    from shared.lifecycle import erasure as erasure_service

    assert db.session.get(Case, case.id).anonymised_at is not None, [
        a.reasons for a in erasure_service.assess(db.session.get(ErasureRequest, erasure.id))]
    names = [f"documents/{uid}" for uid in digests] + [copy[0]]
    assert db.session.scalars(select(BlobChunk.name).where(BlobChunk.name.in_(names))).all() == []
    assert _local_files(hosts) == []
    assert BIG_PDF[64:128] not in b"".join(bytes(d) for d in db.session.scalars(select(BlobChunk.data)))

    # Restored (through A, into an emptied database): every file back, with its digest.
    from tests.support.database import empty_database

    db.session.rollback()
    empty_database(db)
    with _timed("restore through A (s)"):
        _cli(hosts, "a", "backup", "restore", str(archive))
    db.session.rollback()
    store = blobs.store_for("database")
    for uid, sha in digests.items():
        assert hashlib.sha256(store.read(f"documents/{uid}", f"documents.content.{uid}")).hexdigest() == sha
    assert hashlib.sha256(store.read(copy[0], f"access_requests.pdf.{copy[2]}")).hexdigest() == copy[1]
    status, _, body = as_student[b].get(f"/documents/{document.id}")  # the session was restored with it
    assert status == 200 and body == BIG_PDF

"""Rendering runs as a job whose state lives in the database: never inside a web request, retried after a
crash or a failure, claimed by one worker only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.models import AccessRequest, RenderJob, utcnow
from shared.subject_access import copies as sar_copies
from shared.subject_access import jobs
from tests import factories_access as fa


@pytest.fixture
def thread_mode(app):
    app.config["JOBS_MODE"] = "thread"
    yield
    app.config["JOBS_MODE"] = "sync"


def test_release_in_a_request_only_queues_and_a_background_thread_renders(student, officer, officer_browser, db, app,
                                                                          thread_mode):
    fa.make_full_record(student, officer)
    req = fa.make_request(student)
    calls = []
    original = sar_copies.render_copy

    def spy(request_id):
        from flask import has_request_context

        calls.append(has_request_context())
        return original(request_id)

    sar_copies.render_copy = spy
    try:
        review = f"/staff/access/{req.id}/review"
        assert officer_browser.submit(f"/staff/access/{req.id}/reviewed", page=review).status_code == 302
        resp = officer_browser.submit(f"/staff/access/{req.id}/release", page=review)
        assert resp.status_code == 302
        jobs.wait_idle(timeout=120)
    finally:
        sar_copies.render_copy = original
    assert calls == [False]  # rendered once, outside any web request
    db.session.expire_all()
    job = db.session.query(RenderJob).one()
    assert (job.state, job.attempts) == ("done", 1)
    assert db.session.get(AccessRequest, req.id).status == "released"


def test_a_failed_render_is_recorded_and_can_be_retried(student, officer, officer_browser, db, monkeypatch):
    req = fa.make_request(student)
    monkeypatch.setattr("shared.platform.pdf.render_pdf", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom: Alex's note")))
    fa.review_and_release(officer, req)
    db.session.expire_all()
    job = db.session.query(RenderJob).one()
    assert job.state == "failed" and job.error == "RuntimeError"  # no free text from the record
    assert db.session.get(AccessRequest, req.id).status == "releasing"
    page = officer_browser.get(f"/staff/access/{req.id}").get_data(as_text=True)
    assert "Producing the copy failed" in page and "Try again" in page
    monkeypatch.undo()
    resp = officer_browser.submit(f"/staff/access/{req.id}/retry", page=f"/staff/access/{req.id}")
    assert resp.status_code == 302
    db.session.expire_all()
    job = db.session.query(RenderJob).one()
    assert (job.state, job.attempts) == ("done", 2)
    assert db.session.get(AccessRequest, req.id).status == "released"


def test_a_job_left_running_by_a_crashed_worker_is_run_again(student, officer, db, app):
    req = fa.make_request(student)
    app.config["JOBS_MODE"] = "rq"
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # unreachable: the job waits in the database
    try:
        fa.review_and_release(officer, req)
    finally:
        app.config["JOBS_MODE"], app.config["REDIS_URL"] = "sync", ""
    job = db.session.query(RenderJob).one()
    assert job.state == "queued"
    # a worker claimed it and died
    job.state, job.attempts, job.started_at = "running", 1, utcnow() - timedelta(hours=1)
    db.session.commit()
    assert jobs.run_render_job(job.id) is False  # a running job is not claimed twice
    assert jobs.drain() == 1
    db.session.expire_all()
    job = db.session.get(RenderJob, job.id)
    assert (job.state, job.attempts) == ("done", 2)
    assert db.session.get(AccessRequest, req.id).status == "released"


def test_jobs_work_command_drains_queued_jobs(student, officer, db, app):
    req = fa.make_request(student)
    app.config["JOBS_MODE"] = "rq"
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    try:
        fa.review_and_release(officer, req)
    finally:
        app.config["JOBS_MODE"], app.config["REDIS_URL"] = "sync", ""
    result = app.test_cli_runner().invoke(args=["jobs", "work"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(AccessRequest, req.id).status == "released"


def test_with_redis_the_job_goes_through_an_rq_worker(student, officer, db, app, tmp_path):
    from tests.support.redis_server import RedisServer

    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    server = RedisServer(directory=str(tmp_path)).start()
    app.config["JOBS_MODE"], app.config["REDIS_URL"] = "rq", server.url
    try:
        from redis import Redis

        req = fa.make_request(student)
        fa.review_and_release(officer, req)
        assert db.session.query(RenderJob).one().state == "queued"
        jobs.work(burst=True)
        from rq import Queue
        from rq.registry import FinishedJobRegistry

        queue = Queue(jobs.QUEUE_NAME, connection=Redis.from_url(app.config["REDIS_URL"]))
        assert FinishedJobRegistry(queue=queue).count >= 1  # it ran through RQ
    finally:
        app.config["JOBS_MODE"], app.config["REDIS_URL"] = "sync", ""
        server.stop()
    db.session.expire_all()
    assert db.session.query(RenderJob).one().state == "done"
    assert db.session.get(AccessRequest, req.id).status == "released"

"""Background jobs: rendering never happens inside a web request.

The job's state lives in the database (`RenderJob`: queued, running, done, failed, attempts, error), so
whatever runs it can crash and the job can be run again. Three ways to run a job, chosen by JOBS_MODE:

- `rq`: an RQ queue on Redis (the default when REDIS_URL is set); `flask --app wsgi jobs work` runs the
  worker (RQ's SimpleWorker, inside the app context).
- `thread`: an in-process background thread (the default otherwise); each enqueue also drains any job
  left queued by a crash.
- `sync`: run at once, in the caller (tests).

A job claims itself with a conditional UPDATE (queued -> running), so two workers never run it twice. A job
still `running` after JOBS_STALE_MINUTES is taken to have crashed and is queued again by `recover_stale`
(run by `jobs work` and by every drain), up to JOBS_MAX_ATTEMPTS attempts.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from shared.audit import log as audit
from shared.models import RenderJob, RenderState, utcnow
from shared.platform.extensions import db
from shared.platform.transactions import writer_thread
from shared.subject_access import copies

log = logging.getLogger(__name__)
QUEUE_NAME = "advice"

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
_pending: list[Future] = []
_lock = threading.Lock()


def mode() -> str:
    configured = current_app.config.get("JOBS_MODE")
    if configured:
        return configured
    return "rq" if current_app.config.get("REDIS_URL") else "thread"


def enqueue_render(job_id: int) -> None:
    """Hand a committed, queued job to whatever runs jobs. If that fails, the job stays queued."""
    how = mode()
    if how == "sync":
        run_render_job(job_id)
    elif how == "rq":
        try:
            _rq_queue().enqueue("shared.subject_access.jobs.run_render_job", job_id, job_timeout=1800)
        except Exception:  # noqa: BLE001 - Redis down: the job waits in the database for `jobs work`
            log.exception("Could not queue render job %s on Redis; it stays queued in the database", job_id)
    else:
        app = current_app._get_current_object()
        with _lock:
            _pending.append(_executor.submit(_drain_in_app, app))


def _drain_in_app(app) -> int:
    with app.app_context():
        try:
            return drain()
        finally:
            db.session.remove()


def wait_idle(timeout: float = 60) -> None:
    """Wait for the background thread to finish what it was given (tests, shutdown)."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    for future in pending:
        future.result(timeout=timeout)


def _rq_queue():
    from redis import Redis
    from rq import Queue

    return Queue(QUEUE_NAME, connection=Redis.from_url(current_app.config["REDIS_URL"]))


def is_stale(job: RenderJob) -> bool:
    minutes = current_app.config.get("JOBS_STALE_MINUTES", 15)
    return bool(job.state == RenderState.RUNNING.value and job.started_at and job.started_at < utcnow() - timedelta(minutes=minutes))


def recover_stale() -> int:
    """Jobs left `running` by a crashed worker go back to the queue (or fail, after too many attempts)."""
    cutoff = utcnow() - timedelta(minutes=current_app.config.get("JOBS_STALE_MINUTES", 15))
    stale = db.session.scalars(select(RenderJob).where(
        RenderJob.state == RenderState.RUNNING.value, RenderJob.started_at < cutoff
    )).all()
    for job in stale:
        if job.attempts >= current_app.config.get("JOBS_MAX_ATTEMPTS", 3):
            job.state, job.error = RenderState.FAILED.value, "the worker stopped while rendering, too many times"
        else:
            job.state = RenderState.QUEUED.value
        audit.record("system", "job.recovered", job, state=job.state, attempts=job.attempts)
    db.session.commit()
    return len(stale)


@writer_thread()
def drain() -> int:
    """Run every queued job, oldest first; returns how many ran."""
    recover_stale()
    ran = 0
    while True:
        job_id = db.session.scalar(
            select(RenderJob.id).where(RenderJob.state == RenderState.QUEUED.value).order_by(RenderJob.queued_at).limit(1)
        )
        db.session.commit()
        if job_id is None:
            return ran
        if run_render_job(job_id):
            ran += 1


def _claim(job_id: int) -> bool:
    claimed = db.session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.state == RenderState.QUEUED.value)
        .values(state=RenderState.RUNNING.value, attempts=RenderJob.attempts + 1, started_at=utcnow(),
                finished_at=None, error=None)
    ).rowcount
    db.session.commit()
    return claimed == 1


@writer_thread()
def run_render_job(job_id: int) -> bool:
    """Claim the job and render its copy. Returns False if someone else had it (or it was not queued)."""
    if not _claim(job_id):
        return False
    job = db.session.get(RenderJob, job_id)
    try:
        copies.render_copy(job.request_id)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job, for a retry
        db.session.rollback()
        log.exception("Render job %s failed", job_id)
        job = db.session.get(RenderJob, job_id)
        job.state, job.finished_at = RenderState.FAILED.value, utcnow()
        job.error = f"{type(exc).__name__}"[:300]
        audit.record("system", "job.failed", job, error=type(exc).__name__[:80], attempts=job.attempts)
        db.session.commit()
        return True
    job = db.session.get(RenderJob, job_id)
    job.state, job.finished_at = RenderState.DONE.value, utcnow()
    db.session.commit()
    return True


def work(burst: bool = False) -> None:
    """`flask jobs work`: an RQ worker when Redis is configured, otherwise a drain of queued jobs."""
    recover_stale()
    if mode() == "rq":
        from rq import SimpleWorker

        queue = _rq_queue()
        for job_id in db.session.scalars(select(RenderJob.id).where(RenderJob.state == RenderState.QUEUED.value)).all():
            enqueue_render(job_id)  # jobs that never reached Redis; a duplicate cannot run twice (see _claim)
        db.session.commit()
        SimpleWorker([queue], connection=queue.connection).work(burst=burst)
    else:
        drain()

"""gunicorn's settings for the app. gunicorn reads ./gunicorn.conf.py by itself when started from this folder
(`gunicorn --workers 4 wsgi:app`); started elsewhere, pass it with `-c /srv/advice/gunicorn.conf.py`.

Rate limits must hold across workers: in production the app refuses to start with in-memory limiter storage
(RATELIMIT_STORAGE_URI=memory://) and more than one worker (shared/platform/config.py). The app learns the worker
count from WEB_CONCURRENCY, which gunicorn also reads as its default for --workers; the hook below sets it to
the count gunicorn will really start (from --workers, WEB_CONCURRENCY or a config file) before any worker
imports the app, and checks it here too, for `--preload`, where the app is made before this hook runs."""

import os


def on_starting(server):
    from shared.platform.config import defaults, limiter_storage_problem

    workers = server.cfg.workers
    os.environ["WEB_CONCURRENCY"] = str(workers)
    config = defaults(os.environ.get("INSTANCE_PATH", "instance"))
    problem = limiter_storage_problem(config, workers) if config["PRODUCTION"] else None
    if problem:
        raise SystemExit(f"Refusing to start in production mode:\n- {problem}")

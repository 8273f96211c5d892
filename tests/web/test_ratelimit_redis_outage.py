"""A Redis outage must not open the sign-in doors, nor turn them into a 500: while the shared store is down,
each worker counts the same limits in its own memory, and goes back to Redis when it answers again."""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.redis_server import RedisServer
from tests.support.web import Browser

pytestmark = pytest.mark.skipif(not RedisServer.available(), reason="redis-server is not installed")

WRONG = {"password": "wrong password entirely"}


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


def _attempt(browser, email):
    return browser.submit("/sign-in", {"email": email, **WRONG}).status_code


def test_a_redis_outage_keeps_the_sign_in_limit_and_never_shows_a_500(make_limited_app, student, redis_server):
    limited = make_limited_app(RATELIMIT_LOGIN="10 per minute", RATELIMIT_STORAGE_URI=redis_server.url)
    b = Browser(limited.test_client())
    b.client.environ_base["REMOTE_ADDR"] = "192.0.2.21"

    assert [_attempt(b, student.email) for _ in range(2)] == [200, 200]
    counted = redis.Redis.from_url(redis_server.url).keys("*")
    assert counted, "with Redis up the attempts are counted in Redis"

    redis_server.stop()
    during = [_attempt(b, student.email) for _ in range(11)]
    # Counted afresh in the worker's memory while the store is down: ten more wrong passwords, then refused.
    assert during == [200] * 10 + [429]
    assert _attempt(b, student.email) == 429
    # Reading pages needs no limiter at all.
    assert b.client.get("/sign-in").status_code == 200

    redis_server.start()  # empty: it kept nothing on disk
    store = redis.Redis.from_url(redis_server.url)
    after, deadline = [], time.monotonic() + 20
    other = Browser(limited.test_client())
    other.client.environ_base["REMOTE_ADDR"] = "192.0.2.22"
    while not store.keys("*") and time.monotonic() < deadline:
        after.append(_attempt(other, student.email))
        time.sleep(0.25)
    assert store.keys("*"), "the limiter went back to Redis once it answered again"
    assert set(after) <= {200, 429} and 500 not in after


def test_sign_in_attempts_while_redis_is_down_from_the_start_still_count(make_limited_app, student, redis_server):
    limited = make_limited_app(RATELIMIT_LOGIN="3 per minute", RATELIMIT_STORAGE_URI=redis_server.url)
    redis_server.stop()
    b = Browser(limited.test_client())
    b.client.environ_base["REMOTE_ADDR"] = "192.0.2.23"
    assert [_attempt(b, "nobody.here@example.ac.uk") for _ in range(4)] == [200, 200, 200, 429]


def test_when_no_store_can_count_the_door_answers_503_not_500(make_limited_app, student, redis_server, monkeypatch):
    """If even the fallback cannot decide, the attempt is neither let through uncounted nor a 500."""
    from limits.storage import MemoryStorage

    limited = make_limited_app(RATELIMIT_LOGIN="3 per minute", RATELIMIT_STORAGE_URI=redis_server.url)
    redis_server.stop()

    def broken(self, *a, **kw):
        raise redis.exceptions.ConnectionError("no store at all")

    monkeypatch.setattr(MemoryStorage, "incr", broken)
    monkeypatch.setattr(MemoryStorage, "get", broken)
    b = Browser(limited.test_client())
    b.client.environ_base["REMOTE_ADDR"] = "192.0.2.24"
    resp = b.submit("/sign-in", {"email": student.email, **WRONG})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]
    assert "technical problem" in resp.get_data(as_text=True)


@pytest.mark.parametrize("door,fields", [
    ("/register", {"email": "new.student@example.ac.uk"}),
    ("/reset", {"email": "nobody.here@example.ac.uk"}),
    ("/staff/sign-in", {"email": "nobody.here@example.ac.uk", **WRONG}),
])
def test_every_signed_out_door_answers_while_redis_is_down(make_limited_app, redis_server, door, fields):
    limited = make_limited_app(RATELIMIT_LOGIN="2 per minute", RATELIMIT_STORAGE_URI=redis_server.url)
    redis_server.stop()
    b = Browser(limited.test_client())
    b.client.environ_base["REMOTE_ADDR"] = "192.0.2.25"
    statuses = [b.submit(door, fields).status_code for _ in range(3)]
    assert 500 not in statuses and 503 not in statuses
    assert statuses[-1] == 429, statuses

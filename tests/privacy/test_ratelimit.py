"""The sliding-window rate limit, in memory and on the real Redis at 127.0.0.1:6379 (two limiters sharing it stand
for two Rasa processes), failing open when Redis is down."""

from __future__ import annotations

import uuid

import pytest

from bot.privacy.ratelimit import MemoryLimiter, RedisLimiter, make_limiter
from bot.settings import Settings

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
def limiter_factory(request):
    prefix = f"amani-test:{uuid.uuid4().hex}:"
    clients = []

    def make(limit: int = 3, window: float = 10.0):
        if request.param == "memory":
            return MemoryLimiter(limit, window)
        limiter = RedisLimiter.from_url(REDIS, limit, window, prefix=prefix)
        clients.append(limiter.client)
        return limiter

    yield make
    for client in clients:
        for key in client.scan_iter(prefix + "*"):
            client.delete(key)


def test_the_window_slides(limiter_factory):
    limiter = limiter_factory(limit=3, window=10.0)
    assert [limiter.hit("p", now=t).allowed for t in (0, 1, 2, 3, 4)] == [True, True, True, False, False]
    assert limiter.hit("p", now=10.5).allowed  # the message at t=0 left the window
    assert not limiter.hit("p", now=10.6).allowed
    assert limiter.hit("p", now=12.5).allowed  # t=1 and t=2 left; refused ones never counted
    assert limiter.hit("someone-else", now=4).allowed  # per person


def test_the_kind_reply_is_sent_once_per_window(limiter_factory):
    limiter = limiter_factory(limit=1, window=10.0)
    limiter.hit("p", now=0)
    assert [limiter.hit("p", now=t).notify for t in (1, 2, 3)] == [True, False, False]
    assert limiter.hit("p", now=10.5).allowed
    assert limiter.hit("p", now=11).notify  # a new window, a new notice


def test_two_processes_share_the_count_in_redis():
    prefix = f"amani-test:{uuid.uuid4().hex}:"
    first, second = (RedisLimiter.from_url(REDIS, 4, 60.0, prefix=prefix) for _ in range(2))
    try:
        allowed = [(first if i % 2 else second).hit("p", now=100 + i).allowed for i in range(6)]
        assert allowed == [True, True, True, True, False, False]
        assert first.client.pttl(prefix + "p") > 0  # keys expire with the window: nothing lingers
    finally:
        for key in first.client.scan_iter(prefix + "*"):
            first.client.delete(key)


def test_redis_down_lets_messages_through():
    limiter = RedisLimiter.from_url("redis://127.0.0.1:1/0", 1, 60.0)
    assert all(limiter.hit("p").allowed for _ in range(3))


def test_settings_choose_the_backend():
    assert isinstance(make_limiter(Settings(environment="test")), MemoryLimiter)
    limiter = make_limiter(Settings(environment="test", redis_url=REDIS, rate_limit_messages=7))
    assert isinstance(limiter, RedisLimiter) and limiter.limit == 7

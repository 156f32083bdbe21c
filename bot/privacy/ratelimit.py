"""Per-person rate limit: a sliding window of at most ``limit`` messages per ``window`` seconds, keyed by
pseudonym. In memory by default (one process); in Redis when ``AMANI_REDIS_URL`` is set, so several Rasa
processes share the count. Refused messages do not count, so a person is let in again as their earlier messages
leave the window. ``notify`` is True for the first refusal in a window only: the kind reply is sent once, not to
every message of a flood. If Redis cannot be reached the limiter lets messages through (and logs the error class):
a broken limiter must never silence someone.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Optional, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """Whether one message may pass."""

    allowed: bool
    count: int  # messages in the window, this one included when allowed
    notify: bool = False  # refused, and the first refusal in this window


class Limiter(Protocol):
    """A sliding-window limiter."""

    limit: int
    window: float

    def hit(self, key: str, now: Optional[float] = None) -> Decision:
        """Count a message for ``key`` if it fits in the window."""


class MemoryLimiter:
    """In-process sliding windows (thread-safe), for at most ``max_keys`` people at a time."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._told: dict[str, float] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: Optional[float] = None) -> Decision:
        """Count a message for ``key`` if it fits in the window."""
        now = time.time() if now is None else now
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits  # most recently used last
            while len(self._hits) > self.max_keys:
                old, _ = self._hits.popitem(last=False)
                self._told.pop(old, None)
            if len(hits) < self.limit:
                hits.append(now)
                return Decision(True, len(hits))
            told = self._told.get(key)
            notify = told is None or told <= now - self.window
            if notify:
                self._told[key] = now
            return Decision(False, len(hits), notify)


# KEYS[1] window (sorted set of timestamps), KEYS[2] when the person was last told; ARGV now, window, limit,
# member (times in ms)
_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, n + 1, 0}
end
local told = redis.call('GET', KEYS[2])
if (not told) or (tonumber(ARGV[1]) - tonumber(told) >= tonumber(ARGV[2])) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {0, n, 1}
end
return {0, n, 0}
"""


class RedisLimiter:
    """Sliding windows in Redis (one sorted set per person, expiring with the window), atomic via a Lua script."""

    def __init__(self, client: Any, limit: int, window: float, prefix: str = "amani:ratelimit:") -> None:
        self.client, self.limit, self.window, self.prefix = client, limit, window, prefix
        self._script = client.register_script(_LUA)

    @classmethod
    def from_url(cls, url: str, limit: int, window: float, prefix: str = "amani:ratelimit:") -> "RedisLimiter":
        """A limiter on the Redis server at ``url`` (short timeouts: the limiter must not slow replies down)."""
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, limit, window, prefix)

    def hit(self, key: str, now: Optional[float] = None) -> Decision:
        """Count a message for ``key`` if it fits in the window."""
        now_ms = int((time.time() if now is None else now) * 1000)
        try:
            allowed, count, told = self._script(
                keys=[self.prefix + key, self.prefix + key + ":told"],
                args=[now_ms, int(self.window * 1000), self.limit, f"{now_ms}-{uuid.uuid4().hex[:8]}"],
            )
        except Exception as error:  # noqa: BLE001 - fail open (module docstring)
            logger.error("rate limiter unavailable, message let through: %s", type(error).__name__)
            return Decision(True, 0)
        return Decision(bool(allowed), int(count), bool(told))


def make_limiter(settings: Any) -> Limiter:
    """Redis-backed when ``redis_url`` is set, else in memory."""
    if settings.redis_url:
        return RedisLimiter.from_url(settings.redis_url, settings.rate_limit_messages,
                                     settings.rate_limit_window_seconds)
    return MemoryLimiter(settings.rate_limit_messages, settings.rate_limit_window_seconds)

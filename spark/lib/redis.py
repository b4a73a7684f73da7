"""The process's Redis client for the hot paths that talk to Redis directly (driver positions,
throttle counters, coalesced task kicks). None in the embedded mode, which has no Redis."""

import os
import threading

import redis
from django.conf import settings


class _ThreadClient(threading.local):
    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.key: tuple[str, int] | None = None


class _Clients:
    """`client()`: one client per thread, each holding one connection.

    redis-py's pool hands out a connection and takes it back around every command (lock
    rounds, pid checks, a readability poll, observability counters): on a location ping that
    was as much CPU as the ping's own work (P8). A thread, such as a sync gunicorn worker's
    only one, keeps its connection instead; a forked child opens its own. `cache_clear()`
    (tests that move REDIS_URL) makes every thread open a new one.
    """

    def __init__(self) -> None:
        self._local = _ThreadClient()
        self._generation = 0

    def __call__(self) -> "redis.Redis | None":
        url = settings.REDIS_URL
        if not url:
            return None
        local, key = self._local, (url, self._generation)
        if local.key != key:
            local.client = redis.Redis.from_url(url, single_connection_client=True)
            local.key = key
        return local.client

    def cache_clear(self) -> None:
        self._generation += 1


client = _Clients()
os.register_at_fork(after_in_child=client.cache_clear)


def first_in_window(key: str, seconds: int) -> bool:
    """True for the first caller of `key` in the next `seconds`, False for the others.

    One Redis round trip (SET NX EX); the cache (add) where there is no Redis.
    """
    conn = client()
    if conn is not None:
        return bool(conn.set(key, b"1", nx=True, ex=seconds))
    from django.core.cache import cache as django_cache

    return django_cache.add(key, 1, timeout=seconds)

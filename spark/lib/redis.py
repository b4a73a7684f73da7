"""The process's Redis client for the hot paths that talk to Redis directly (driver positions,
throttle counters, coalesced task kicks). None in the embedded mode, which has no Redis."""

from functools import cache

import redis
from django.conf import settings


@cache
def client() -> "redis.Redis | None":
    return redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None


def first_in_window(key: str, seconds: int) -> bool:
    """True for the first caller of `key` in the next `seconds`, False for the others.

    One Redis round trip (SET NX EX); the cache (add) where there is no Redis.
    """
    conn = client()
    if conn is not None:
        return bool(conn.set(key, b"1", nx=True, ex=seconds))
    from django.core.cache import cache as django_cache

    return django_cache.add(key, 1, timeout=seconds)

"""The process's Redis client for the hot paths that talk to Redis directly (driver positions,
throttle counters, coalesced task kicks). None in the embedded mode, which has no Redis."""

import logging
import os
import threading
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


# Replies left waiting at most (a few bytes each, in the socket's buffer).
UNREAD_MAX = 64


class _ThreadClient(threading.local):
    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.key: tuple[str, int] | None = None
        self.unread = 0  # replies to `send_later` commands not read yet


class _Clients:
    """`client()`: one client per thread, each holding one connection.

    redis-py's pool hands out a connection and takes it back around every command (lock
    rounds, pid checks, a readability poll, observability counters): on a location ping that
    was as much CPU as the ping's own work (P8). A thread, such as a sync gunicorn worker's
    only one, keeps its connection instead; a forked child opens its own. `cache_clear()`
    (tests that move REDIS_URL) makes every thread open a new one.

    `send_later(*command)` sends a command without waiting for its reply (a location ping's
    write: the wait for Redis's answer was a third of the ping, P8). The replies are read
    before the thread's next other use of the client, or together once UNREAD_MAX are
    waiting (one read for all of them). A command Redis refused is logged then, not raised:
    its caller has answered already.
    """

    def __init__(self) -> None:
        self._local = _ThreadClient()
        self._generation = 0

    def __call__(self) -> "redis.Redis | None":
        conn = self._connected()
        if self._local.unread:
            self.read_replies()
        return conn

    def _connected(self) -> "redis.Redis | None":
        url = settings.REDIS_URL
        if not url:
            return None
        local, key = self._local, (url, self._generation)
        if local.key != key:
            local.client = redis.Redis.from_url(url, single_connection_client=True)
            local.key, local.unread = key, 0
        return local.client

    def send_later(self, *command: Any) -> bool:
        """Send `command`; its reply is read later (see the class). False without Redis."""
        conn = self._connected()
        if conn is None:
            return False
        if self._local.unread >= UNREAD_MAX:
            self.read_replies()
        try:
            conn.connection.send_command(*command)
        except redis.RedisError:  # redis-py drops the connection, and the replies it owed
            self._local.unread = 0
            raise
        self._local.unread += 1
        return True

    def read_replies(self) -> None:
        """Read the replies to the commands sent with send_later, logging refusals."""
        local = self._local
        unread, local.unread = local.unread, 0
        if not unread or local.client is None:
            return
        connection = local.client.connection
        for _ in range(unread):
            try:
                connection.read_response()
            except redis.ResponseError as exc:  # a refused command: the others still answer
                logger.warning("Redis refused a command sent without waiting: %s", exc)
            except redis.RedisError as exc:  # the connection is gone, with the other replies
                logger.warning("Redis replies lost (%s); the connection is reopened", exc)
                return

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

"""A fixed-window request counter for the hot API paths (offer accept, A6).

DRF's ScopedRateThrottle keeps a list of timestamps per client in the cache: a read, a pickle
and a write per request. This one costs one Redis round trip (INCR + EXPIRE in a pipeline), and
counts per driver when the view knows its driver (`view.driver_id`), else per user or IP. A
fixed window lets a burst of up to 2x the rate straddle a window edge; for "no bots grabbing
offers" that is fine, and it is what most gateways do.
"""

import time
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from spark.lib import redis


class FixedWindowThrottle(SimpleRateThrottle):
    """Set `throttle_scope` on the view; the rate comes from DEFAULT_THROTTLE_RATES[scope]."""

    def __init__(self) -> None:  # the scope is known only once we see the view
        self._wait = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        limit, period = self.parse_rate(self.rate)
        if limit is None:
            return True
        who = getattr(view, "driver_id", None) or getattr(request.user, "pk", None)
        ident = f"d{who}" if who else self.get_ident(request)
        now = time.time()
        window = int(now // period)
        key = f"spark:throttle:{self.scope}:{ident}:{window}"
        count = _hit(key, period)
        self._wait = period - (now % period)
        return count <= limit

    def wait(self) -> float:
        return self._wait


def _hit(key: str, period: int) -> int:
    conn = redis.client()
    if conn is not None:
        pipe = conn.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, period + 1)
        count, _ = pipe.execute()
        return int(count)
    cache.add(key, 0, timeout=period + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=period + 1)
        return 1

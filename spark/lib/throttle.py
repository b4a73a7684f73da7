"""Fixed-window request counters: the offer-accept limit (A6) for the API and the portal, and
the sign-up limit per IP.

DRF's ScopedRateThrottle keeps a list of timestamps per client in the cache: a read, a pickle
and a write per request. A fixed window costs one Redis command (a script: INCR, and EXPIRE on
the window's first hit; a pipeline of the two costs twice the client work). It lets a burst of
up to 2x the rate straddle a window edge; for "no bots grabbing offers" that is fine, and it is
what most gateways do.
"""

import time
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from spark.lib import redis

# Atomic: a counter never outlives its window, whoever dies between the two calls.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_count_script = None


def _count(conn: Any, key: str, ttl: int) -> int:
    global _count_script
    if _count_script is None:
        _count_script = conn.register_script(_COUNT)  # EVALSHA, loading it once if missing
    return int(_count_script(keys=[key], args=[ttl], client=conn))


def hit(name: str, *, limit: int, seconds: int) -> float | None:
    """Count one hit on `name` in the current window of `seconds`: None while within `limit`,
    else the seconds until the window ends (for Retry-After)."""
    now = time.time()
    key = f"spark:throttle:{name}:{int(now // seconds)}"
    conn = redis.client()
    if conn is not None:
        count = _count(conn, key, seconds + 1)
    else:
        cache.add(key, 0, timeout=seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=seconds + 1)
            count = 1
    return None if count <= limit else seconds - (now % seconds)


def scope_hit(scope: str, ident: str, rates: dict[str, str] | None = None) -> float | None:
    """`hit` at the rate DEFAULT_THROTTLE_RATES gives `scope` (e.g. "30/min")."""
    rate = (rates or api_settings.DEFAULT_THROTTLE_RATES).get(scope)
    if rate is None:
        return None
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
    return hit(f"{scope}:{ident}", limit=int(count), seconds=seconds)


class FixedWindowThrottle(SimpleRateThrottle):
    """Set `throttle_scope` on the view. Counts per driver when the view knows its driver
    (`view.driver_id`), else per user or IP."""

    def __init__(self) -> None:  # the scope is known only once we see the view
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        who = getattr(view, "driver_id", None) or getattr(request.user, "pk", None)
        ident = f"d{who}" if who else self.get_ident(request)
        self._wait = scope_hit(scope, ident, self.THROTTLE_RATES)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait

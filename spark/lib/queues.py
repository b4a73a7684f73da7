"""Celery routing: each market's dispatch rounds on a queue of its own (SPARK_MARKET_QUEUES).

`SPARK_MARKET_QUEUES=1=south,2=south,3=west` sends the rounds of markets 1 and 2 to the queue
"south" and market 3's to "west"; workers on other machines consume them with
`celery -A spark worker -Q south`. Every other task, and any market not listed, stays on the
default queue ("celery"), which at least one worker must consume. Rounds expire after 10 s, so
a queue nobody consumes never piles up.
"""

from typing import Any

from django.conf import settings

ROUTED_BY_MARKET = frozenset({"dispatch.tasks.dispatch_round"})


def route_task(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str] | None:
    if name not in ROUTED_BY_MARKET:
        return None
    market_id = (kwargs or {}).get("market_id", args[0] if args else None)
    queue = settings.SPARK_MARKET_QUEUES.get(str(market_id))
    return {"queue": queue} if queue else None

"""Celery routing: each market's dispatch rounds on a queue of its own (SPARK_MARKET_QUEUES).

`SPARK_MARKET_QUEUES=1=south,2=south,3=west` sends the rounds of markets 1 and 2 to the queue
"south" and market 3's to "west"; workers on other machines consume them with
`celery -A spark worker -Q south`. Every other task, and any market not listed, stays on the
default queue ("celery"), which at least one worker must consume. Rounds expire after 10 s, so
a queue nobody consumes never piles up.

`kick_at_window_end` coalesces the kicks of a hot path into one deferred task per window.
"""

from typing import Any

from django.conf import settings

from spark.lib.redis import first_in_window

ROUTED_BY_MARKET = frozenset({"dispatch.tasks.dispatch_round"})


def route_task(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str] | None:
    if name not in ROUTED_BY_MARKET:
        return None
    market_id = (kwargs or {}).get("market_id", args[0] if args else None)
    queue = settings.SPARK_MARKET_QUEUES.get(str(market_id))
    return {"queue": queue} if queue else None


def kick_at_window_end(task: Any, *, key: str, seconds: int) -> None:
    """Run `task` once at the end of each window of `seconds` in which somebody kicked it.

    The first kick of a window (one SET NX on `key`) enqueues the task with a countdown to the
    window's end, so the task sees everything its window's kickers committed; the others only
    pay that SET NX. An app that runs tasks eagerly (tests, CELERY_TASK_ALWAYS_EAGER) ignores
    countdowns: its task would run at the first kick and miss the rest of the window, which
    only a beat it does not have would catch. There every kick runs the task.
    """
    if task.app.conf.task_always_eager:
        task.apply_async()
    elif first_in_window(key, seconds):
        task.apply_async(countdown=seconds)

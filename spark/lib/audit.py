"""Who changed what (A10): the context that django-pghistory stores with every history row.

Row triggers on Order, Offer and Payout copy each insert and update, including QuerySet.update()
and bulk writes, into <Model>History. While a context is open, pghistory prefixes each write
statement with `set_config(...)` (same round trip) and the trigger copies the context onto the
row: `pgh_context = {"actor": ..., "user_id": ..., "url"/"task": ...}`.

A context is opened around every web request (the middleware), every Celery task (signals,
connected by the kernel's AppConfig) and, elsewhere, with `audit_context(actor)`. The outermost
one names the actor: a task run eagerly inside a request keeps the request's actor.

PostgreSQL only: the embedded SQLite mode has no triggers, so it keeps no history and opens no
context (pghistory's SQL prefix is PostgreSQL's).
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pghistory
from celery import signals
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import HttpRequest, HttpResponse

from spark.lib.actors import Actor


class _State(threading.local):
    def __init__(self) -> None:
        self.depth = 0
        self.tasks: dict[str, pghistory.context] = {}


_state = _State()


def tracking() -> bool:
    return connection.vendor == "postgresql"


class _Deferred:
    """A value worked out at each write, not when the request starts: DRF authenticates API
    keys and driver tokens inside the view, after the middleware has opened the context."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]):
        self.fn = fn


class AuditJSONEncoder(DjangoJSONEncoder):
    """PGHISTORY_JSON_ENCODER: serialises the context metadata once per write statement."""

    def default(self, o: Any) -> Any:
        if isinstance(o, _Deferred):
            return o.fn()
        return super().default(o)


@contextmanager
def _opened(**metadata: Any) -> Iterator[None]:
    with pghistory.context(**metadata):
        _state.depth += 1
        try:
            yield
        finally:
            _state.depth -= 1


@contextmanager
def audit_context(actor: Actor, **extra: Any) -> Iterator[None]:
    """Name the actor of the writes inside (management commands, scripts, shell sessions).

    Inside a request or task this adds nothing: the outer context already names the actor.
    """
    if not tracking() or _state.depth:
        yield
        return
    with _opened(actor=actor.label, user_id=actor.user_id, **extra):
        yield


def request_actor(request: HttpRequest) -> Actor:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Actor(label="anonymous")
    if getattr(user, "pk", None) is None:  # an API-key merchant (orders.auth.MerchantPrincipal)
        return Actor(label=user.get_username())
    return Actor.user(user, role="staff" if user.is_staff else "user")


class AuditContextMiddleware:
    """After the authentication middlewares; the actor is read at each write (see _Deferred)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not tracking() or _state.depth:
            return self.get_response(request)
        with _opened(
            actor=_Deferred(lambda: request_actor(request).label),
            user_id=_Deferred(lambda: request_actor(request).user_id),
            url=request.path,
            method=request.method,
        ):
            return self.get_response(request)


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    stale = _state.tasks.pop(task_id or "", None)
    if stale is not None:  # never left open: a context must not outlive its task
        _close(stale)
    if not tracking() or _state.depth or task_id is None:
        return
    ctx = pghistory.context(actor=Actor.system(task.name).label, task=task.name, task_id=task_id)
    ctx.__enter__()
    _state.depth += 1
    _state.tasks[task_id] = ctx


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    ctx = _state.tasks.pop(task_id or "", None)
    if ctx is not None:
        _close(ctx)


def _close(ctx: pghistory.context) -> None:
    _state.depth -= 1
    ctx.__exit__(None, None, None)


def connect_task_signals() -> None:
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="spark-audit-prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="spark-audit-postrun")

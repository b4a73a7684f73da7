"""Who changed what (A10): the context that django-pghistory's triggers store with every history
row.

Row triggers on Order, Offer and Payout copy each insert and update, including QuerySet.update()
and bulk writes, into <Model>History, and copy onto the row the transaction's settings
`pghistory.context_id` and `pghistory.context_metadata`:
`pgh_context = {"actor": ..., "user_id": ..., "url"/"task": ...}`.

A context is opened around every web request (the middleware), every Celery task (signals,
connected by the kernel's AppConfig) and, elsewhere, with `audit_context(actor)`. The outermost
one names the actor: a task run eagerly inside a request keeps the request's actor.

While a context is open, an execute wrapper puts `SELECT set_config(...)` in front of the first
write statement of each transaction (same round trip), and again only when the context's
metadata changes, a savepoint is rolled back (which undoes the setting) or a new transaction
starts. pghistory's own `pghistory.context` prefixes every write statement, savepoints included
(7 times for one POST /orders); use `audit_context` here, not `pghistory.context`. A request
that writes nothing costs no id and no JSON.

PostgreSQL only: the embedded SQLite mode has no triggers, so it keeps no history and opens no
context (the set_config prefix is PostgreSQL's).
"""

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import signals
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import HttpRequest, HttpResponse

from spark.lib.actors import Actor

# Statements that fire no row trigger: nothing to name an actor for. Everything else (INSERT,
# UPDATE, DELETE, WITH ..., COPY, CALL) gets the context first.
_NO_ROW_WRITE = re.compile(
    r"\s*(?:select|show|set|begin|start|commit|savepoint|release|rollback|vacuum|analyze"
    r"|checkpoint|discard|load|cluster|reindex|create|alter|drop)\b",
    re.IGNORECASE,
)
_ROLLBACK = re.compile(r"\s*rollback\b", re.IGNORECASE)
_PREFIX = (
    "SELECT set_config('pghistory.context_id', {id}, true), "
    "set_config('pghistory.context_metadata', {metadata}, true); "
)
_PREFIX_POSITIONAL = _PREFIX.format(id="%s", metadata="%s")
_PREFIX_NAMED = _PREFIX.format(id="%(spark_audit_id)s", metadata="%(spark_audit_metadata)s")
# libpq's PQtransactionStatus values (psycopg2's TRANSACTION_STATUS_*, psycopg's IntEnum).
_IDLE, _INERROR = 0, 3


class AuditJSONEncoder(DjangoJSONEncoder):
    """Serialises the context metadata; also PGHISTORY_JSON_ENCODER, for pghistory's own use."""


class _Context:
    """One open context: an id (made at its first write) and the metadata of its writes."""

    __slots__ = ("metadata", "dynamic", "_id", "_wrapper", "_outer")

    def __init__(self, dynamic: Callable[[], dict] | None = None, **metadata: Any):
        self.metadata = metadata
        # Fields worked out at each write, not when the request starts: DRF authenticates API
        # keys and driver tokens inside the view, after the middleware has opened the context.
        self.dynamic = dynamic
        self._id: str | None = None
        self._wrapper: Any = None
        self._outer: _Context | None = None

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = str(uuid.uuid4())
        return self._id

    def serialized(self) -> str:
        metadata = {**self.dynamic(), **self.metadata} if self.dynamic else self.metadata
        return json.dumps(metadata, cls=AuditJSONEncoder)

    def __enter__(self) -> "_Context":
        self._wrapper = connection.execute_wrapper(_inject_context)
        self._wrapper.__enter__()
        self._outer, _state.context = _state.context, self
        _state.depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.depth -= 1
        _state.context = self._outer
        self._wrapper.__exit__(*exc)


class _State(threading.local):
    def __init__(self) -> None:
        self.depth = 0
        self.context: _Context | None = None
        self.tasks: dict[str, _Context] = {}


_state = _State()


def tracking() -> bool:
    return connection.vendor == "postgresql"


def _inject_context(
    execute: Callable, sql: str | bytes, params: Any, many: bool, context: dict
) -> Any:
    """The execute wrapper: the context's set_config in front of the first write of a
    transaction, and of any later write that the setting no longer covers."""
    ctx, db = _state.context, context["connection"]
    status = db.connection.info.transaction_status
    if status == _IDLE:  # this statement starts a transaction (or runs in autocommit)
        db.spark_audit_set = None
    text = sql.decode() if isinstance(sql, bytes) else sql
    if _NO_ROW_WRITE.match(text):
        if _ROLLBACK.match(text):  # rolling back to a savepoint undoes a set_config inside it
            db.spark_audit_set = None
        return execute(sql, params, many, context)
    if ctx is None or status == _INERROR:  # an aborted transaction fails the statement anyway
        return execute(sql, params, many, context)
    wanted = (ctx.id, ctx.serialized())
    if getattr(db, "spark_audit_set", None) == wanted:
        return execute(sql, params, many, context)
    db.spark_audit_set = None
    text, params = _with_context(text, params, many, wanted)
    result = execute(text.encode() if isinstance(sql, bytes) else text, params, many, context)
    db.spark_audit_set = wanted
    return result


def _with_context(sql: str, params: Any, many: bool, values: tuple[str, str]) -> tuple[str, Any]:
    if many:  # executemany runs the statement once per parameter set: prefix each run
        rows = list(params)
        named = bool(rows) and isinstance(rows[0], dict)
        prefix = _PREFIX_NAMED if named else _PREFIX_POSITIONAL
        return prefix + sql, [_with_values(p, values) for p in rows]
    if params is None:  # no parameters until now: literal % signs must be escaped from here on
        return _PREFIX_POSITIONAL + sql.replace("%", "%%"), values
    prefix = _PREFIX_NAMED if isinstance(params, dict) else _PREFIX_POSITIONAL
    return prefix + sql, _with_values(params, values)


def _with_values(params: Any, values: tuple[str, str]) -> Any:
    """psycopg takes named or positional parameters, not both: keep the statement's kind."""
    if isinstance(params, dict):
        return {**params, "spark_audit_id": values[0], "spark_audit_metadata": values[1]}
    return (*values, *params)


@contextmanager
def _opened(dynamic: Callable[[], dict] | None = None, **metadata: Any) -> Iterator[None]:
    with _Context(dynamic, **metadata):
        yield


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
    """After the authentication middlewares; the actor is read at each write (_Context.dynamic)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _state.depth or not tracking():
            return self.get_response(request)

        def actor() -> dict:
            who = request_actor(request)
            return {"actor": who.label, "user_id": who.user_id}

        with _opened(actor, url=request.path, method=request.method):
            return self.get_response(request)


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    stale = _state.tasks.pop(task_id or "", None)
    if stale is not None:  # never left open: a context must not outlive its task
        stale.__exit__(None, None, None)
    if not tracking() or _state.depth or task_id is None:
        return
    ctx = _Context(actor=Actor.system(task.name).label, task=task.name, task_id=task_id)
    ctx.__enter__()
    _state.tasks[task_id] = ctx


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    ctx = _state.tasks.pop(task_id or "", None)
    if ctx is not None:
        ctx.__exit__(None, None, None)


def connect_task_signals() -> None:
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="spark-audit-prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="spark-audit-postrun")

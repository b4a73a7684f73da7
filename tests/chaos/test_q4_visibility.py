"""Q4, the configuration the kill tests rely on. The time limits and retry backoffs of every task
are checked in tests/test_platform.py::test_every_task_has_time_limits_and_countdowns_fit_the_
visibility_timeout; here: every countdown and every lease fits the visibility timeout too, in
production and in the shortened settings of the chaos processes."""

import ast
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings

from payouts.services import payouts as payout_services
from tests.chaos import chaos_settings

pytestmark = pytest.mark.chaos

ROOT = Path(__file__).resolve().parents[2]
APPS = ("orders", "drivers", "dispatch", "payouts", "spark")


def _visibility(options: dict) -> timedelta:
    return timedelta(seconds=options.get("visibility_timeout", 3600))


# The generic helper that defers a task to the end of a window: its countdown is its `seconds`
# argument, so the scan reads the windows at its callers instead of its own apply_async.
WINDOW_KICK = ("spark.lib.queues", "kick_at_window_end")


def _name(node: ast.expr) -> str | None:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def _task_of(call: ast.Call) -> str | None:
    """`tasks.x.apply_async(..., countdown=...)`, `partial(tasks.x.apply_async, ...)` or
    `kick_at_window_end(tasks.x, ..., seconds=...)`: x."""
    func = call.func
    if _name(func) == WINDOW_KICK[1] and call.args:
        return _name(call.args[0])
    if isinstance(func, ast.Name) and func.id == "partial" and call.args:
        func = call.args[0]
    if isinstance(func, ast.Attribute) and func.attr == "apply_async":
        return _name(func.value)
    return None


def _value(module: str, node: ast.expr) -> float:
    if isinstance(node, ast.Attribute) and getattr(node.value, "id", "") == "settings":
        return getattr(settings, node.attr)
    if isinstance(node, ast.Name):
        return getattr(import_module(module), node.id)
    return ast.literal_eval(node)


def countdowns_in_code() -> list[tuple[str, str, float]]:
    """(where, task, seconds) for every countdown or ETA the code gives a Celery task."""
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call) or (task := _task_of(node)) is None:
                    continue
                if module == WINDOW_KICK[0]:
                    continue  # the helper's own apply_async(countdown=seconds)
                window = _name(node.func) == WINDOW_KICK[1]
                for kw in node.keywords:
                    if kw.arg == "countdown" or (window and kw.arg == "seconds"):
                        found.append((f"{module}:{node.lineno}", task, _value(module, kw.value)))
                    elif kw.arg == "eta":
                        raise AssertionError(f"{module}:{node.lineno}: use a countdown, not an ETA")
    return found


def test_q4_every_countdown_in_the_code_fits_the_visibility_timeout():
    """A task delayed past the visibility timeout is delivered again while it waits."""
    visibility = _visibility(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    current_app.loader.import_default_modules()
    found = countdowns_in_code()
    assert found, "the scan found no countdown at all: is it still looking at the code?"
    assert "trip_assigned_sync" in {task for _, task, _ in found}, "window kicks are scanned"
    for where, task_name, seconds in found:
        (task,) = [t for n, t in current_app.tasks.items() if n.endswith(f".{task_name}")]
        limit = timedelta(seconds=task.time_limit or settings.CELERY_TASK_TIME_LIMIT)
        assert timedelta(seconds=seconds) + limit < visibility, where
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        expires = entry.get("options", {}).get("expires", 0)
        assert timedelta(seconds=expires) < visibility, entry["task"]


@pytest.mark.parametrize(
    ("name", "webhook_lease", "payout_lease", "options"),
    [
        (
            "production",
            settings.SPARK_WEBHOOK_LEASE,
            payout_services.LEASE,
            settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ),
        (
            "chaos processes",
            chaos_settings.SPARK_WEBHOOK_LEASE,
            chaos_settings.PAYOUTS_SUBMIT_LEASE,
            chaos_settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ),
    ],
)
def test_q4_leases_end_before_a_dead_workers_task_comes_back(
    name, webhook_lease, payout_lease, options
):
    """A task redelivered after its worker died (visibility timeout) finds the rows that worker
    had leased free again, so it finishes them instead of leaving them to the next sweep."""
    visibility = _visibility(options)
    assert webhook_lease < visibility, name
    assert payout_lease < visibility, name

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.template.loader import get_template

from drivers import tasks
from drivers.models import DriverEvent, DriverStatus
from spark.celery import app


@pytest.mark.parametrize("entry", ["drivers-documents-expiry", "drivers-adverse-actions-finish"])
def test_beat_entries_name_registered_tasks_with_time_limits(entry):
    task = app.tasks[settings.CELERY_BEAT_SCHEDULE[entry]["task"]]
    assert task.time_limit
    assert task.soft_time_limit < task.time_limit


def test_every_task_has_time_limits_and_bounded_retries():
    for task in (
        tasks.driver_event_notify,
        tasks.documents_expiry_sweep,
        tasks.background_checks_adverse_action_finish_due,
        tasks.sandbox_report_run,
    ):
        assert task.time_limit
        assert task.soft_time_limit
        # Countdowns stay under the broker's visibility timeout (Q4).
        backoff = getattr(task, "retry_backoff_max", 0) or 0
        assert backoff < settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)


@pytest.mark.parametrize(
    "name",
    [f"status_{s}" for s in DriverStatus.values]
    + [c for c in DriverEvent.Code.values if c != "status"],
)
def test_every_event_has_an_email_template_with_subject_and_portal_link(name):
    context = {
        "event": SimpleNamespace(reason="Because.", evidence="Ticket 1"),
        "user": SimpleNamespace(first_name="Ana"),
        "site_url": "https://spark.example",
        "wait_days": 7,
    }
    text = get_template(f"driver/email/{name}.txt").render(context)
    subject, _, body = text.strip().partition("\n")
    assert subject.strip()
    assert "\n" not in subject
    assert body.strip().startswith("Hi Ana,")
    assert "https://spark.example/driver/" in body
    assert "&" not in body  # plain text: no HTML escaping

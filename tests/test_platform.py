"""Platform-wide checks: Celery settings (Q4), the committed OpenAPI schema, money fields (M6),
/healthz, the demo seed and the admin."""

import io
from pathlib import Path

import pytest
from celery import current_app
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models

ROOT = Path(__file__).resolve().parent.parent


def test_every_task_has_time_limits_and_countdowns_fit_the_visibility_timeout():
    """Q4: no countdown, ETA or retry backoff may outlive the broker's visibility timeout."""
    current_app.loader.import_default_modules()
    tasks = {n: t for n, t in current_app.tasks.items() if not n.startswith("celery.")}
    assert tasks, "no tasks registered"
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    for name, task in tasks.items():
        hard = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        soft = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT
        assert hard, name
        assert 0 < soft < hard, name
        backoff_max = getattr(task, "retry_backoff_max", 0) or 0
        assert hard + backoff_max < visibility, name
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in tasks, entry["task"]
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]


def test_committed_openapi_schema_matches_the_code():
    """Regenerate with `make schema` when the API changes on purpose."""
    out = io.StringIO()
    call_command("spectacular", "--validate", stdout=out)
    committed = (ROOT / "docs" / "openapi.yaml").read_text()
    assert out.getvalue() == committed, "docs/openapi.yaml is stale: run `make schema`"


def test_money_fields_are_integer_cents_with_a_currency():
    """M6: no float or decimal money; every *_cents field is a BigIntegerField."""
    for model in apps.get_models():
        names = {f.name for f in model._meta.get_fields()}
        for field in model._meta.get_fields():
            if not isinstance(field, models.Field):
                continue
            if field.name.endswith("_cents"):
                assert isinstance(field, models.BigIntegerField), f"{model.__name__}.{field.name}"
                assert "currency" in names or _currency_via_relation(model), model.__name__
            if isinstance(field, (models.FloatField, models.DecimalField)):
                money_words = ("amount", "price", "fee", "pay", "tip", "balance", "cents")
                assert not any(w in field.name for w in money_words), field.name


def _currency_via_relation(model) -> bool:
    """Settings-like rows (a market's fees) take their currency from the market itself."""
    return model._meta.label in {"orders.Market"}


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client, monkeypatch):
    from spark.lib import health

    monkeypatch.setattr(health, "_broker_ok", lambda: False)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "down"


@pytest.mark.django_db
def test_api_answers_503_not_500_when_the_database_is_unavailable(api, monkeypatch):
    from django.db import OperationalError

    from orders import selectors

    def down(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(selectors, "store_list_for_merchant", down)
    response = api.get("/api/v1/stores")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "service_unavailable"


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_logins():
    from orders.models import ApiKey, Market, Store

    out = io.StringIO()
    call_command("seed_demo", "--force", stdout=out)
    call_command("seed_demo", "--force", stdout=out)
    assert Market.objects.count() == 2
    assert Store.objects.count() == 6
    assert ApiKey.objects.count() == 1
    assert set(Market.objects.values_list("slug", flat=True)) == {"nashville", "new-orleans"}
    text = out.getvalue()
    assert "SPARK_KEY=spk_" in text
    assert "ops / " in text
    assert "STORE_ID=" in text


@pytest.mark.django_db
def test_demo_api_key_works(client):
    from spark.demo.management.commands.seed_demo import DEMO_API_KEY

    call_command("seed_demo", "--force", stdout=io.StringIO())
    response = client.get("/api/v1/stores", HTTP_AUTHORIZATION=f"Bearer {DEMO_API_KEY}")
    assert response.status_code == 200
    assert len(response.json()) == 6


@pytest.mark.django_db
def test_every_admin_changelist_and_add_page_renders_for_ops(admin_client, store):
    from django.contrib import admin
    from django.urls import reverse

    from tests.orders.helpers import make_order

    make_order(store)
    for model, _model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        changelist = admin_client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert changelist.status_code == 200, info
        obj = model.objects.first()
        if obj is not None:
            change = admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
            assert change.status_code == 200, info


def test_api_docs_are_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "unpkg" not in html.lower()

"""Test settings overrides and shared fixtures. Tests run on PostgreSQL (`make test`)."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import MarketFactory, MerchantFactory, StoreFactory


@pytest.fixture(autouse=True)
def _test_settings(settings):  # noqa: PT004 (autouse fixture configuring settings)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.SPARK_OPS_2FA = False  # on in production; tests/platform/test_ops_2fa.py turns it on
    from spark.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    from django.core.cache import cache

    cache.clear()  # throttles and flags kept in the cache must not leak between tests
    from orders.services import webhooks

    webhooks._next_kick_at = webhooks._trailing_for = 0.0
    from drivers import selectors as driver_selectors

    driver_selectors._DRIVER_ID_BY_USER.clear()  # ids may repeat across test databases
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def market(db):
    return MarketFactory()


@pytest.fixture
def merchant(db):
    return MerchantFactory()


@pytest.fixture
def store(db, market, merchant):
    return StoreFactory(market=market, merchant=merchant)


def api_client_for(merchant) -> APIClient:
    from orders.services import api_key_create

    _, raw = api_key_create(merchant=merchant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(merchant):
    return api_client_for(merchant)


def pytest_report_header(config):
    return f"database: {settings.DATABASES['default']['ENGINE']}"


@pytest.fixture
def wire():
    """The messages the default connection sends to PostgreSQL, in order: one round trip each
    (spark.lib.postgresql sends a pending BEGIN and held writes with the next message). The
    statements in them are shown as prepared (lib_sql.readable); PREPAREs are left out."""
    from django.db import connection

    from spark.lib import sql as lib_sql
    from spark.lib.postgresql import base

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's round trips")
    sent: list[str] = []

    class Plain(base._PgCursor):
        def execute(self, query, vars=None):
            text = self.mogrify(query, vars).decode()
            sent.append(lib_sql.readable(text))
            return super().execute(query, vars)

    class Cursor(base._Cursor, Plain):
        pass

    connection.ensure_connection()
    raw = connection.connection
    saved = raw.cursor_factory, base._PgCursor
    raw.cursor_factory, base._PgCursor = Cursor, Plain
    try:
        yield sent
    finally:
        raw.cursor_factory, base._PgCursor = saved

"""A6: rate limits on the flows bots abuse. Accepting offers above the per-driver rate is 429
(each driver has a counter of its own, and the next window starts afresh); sign-ups above the
per-IP rate are 429. Time is frozen so that no window edge falls inside a test, and the
counters live in a Redis database of these tests' own: other test runs on the same server
flush theirs (tests/conftest.py clears the cache before every test)."""

import uuid
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.throttling import SimpleRateThrottle

from spark.lib import redis as spark_redis
from tests.security.checks import error_shape
from tests.security.conftest import api_client, page_client

pytestmark = pytest.mark.django_db

FROZEN_AT = "2031-03-05 12:00:05"  # far from the real clock: no other run shares the window


def _accept_limit() -> int:
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["offer_accept"]
    limit, period = SimpleRateThrottle.parse_rate(None, rate)  # uses no state
    assert period == 60
    return limit


PRIVATE_DB = 11


@pytest.fixture(autouse=True)
def _private_counters(settings):
    """The throttle's Redis and the cache on a database nobody else flushes; emptied first,
    as earlier runs of these tests left counters there."""
    if settings.REDIS_URL:
        url = urlsplit(settings.REDIS_URL)._replace(path=f"/{PRIVATE_DB}").geturl()
        redis.Redis.from_url(url).flushdb()
        settings.REDIS_URL = url
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        }
    spark_redis.client.cache_clear()
    yield
    spark_redis.client.cache_clear()


def _accept(client, offer_id: uuid.UUID):
    return client.post(f"/api/v1/driver/offers/{offer_id}/accept")


def test_offer_accept_above_the_rate_is_429_for_that_driver_only(world):
    limit = _accept_limit()
    a, b = api_client(world, "driver_a"), api_client(world, "driver_b")
    unknown = uuid.uuid4()  # an offer nobody has: 404 while under the limit
    with freeze_time(FROZEN_AT) as frozen:
        assert [_accept(a, unknown).status_code for _ in range(limit)] == [404] * limit
        over = _accept(a, unknown)
        assert over.status_code == 429
        assert error_shape(over) is None
        assert over.json()["error"]["code"] == "rate_limited"
        assert 0 < int(over["Retry-After"]) <= 60
        assert _accept(b, unknown).status_code == 404  # B's counter is B's own
        frozen.tick(60)
        assert _accept(a, unknown).status_code == 404  # a new minute, a new allowance


def test_offer_accept_through_the_portal_is_limited_too(world):
    limit = _accept_limit()
    client = page_client(world, "driver_a")
    with freeze_time(timezone.now()):  # now: the session must stay valid
        codes = [
            client.post(f"/driver/work/offers/{uuid.uuid4()}/accept").status_code
            for _ in range(limit + 1)
        ]
    assert set(codes) <= {404, 429}
    assert codes[-1] == 429


def test_signup_above_the_rate_is_429_per_ip(db):
    from drivers.views.account import SIGNUPS_PER_IP

    client = Client(REMOTE_ADDR="203.0.113.7")
    # Every post counts, valid or not: an empty form is 400 until the limit.
    with freeze_time(FROZEN_AT):
        codes = [client.post("/driver/signup/", {}).status_code for _ in range(SIGNUPS_PER_IP)]
        over = client.post("/driver/signup/", {})
    assert codes == [400] * SIGNUPS_PER_IP
    assert over.status_code == 429
    assert 0 < int(over["Retry-After"]) <= 3600
    assert "Too many sign-ups" in over.content.decode()
    assert client.get("/driver/signup/").status_code == 200  # the page itself stays open
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert other.post("/driver/signup/", {}).status_code == 400

"""Q2 without processes: what the API answers when Redis is unreachable (the full outage, with
gunicorn, a worker and a restarted Redis, is tests/chaos/test_outages.py in `make chaos`)."""

import pytest
from rest_framework.test import APIClient

from dispatch.auth import driver_token_for
from spark.lib import redis as redis_lib
from tests.chaos.procs import free_port
from tests.factories import MarketFactory

pytestmark = [pytest.mark.chaos, pytest.mark.django_db]


def test_location_ping_answers_503_with_retry_after_when_redis_is_unreachable(settings):
    market = MarketFactory()
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # the real client, no server
    redis_lib.client.cache_clear()
    client = APIClient()
    token = driver_token_for(driver_id=1, market_id=market.id)
    client.credentials(HTTP_AUTHORIZATION=f"Driver {token}")
    response = client.post("/api/v1/driver/location", {"lat": 36.16, "lng": -86.78}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"

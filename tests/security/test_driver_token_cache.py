"""Driver tokens are verified once per process and then looked up (P8), and a token that was
good stays refused once it expires or the signing key changes, as if it were checked anew."""

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from dispatch import auth
from dispatch.auth import MAX_AGE_SECONDS, driver_token_for
from tests.drivers.factories import approved_driver

pytestmark = pytest.mark.django_db
PING = {"lat": 36.16, "lng": -86.78}


def ping(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Driver {token}")
    return client.post("/api/v1/driver/location", PING, format="json")


@pytest.fixture
def driver():
    return approved_driver()


def test_a_good_token_is_verified_once_then_looked_up(driver, monkeypatch):
    checks = []

    class CountingSigner(signing.TimestampSigner):
        def unsign(self, value, max_age=None):
            checks.append(value)
            return super().unsign(value, max_age=max_age)

    monkeypatch.setattr(signing, "TimestampSigner", CountingSigner)
    token = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
    assert [ping(token).status_code for _ in range(3)] == [200, 200, 200]
    assert checks.count(token) == 1


def test_a_remembered_token_expires_on_time(driver):
    signed_at = timezone.now()
    with freeze_time(signed_at):
        token = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
        assert ping(token).status_code == 200
    with freeze_time(signed_at + timedelta(seconds=MAX_AGE_SECONDS - 5)):
        assert ping(token).status_code == 200
    with freeze_time(signed_at + timedelta(seconds=MAX_AGE_SECONDS + 5)):
        response = ping(token)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid or expired driver token."


def test_a_remembered_token_dies_with_its_signing_key(driver, settings):
    token = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
    assert ping(token).status_code == 200
    settings.SECRET_KEY = "a-rotated-key-" + "x" * 50
    assert ping(token).status_code == 401


def test_forged_tokens_are_never_remembered(driver):
    good = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
    forged = good[:-2] + ("xx" if not good.endswith("xx") else "yy")
    for _ in range(2):
        assert ping(forged).status_code == 401
    assert forged not in auth._verified

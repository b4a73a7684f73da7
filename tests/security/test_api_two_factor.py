"""The ops two-factor gate on the API: a staff session must verify its device before any API
call, whatever else the request carries; requests with no session (API keys, driver tokens)
skip the session lookup and are not gated (there is no staff session to gate)."""

import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from dispatch.auth import driver_token_for
from tests.drivers.factories import approved_driver

pytestmark = pytest.mark.django_db
PING = {"lat": 36.16, "lng": -86.78}


@pytest.fixture(autouse=True)
def _two_factor_on(settings):
    settings.SPARK_OPS_2FA = True


@pytest.fixture
def driver():
    return approved_driver()


@pytest.fixture
def staff_driver(driver):
    """A driver whose account is also staff: the portal's session reaches the driver API."""
    driver.user.is_staff = True
    driver.user.save(update_fields=["is_staff"])
    return driver


def token_header(driver) -> dict:
    token = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
    return {"Authorization": f"Driver {token}"}


def ping(client, **kwargs):
    return client.post("/api/v1/driver/location", PING, content_type="application/json", **kwargs)


def verify(client, user) -> None:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    response = client.post("/account/2fa/", {"token": f"{totp.token():06d}", "next": "/ops/"})
    assert response.status_code == 302


def test_an_unverified_staff_session_gets_403_from_the_api(staff_driver):
    client = Client()
    client.force_login(staff_driver.user)
    for response in (ping(client), client.get("/api/v1/driver/me"), client.get("/api/v1/orders")):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "two_factor_required"


def test_a_token_does_not_open_the_gate_for_a_staff_session_cookie(staff_driver):
    client = Client()
    client.force_login(staff_driver.user)
    response = ping(client, headers=token_header(staff_driver))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "two_factor_required"


def test_a_verified_staff_session_passes_the_gate(staff_driver):
    client = Client()
    client.force_login(staff_driver.user)
    verify(client, staff_driver.user)
    assert ping(client).status_code == 200


def test_token_requests_without_a_session_pass_without_one(driver):
    response = ping(Client(), headers=token_header(driver))
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


def test_a_stale_session_cookie_is_anonymous_and_not_gated(driver):
    client = Client()
    client.cookies["sessionid"] = "no-such-session-key-0123456789"
    assert ping(client, headers=token_header(driver)).status_code == 200
    unauthenticated = ping(client)
    assert unauthenticated.status_code in (401, 403)
    assert unauthenticated.json()["error"]["code"] != "two_factor_required"

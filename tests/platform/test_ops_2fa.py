"""Two-factor log-in for ops (django-otp TOTP): staff verify a device before the admin, the ops
console or any other page; drivers and store staff never meet it."""

import time
import uuid

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory
from tests.store.helpers import build_city

pytestmark = pytest.mark.django_db
VERIFY = "/account/2fa/"
SETUP = "/account/2fa/setup/"


@pytest.fixture(autouse=True)
def _two_factor_on(settings, tmp_path):
    settings.SPARK_OPS_2FA = True
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def ops(db):
    return UserFactory(username="ops-2fa", is_staff=True, is_superuser=True)


def device_for(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def code(device: TOTPDevice, steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():06d}"


def wrong_code(device: TOTPDevice) -> str:
    """A code no step inside the device's tolerance accepts."""
    near = {code(device, s) for s in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


def test_unverified_staff_are_sent_to_the_two_factor_step(client, ops):
    device_for(ops)
    client.force_login(ops)
    for page in ("/ops/", "/admin/", "/admin/orders/order/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == f"{VERIFY}?next={page.replace('/', '%2F')}"


def test_a_valid_code_lets_staff_into_the_admin_and_the_ops_console(client, ops):
    device = device_for(ops)
    client.force_login(ops)
    session_before = client.session.session_key

    response = client.post(VERIFY, {"token": code(device), "next": "/ops/"})

    assert response.status_code == 302
    assert response["Location"] == "/ops/"
    assert client.session.session_key != session_before  # a new id for the stronger session
    assert client.get("/ops/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_is_refused_and_the_gate_stays_shut(client, ops):
    device = device_for(ops)
    client.force_login(ops)

    response = client.post(VERIFY, {"token": wrong_code(device), "next": "/ops/"})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert client.get("/ops/")["Location"].startswith(VERIFY)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # django-otp slows down guessing


def test_a_used_code_cannot_be_replayed(client, ops):
    device = device_for(ops)
    token = code(device)
    client.force_login(ops)
    assert client.post(VERIFY, {"token": token})["Location"] == "/ops/"
    client.logout()

    client.force_login(ops)
    response = client.post(VERIFY, {"token": token})
    assert response.status_code == 200
    assert client.get("/ops/").status_code == 302


def test_first_log_in_enrols_a_device_with_its_secret_and_qr_code(client, ops):
    client.force_login(ops)
    assert client.get("/ops/")["Location"] == f"{SETUP}?next=%2Fops%2F"

    page = client.get(SETUP, {"next": "/ops/"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html
    assert 'aria-label="QR code for your authenticator app"' in html
    device = TOTPDevice.objects.get(user=ops, confirmed=False)
    assert page.context["secret"].replace(" ", "") in device.config_url
    assert "no-store" in page["Cache-Control"]

    response = client.post(SETUP, {"token": code(device), "next": "/ops/"})
    assert response["Location"] == "/ops/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/ops/").status_code == 200


def test_enrolling_again_needs_the_device_already_confirmed(client, ops):
    device_for(ops)
    client.force_login(ops)
    response = client.get(SETUP)
    assert response["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=ops).count() == 1


def test_the_step_never_redirects_off_site(client, ops):
    device = device_for(ops)
    client.force_login(ops)
    response = client.post(VERIFY, {"token": code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/ops/"


def test_unverified_staff_cannot_post_or_fetch_staff_only_files(client, ops):
    device_for(ops)
    client.force_login(ops)
    response = client.post("/admin/orders/order/", {"action": "delete_selected"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "two_factor_required"
    document = client.get(f"/driver/documents/{uuid.uuid4()}/file")
    assert document.status_code == 302
    assert document["Location"].startswith(VERIFY)


def test_drivers_and_store_staff_are_not_asked_for_a_second_factor(client):
    city = build_city()
    client.force_login(city.staff_a)
    board = client.get("/store/", follow=True)
    assert board.status_code == 200
    assert all(VERIFY not in url for url, _ in board.redirect_chain)
    assert client.get(VERIFY)["Location"] == "/ops/"  # nothing to verify: straight on
    client.force_login(city.driver.user)
    assert client.get("/driver/").status_code == 200
    assert client.get("/ops/").status_code == 403  # the ops console is still staff-only


def test_anonymous_visitors_log_in_first(client):
    response = client.get(VERIFY)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_requirement_can_be_switched_off_for_the_demo(client, ops, settings):
    settings.SPARK_OPS_2FA = False
    client.force_login(ops)
    assert client.get("/ops/").status_code == 200

"""The portal over HTTP: pages per state, BOLA between drivers (A1/A2), lock-out (A5), sign-up,
password reset, and the sandbox invitation clicked through."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse

from drivers.models import Appeal, Document, Driver
from tests.drivers import factories
from tests.factories import MarketFactory

pytestmark = pytest.mark.django_db

S = Driver.Status
PAGES = [
    "driver:home",
    "driver:profile",
    "driver:vehicle",
    "driver:documents",
    "driver:screening",
    "driver:screening_status",
    "driver:activity",
    "driver:appeals",
]


def _login(client, driver):
    client.force_login(driver.user)
    return client


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("page", PAGES)
def test_portal_page_renders_for_every_state(client, status, page):
    driver = factories.driver_in(status)
    response = _login(client, driver).get(reverse(page))
    assert response.status_code in (200, 286)
    assert "driver.css" in response.content.decode() or page == "driver:screening_status"


@pytest.mark.parametrize("status", [S.SUSPENDED, S.DEACTIVATED, S.REJECTED])
def test_home_shows_why_with_reason_and_evidence(client, status):
    driver = factories.driver_in(status)
    body = _login(client, driver).get(reverse("driver:home")).content.decode()
    assert f"Test reason for {status}." in body
    if status != S.REJECTED:
        assert "Ticket 42" in body
        assert "Appeal this decision" in body


@pytest.mark.parametrize("page", PAGES + ["driver:signup"])
def test_anonymous_is_redirected_to_the_driver_login(client, page):
    response = client.get(reverse(page))
    if page == "driver:signup":
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("driver:login"))


def test_user_without_driver_profile_gets_404(client):
    client.force_login(factories.DriverUserFactory())
    assert client.get(reverse("driver:home")).status_code == 404


# --- BOLA: driver B never reaches driver A's rows -------------------------------------------


@pytest.fixture
def two_drivers():
    a = factories.driver_in(S.SUSPENDED)
    b = factories.driver_in(S.SUSPENDED)
    factories.BackgroundCheckFactory(driver=a, invitation_id="sbx_inv_a")
    decision = a.events.get(to_status=S.SUSPENDED)
    appeal = Appeal.objects.create(driver=a, event=decision, text="x" * 30, filed_at=decision.at)
    return a, b, appeal


def _foreign_urls(a, appeal):
    document = a.documents.first()
    decision = a.events.get(to_status=S.SUSPENDED)
    return [
        ("get", reverse("driver:document_file", kwargs={"public_id": document.public_id})),
        ("get", reverse("driver:appeal_detail", kwargs={"appeal_id": appeal.id})),
        ("get", reverse("driver:appeal_new", kwargs={"event_id": decision.id})),
        ("post", reverse("driver:appeal_new", kwargs={"event_id": decision.id})),
        ("get", reverse("driver:screening_sandbox", kwargs={"invitation_id": "sbx_inv_a"})),
        ("post", reverse("driver:screening_sandbox", kwargs={"invitation_id": "sbx_inv_a"})),
    ]


def test_driver_b_gets_404_on_every_url_of_driver_a(client, two_drivers):
    a, b, appeal = two_drivers
    _login(client, b)
    for method, url in _foreign_urls(a, appeal):
        response = getattr(client, method)(url, {"text": "I want in " * 5})
        assert response.status_code == 404, url
    assert Appeal.objects.count() == 1  # b filed nothing against a's decision


def test_driver_a_reaches_own_rows(client, two_drivers):
    a, _, appeal = two_drivers
    _login(client, a)
    document = a.documents.first()
    assert (
        client.get(reverse("driver:appeal_detail", kwargs={"appeal_id": appeal.id})).status_code
        == 200
    )
    url = reverse("driver:document_file", kwargs={"public_id": document.public_id})
    assert client.get(url).status_code == 200


def test_document_file_for_anonymous_redirects_and_for_staff_needs_permission(client, two_drivers):
    a, _, _ = two_drivers
    url = reverse("driver:document_file", kwargs={"public_id": a.documents.first().public_id})
    response = client.get(url)
    assert response.status_code == 302
    assert "/driver/login/" in response["Location"]

    staff = factories.DriverUserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 404
    staff.user_permissions.add(Permission.objects.get(codename="view_document"))
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_document_ids_are_uuids_not_sequential(approved_driver):
    url = reverse(
        "driver:document_file", kwargs={"public_id": approved_driver.documents.first().public_id}
    )
    assert re.search(r"/documents/[0-9a-f-]{36}/file$", url)


# --- Sign-up, log-in, lock-out, password reset ----------------------------------------------


def test_signup_creates_applied_driver_and_logs_in(client):
    market = MarketFactory()
    response = client.post(
        reverse("driver:signup"),
        {
            "first_name": "Nia",
            "last_name": "Ortiz",
            "email": "Nia@Example.com",
            "phone": "+1 615 555 0100",
            "home_market": market.id,
            "password1": "correct-horse-battery",
            "password2": "correct-horse-battery",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("driver:home")
    driver = Driver.objects.get(user__email="nia@example.com")
    assert driver.status == S.APPLIED
    assert driver.home_market == market
    assert client.get(reverse("driver:home")).status_code == 200


def test_signup_rejects_weak_password_and_duplicate_email(client, driver):
    market = MarketFactory()
    data = {
        "first_name": "X",
        "last_name": "Y",
        "email": driver.user.email,
        "phone": "1",
        "home_market": market.id,
        "password1": "123",
        "password2": "123",
    }
    response = client.post(reverse("driver:signup"), data)
    assert response.status_code == 400
    data.update(password1="correct-horse-battery", password2="correct-horse-battery")
    response = client.post(reverse("driver:signup"), data)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def _login_post(client, username, password, ip="10.0.0.1"):
    return client.post(
        reverse("driver:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def test_login_with_right_password_works(driver):
    client = Client()
    response = _login_post(client, driver.user.username, "pw-for-tests-1")
    assert response.status_code == 302
    assert response["Location"] == reverse("driver:home")


def test_three_failures_lock_the_username_and_ip_even_with_the_right_password(driver):
    client = Client()
    for _ in range(2):
        assert _login_post(client, driver.user.username, "wrong").status_code == 400
    assert _login_post(client, driver.user.username, "wrong").status_code == 429
    locked = _login_post(client, driver.user.username, "pw-for-tests-1")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session

    # Keyed on username AND ip: the same user from elsewhere, and others here, still log in.
    assert (
        _login_post(Client(), driver.user.username, "pw-for-tests-1", ip="10.0.0.2").status_code
        == 302
    )
    other = factories.DriverFactory()
    assert _login_post(Client(), other.user.username, "pw-for-tests-1").status_code == 302


def test_changing_the_case_of_the_username_does_not_escape_the_lock(driver):
    client = Client()
    name = driver.user.username
    for variant in (name.upper(), name.title(), f"  {name}  "):
        _login_post(client, variant, "wrong")
    assert _login_post(client, name, "pw-for-tests-1").status_code == 429


def test_lockout_ends_after_the_cool_off(driver, settings):
    from datetime import timedelta

    from freezegun import freeze_time

    client = Client()
    for _ in range(3):
        _login_post(client, driver.user.username, "wrong")
    with freeze_time(timedelta(minutes=16), tick=True):
        # freezegun moves time forward relative to now
        assert _login_post(Client(), driver.user.username, "pw-for-tests-1").status_code == 302


def test_spoofed_forwarded_for_does_not_pick_a_new_lock_bucket(driver):
    client = Client()
    for n in range(3):
        client.post(
            reverse("driver:login"),
            {"username": driver.user.username, "password": "wrong"},
            REMOTE_ADDR="10.0.0.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    response = client.post(
        reverse("driver:login"),
        {"username": driver.user.username, "password": "pw-for-tests-1"},
        REMOTE_ADDR="10.0.0.9",
        HTTP_X_FORWARDED_FOR="192.0.2.77",
    )
    assert response.status_code == 429


def test_password_reset_flow(client, driver, mailoutbox):
    response = client.post(reverse("driver:password_reset"), {"email": driver.user.email})
    assert response["Location"] == reverse("driver:password_reset_done")
    (message,) = mailoutbox
    link = re.search(r"http://testserver(/driver/password-reset/\S+/)", message.body)[1]
    response = client.get(link, follow=True)
    assert response.status_code == 200
    assert "Choose a new password" in response.content.decode()
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-pass-9", "new_password2": "a-brand-new-pass-9"},
    )
    assert response["Location"] == reverse("driver:password_reset_complete")
    driver.user.refresh_from_db()
    assert driver.user.check_password("a-brand-new-pass-9")


def test_logout_is_post_only(client, driver):
    _login(client, driver)
    assert client.get(reverse("driver:logout")).status_code == 405
    assert client.post(reverse("driver:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


# --- Onboarding through the pages -----------------------------------------------------------


def test_profile_requires_age_confirmation_and_never_asks_birth_date(client):
    driver = factories.DriverFactory(age_attested_at=None, is_21_plus=False)
    _login(client, driver)
    page = client.get(reverse("driver:profile")).content.decode()
    assert "birth" not in re.sub(r"<p class=\"muted small\">.*?</p>", "", page, flags=re.S).lower()
    data = {
        "phone": "+1 615 555 0111",
        "home_market": driver.home_market_id,
        "age_bracket": "21_plus",
    }
    assert client.post(reverse("driver:profile"), data).status_code == 400
    response = client.post(reverse("driver:profile"), {**data, "age_confirm": "on"})
    assert response.status_code == 302
    driver.refresh_from_db()
    assert driver.is_21_plus
    assert driver.age_attested_at is not None


def test_vehicle_page_saves_and_moves_to_documents(client):
    driver = factories.DriverFactory()
    _login(client, driver)
    data = {
        "vehicle_type": "suv",
        "make": "Honda",
        "model": "CR-V",
        "year": 2021,
        "plate": "abc 123",
    }
    assert client.post(reverse("driver:vehicle"), data).status_code == 302
    driver.refresh_from_db()
    assert driver.status == S.DOCUMENTS_PENDING
    assert (driver.vehicle.cargo_capacity_units, driver.vehicle.plate) == (20, "ABC 123")


def test_screening_consent_then_sandbox_submit_completes_the_check(
    client, django_capture_on_commit_callbacks
):
    driver = factories.driver_in(S.DOCUMENTS_PENDING)
    factories.documents_for(driver, Document.Status.APPROVED)
    _login(client, driver)
    assert client.post(reverse("driver:screening"), {}).status_code == 400  # consent required
    response = client.post(reverse("driver:screening"), {"consent": "on"})
    check = driver.checks.get()
    assert response.status_code == 302
    assert response["Location"] == check.invitation_url
    sandbox_url = reverse("driver:screening_sandbox", kwargs={"invitation_id": check.invitation_id})
    assert "I consent and submit" in client.get(sandbox_url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(sandbox_url).status_code == 302
    driver.refresh_from_db()
    assert driver.status == S.APPROVED
    status = client.get(reverse("driver:screening_status"))
    assert status.status_code == 286  # htmx stops polling once the check is done


def test_appeal_filed_once_through_the_page(client):
    driver = factories.driver_in(S.DEACTIVATED)
    decision = driver.events.get(to_status=S.DEACTIVATED)
    _login(client, driver)
    url = reverse("driver:appeal_new", kwargs={"event_id": decision.id})
    assert client.post(url, {"text": "too short"}).status_code == 400
    response = client.post(url, {"text": "I was not driving that day; here is why. " * 2})
    appeal = Appeal.objects.get()
    assert response["Location"] == reverse("driver:appeal_detail", kwargs={"appeal_id": appeal.id})
    assert client.get(url).status_code == 404  # one appeal per decision
    assert "Your appeal: open" in client.get(reverse("driver:home")).content.decode()
    assert mail.outbox == []  # e-mails go after commit (not in this test transaction)

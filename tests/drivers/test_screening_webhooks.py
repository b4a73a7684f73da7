"""W1 (signatures), W2 (dedupe, also concurrent), W3 (forward only) for screening webhooks."""

import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from drivers import services
from drivers.models import BackgroundCheck, Document, Driver, DriverEvent, InboundWebhook
from drivers.screening import checkr, sandbox
from spark.lib import signing
from spark.lib.actors import Actor
from tests.drivers import factories

pytestmark = pytest.mark.django_db

URL = reverse("screening_webhook", kwargs={"provider": "sandbox"})
CHECKR_URL = reverse("screening_webhook", kwargs={"provider": "checkr"})


def _event(check, event_type="report.completed", event_id="evt_1", **obj):
    kind = event_type.partition(".")[0]
    data = {"id": check.invitation_id if kind == "invitation" else "rpt_1", "object": kind}
    data.update({"candidate_id": check.candidate_id, **obj})
    if event_type == "report.completed":
        data.setdefault("status", "complete")
        data.setdefault("result", "clear")
    return json.dumps(
        {"id": event_id, "object": "event", "type": event_type, "data": {"object": data}}
    ).encode()


def _post(client, body, header, url=URL, name=sandbox.SIGNATURE_HEADER):
    headers = {name: header} if header is not None else {}
    return client.post(url, body, content_type="application/json", headers=headers)


def _signed(body, secret=None, timestamp=None, settings=None):
    secret = secret or settings.SCREENING_SANDBOX_WEBHOOK_SECRETS[0]
    return signing.sign([secret], body, timestamp=timestamp)


def _invited_check():
    """A driver in screening whose check waits for the provider (documents in review)."""
    driver = factories.driver_in(Driver.Status.SCREENING)
    driver.checks.all().delete()
    return factories.BackgroundCheckFactory(driver=driver)


@pytest.fixture
def check(db):
    return _invited_check()


def test_valid_signature_is_accepted_and_applied(client, check, settings):
    body = _event(check)
    response = _post(client, body, _signed(body, settings=settings))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    check.refresh_from_db()
    assert (check.status, check.result) == ("complete", "clear")


@pytest.mark.parametrize(
    "tamper",
    ["missing", "garbage", "wrong secret", "mutated body", "mutated signature", "no v1"],
)
def test_bad_signature_is_rejected_with_4xx_and_no_effect(client, check, settings, tamper):
    body = _event(check)
    header = _signed(body, settings=settings)
    if tamper == "missing":
        header = None
    elif tamper == "garbage":
        header = "nonsense"
    elif tamper == "wrong secret":
        header = _signed(body, secret="not-our-secret")
    elif tamper == "mutated body":
        body = body.replace(b'"clear"', b'"clean"')  # one byte changed
        assert len(body) == len(_event(check))
    elif tamper == "mutated signature":
        t, _, v1 = header.partition(",v1=")
        v1 = ("0" if v1[0] != "0" else "1") + v1[1:]
        header = f"{t},v1={v1}"
    elif tamper == "no v1":
        header = header.partition(",")[0]

    response = _post(client, body, header)

    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == "invalid_signature"
    check.refresh_from_db()
    assert check.status == BackgroundCheck.Status.INVITED
    assert not InboundWebhook.objects.exists()


@pytest.mark.parametrize(
    ("age", "accepted"), [(301, False), (299, True), (-299, True), (-301, False)]
)
def test_signature_timestamp_tolerance_is_300_seconds(client, check, settings, age, accepted):
    body = _event(check)
    with freeze_time("2026-11-25 12:00:00"):  # whole seconds: no clock tick between the two
        header = _signed(body, timestamp=int(time.time()) - age, settings=settings)
        response = _post(client, body, header)
    assert (response.status_code == 200) is accepted
    if not accepted:
        assert response.status_code == 400


def test_both_secrets_are_accepted_during_rotation(client, check, settings):
    settings.SCREENING_SANDBOX_WEBHOOK_SECRETS = ["new-secret", "old-secret"]
    old = _event(check, event_id="evt_old", event_type="invitation.completed")
    new = _event(check, event_id="evt_new")
    assert _post(client, old, _signed(old, secret="old-secret")).status_code == 200
    assert _post(client, new, _signed(new, secret="new-secret")).status_code == 200
    assert InboundWebhook.objects.count() == 2


def test_unknown_or_disabled_provider_is_404(client, check, settings):
    body = _event(check)
    url = reverse("screening_webhook", kwargs={"provider": "acme"})
    assert _post(client, body, _signed(body, settings=settings), url=url).status_code == 404
    assert _post(client, body, "x", url=CHECKR_URL).status_code == 404  # USE_CHECKR off


def test_authentic_but_malformed_body_is_400(client, check, settings):
    body = b'{"not": "an event"}'
    response = _post(client, body, _signed(body, settings=settings))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"


def test_event_for_unknown_check_is_acknowledged(client, check, settings):
    body = json.dumps(
        {"id": "evt_x", "type": "report.completed", "data": {"object": {"id": "rpt_zz"}}}
    ).encode()
    assert _post(client, body, _signed(body, settings=settings)).status_code == 200
    check.refresh_from_db()
    assert check.status == BackgroundCheck.Status.INVITED


# --- Checkr's scheme: X-Checkr-Signature = hex HMAC-SHA256(body, api key) ---------------


@pytest.fixture
def checkr_on(settings):
    settings.USE_CHECKR = True
    settings.CHECKR_API_KEY = "test_api_key"
    settings.CHECKR_WEBHOOK_SECRETS = ["test_api_key"]


def test_checkr_signature_accepted_and_mutations_rejected(client, check, checkr_on, settings):
    check.provider = "checkr"
    check.save()
    body = _event(check)
    good = checkr.signature("test_api_key", body)
    name = checkr.SIGNATURE_HEADER
    mutated = ("f" if good[0] != "f" else "e") + good[1:]
    for header in (None, "", mutated, checkr.signature("other", body), good.upper()[:-1]):
        response = _post(client, body, header, url=CHECKR_URL, name=name)
        assert response.status_code == 400
    response = _post(client, body[:-1] + b" ", good, url=CHECKR_URL, name=name)
    assert response.status_code == 400
    assert _post(client, body, good, url=CHECKR_URL, name=name).status_code == 200
    check.refresh_from_db()
    assert check.status == "complete"


def test_checkr_accepts_old_and_new_key_during_rotation(client, check, checkr_on, settings):
    settings.CHECKR_WEBHOOK_SECRETS = ["new_key", "old_key"]
    check.provider = "checkr"
    check.save()
    for n, key in enumerate(("old_key", "new_key")):
        body = _event(check, event_id=f"evt_{n}")
        header = checkr.signature(key, body)
        response = _post(client, body, header, url=CHECKR_URL, name=checkr.SIGNATURE_HEADER)
        assert response.status_code == 200


# --- W2: duplicates ---------------------------------------------------------------------


def test_same_event_five_times_has_its_effects_once(
    client, check, settings, django_capture_on_commit_callbacks, mailoutbox
):
    body = _event(check)
    header = _signed(body, settings=settings)
    with django_capture_on_commit_callbacks(execute=True):
        responses = [_post(client, body, header) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert [r.json()["duplicate"] for r in responses] == [False, True, True, True, True]
    assert InboundWebhook.objects.count() == 1
    assert DriverEvent.objects.filter(code="screening_completed").count() == 1
    assert [m.subject for m in mailoutbox].count("Your background check is complete") == 1


@pytest.mark.django_db(transaction=True)
def test_same_event_delivered_concurrently_has_its_effects_once(settings):
    if connection.vendor != "postgresql":
        pytest.skip("thread races need PostgreSQL")
    check = _invited_check()
    driver = check.driver
    body = _event(check)
    header = _signed(body, settings=settings)
    barrier, results = threading.Barrier(5), []

    def deliver():
        try:
            barrier.wait()
            response = _post(Client(), body, header)
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [200] * 5
    assert InboundWebhook.objects.count() == 1
    assert DriverEvent.objects.filter(driver=driver, code="screening_completed").count() == 1
    check.refresh_from_db()
    assert (check.status, check.adjudication) == ("complete", "engaged")


# --- W3: out of order -------------------------------------------------------------------


def test_out_of_order_events_never_move_the_check_backward(client, check, settings):
    completed = _event(check, "report.completed", "evt_3")
    created = _event(check, "report.created", "evt_2", status="pending")
    invited = _event(check, "invitation.completed", "evt_1", status="completed")
    for body in (completed, created, invited):
        assert _post(client, body, _signed(body, settings=settings)).status_code == 200
    check.refresh_from_db()
    assert (check.status, check.result, check.report_id) == ("complete", "clear", "rpt_1")
    assert check.invitation_completed_at is not None  # late news still fills in the blanks
    assert DriverEvent.objects.filter(code="screening_completed").count() == 1


def test_late_event_cannot_reopen_the_check_or_undo_an_approved_driver(client, check, settings):
    Document.objects.filter(driver=check.driver).update(status="approved")
    done = _event(check, "report.completed", "evt_a")
    _post(client, done, _signed(done, settings=settings))
    check.driver.refresh_from_db()
    assert check.driver.status == Driver.Status.APPROVED
    late = _event(check, "report.created", "evt_b", status="pending")
    _post(client, late, _signed(late, settings=settings))
    check.refresh_from_db()
    check.driver.refresh_from_db()
    assert check.status == "complete"
    assert check.driver.status == Driver.Status.APPROVED


def test_invitation_expired_lets_the_driver_start_again(client, check, settings):
    body = _event(check, "invitation.expired", "evt_e", status="expired")
    _post(client, body, _signed(body, settings=settings))
    check.refresh_from_db()
    assert check.status == BackgroundCheck.Status.EXPIRED
    assert DriverEvent.objects.filter(code="screening_canceled").exists()
    again = services.background_check_start(driver_id=check.driver_id, actor=Actor.system("t"))
    assert again.id != check.id
    assert again.candidate_id == check.candidate_id


def test_sandbox_really_posts_signed_webhooks_in_http_mode(settings, monkeypatch, check):
    """In `make run` the sandbox POSTs to SITE_URL; here the POST goes to the test client."""
    settings.SCREENING_SANDBOX_DELIVERY = "http"
    client = Client()
    posted = []

    def fake_post(url, data, headers, timeout):
        assert url == settings.SITE_URL + URL
        response = client.post(URL, data, content_type="application/json", headers=headers)
        posted.append(response.status_code)

        class R:
            def raise_for_status(self):
                assert response.status_code == 200

        return R()

    monkeypatch.setattr(sandbox.requests, "post", fake_post)
    assert (
        services.sandbox_report_run(
            invitation_id=check.invitation_id, candidate_id=check.candidate_id
        )
        == 3
    )
    assert posted == [200, 200, 200]
    check.refresh_from_db()
    assert (check.status, check.result) == ("complete", "clear")

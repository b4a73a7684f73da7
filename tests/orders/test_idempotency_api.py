"""RELIABILITY.md rows I1-I5: Idempotency-Key with Stripe's rules on POST /api/v1/orders."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from freezegun import freeze_time

from orders.models import IdempotencyKey, Order
from tests.conftest import api_client_for
from tests.factories import MarketFactory, MerchantFactory, StoreFactory
from tests.orders.helpers import order_payload

pytestmark = pytest.mark.django_db


def _post(client, payload, key):
    return client.post("/api/v1/orders", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_body_ten_times_gives_one_order_and_identical_responses(api, store):
    """I1"""
    responses = [_post(api, order_payload(store), "key-i1") for _ in range(10)]
    assert Order.objects.count() == 1
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert responses[0]["Idempotent-Replayed"] == "false"
    assert all(r["Idempotent-Replayed"] == "true" for r in responses[1:])


def test_same_key_with_another_body_is_422_and_writes_nothing(api, store):
    """I2"""
    _post(api, order_payload(store), "key-i2")
    response = _post(api, order_payload(store, external_order_id="EXT-OTHER"), "key-i2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_mismatch"
    assert Order.objects.count() == 1


def test_domain_errors_are_stored_and_replayed(api, store):
    payload = order_payload(store, dropoff_lat=40.7, dropoff_lng=-74.0)
    first = _post(api, payload, "key-422")
    second = _post(api, payload, "key-422")
    assert first.status_code == second.status_code == 422
    assert first.content == second.content


def test_validation_errors_are_not_stored(api, store):
    bad = order_payload(store, tip_cents=-1)
    assert _post(api, bad, "key-400").status_code == 400
    assert not IdempotencyKey.objects.filter(key="key-400").exists()
    # the client fixes the body and retries with the same key: it runs
    assert _post(api, order_payload(store), "key-400").status_code == 201


def test_over_long_key_is_400(api, store):
    response = _post(api, order_payload(store), "k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]


def test_expired_key_runs_as_a_new_request(api, store):
    """I5: keys are kept 24 h; after that the same key is a new request."""
    with freeze_time("2026-01-01 12:00:00"):
        first = _post(api, order_payload(store, external_order_id="A"), "key-i5")
    with freeze_time("2026-01-02 12:00:01"):
        second = _post(api, order_payload(store, external_order_id="B"), "key-i5")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_key_within_24_hours_still_replays(api, store):
    with freeze_time("2026-01-01 12:00:00"):
        first = _post(api, order_payload(store), "key-23h")
    with freeze_time("2026-01-02 11:59:00"):
        second = _post(api, order_payload(store, external_order_id="OTHER"), "key-23h")
    assert first.status_code == 201
    assert second.status_code == 422  # same key, other body, still within the window


def test_keys_are_scoped_per_merchant(store):
    """I5: client B never sees client A's cached response."""
    a = api_client_for(store.merchant)
    other_store = StoreFactory(merchant=MerchantFactory(), market=MarketFactory())
    b = api_client_for(other_store.merchant)
    ra = _post(a, order_payload(store), "shared-key")
    rb = _post(b, order_payload(other_store), "shared-key")
    assert (ra.status_code, rb.status_code) == (201, 201)
    assert ra.json()["id"] != rb.json()["id"]
    assert rb.json()["store_id"] == str(other_store.public_id)


@pytest.mark.django_db(transaction=True)
def test_a_twin_running_with_the_same_key_gets_409(store):
    """While one request holds the key, a concurrent one is told to retry, not run twice."""
    from django.db import transaction as tx

    from spark.lib.db import try_advisory_xact_lock

    api = api_client_for(store.merchant)
    holding, release = threading.Event(), threading.Event()

    def twin():
        with tx.atomic():
            assert try_advisory_xact_lock(f"idem:{store.merchant.id}:busy")
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=twin)
    thread.start()
    holding.wait(10)
    try:
        response = _post(api, order_payload(store), "busy")
    finally:
        release.set()
        thread.join()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"
    assert not IdempotencyKey.objects.filter(key="busy").exists()
    assert _post(api, order_payload(store), "busy").status_code == 201


def test_a_request_that_crashes_leaves_no_key_behind(api, store, monkeypatch):
    from orders import services

    def boom(**kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(services, "order_create", boom)
    with pytest.raises(RuntimeError):
        _post(api, order_payload(store), "crash")
    assert not IdempotencyKey.objects.filter(key="crash").exists()
    assert Order.objects.count() == 0
    monkeypatch.undo()
    assert _post(api, order_payload(store), "crash").status_code == 201


def test_purge_removes_keys_older_than_a_day(api, store):
    from orders import services

    with freeze_time("2026-01-01 12:00:00"):
        _post(api, order_payload(store), "old")
    with freeze_time("2026-01-01 12:00:00") as frozen:
        frozen.tick(timedelta(hours=25))
        assert services.idempotency_keys_purge() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_order(store):
    """I3: 50 concurrent requests with the same key and body."""
    client_count = 50
    payload = order_payload(store)
    from orders.services import api_key_create

    _, raw = api_key_create(merchant=store.merchant)
    barrier = threading.Barrier(client_count)
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def worker():
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        barrier.wait()
        try:
            r = _post(client, payload, "storm")
            with lock:
                results.append((r.status_code, r.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(client_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Order.objects.count() == 1
    codes = [c for c, _ in results]
    assert len(codes) == client_count
    assert all(c in (201, 409) for c in codes), codes
    assert codes.count(201) >= 1
    created = {body for code, body in results if code == 201}
    assert len(created) == 1
    # a later retry gets the original 201, byte for byte
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    again = _post(client, payload, "storm")
    assert again.status_code == 201
    assert again.content in created

"""Webhooks to shops: outbox, signature (W1, checked by an independent verifier), retries with
backoff, dead letters, replay, per-order ordering, SSRF guard, and Q5 (enqueue after commit)."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import transaction
from freezegun import freeze_time

from orders import services, tasks
from orders.models import Order, WebhookDelivery, WebhookEvent
from orders.services import webhooks
from spark.lib.actors import Actor
from spark.lib.errors import Unprocessable
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP server on loopback standing in for the shop's webhook endpoint."""

    def __init__(self, fail_first: int = 0, status: int = 200):
        self.requests: list[tuple[dict, bytes]] = []
        self.fail_first = fail_first
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = 500 if len(receiver.requests) <= receiver.fail_first else receiver.status
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[dict]:
        return [json.loads(b) for _, b in self.requests]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def independent_verify(header: str, body: bytes, secret: str, tolerance: int = 300) -> bool:
    """What a shop writes from the README, with no Spark code: parse t and v1, HMAC, compare."""
    parts = [p.split("=", 1) for p in header.split(",")]
    t = next(v for k, v in parts if k == "t")
    v1s = [v for k, v in parts if k == "v1"]
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(t)) <= tolerance
    return fresh and any(hmac.compare_digest(expected, v) for v in v1s)


def _endpoint(store, url):
    return services.webhook_endpoint_create(merchant=store.merchant, url=url)


def test_order_events_reach_the_shop_signed_and_in_order(store, receiver):
    endpoint = _endpoint(store, receiver.url)
    make_order(store, Order.Status.DRIVER_ASSIGNED)
    services.webhook_deliveries_send(time_budget_seconds=5)
    bodies = receiver.bodies()
    order = Order.objects.get()
    assert [b["type"] for b in bodies] == [f"order.{e.to_status}" for e in order.events.all()]
    assert bodies[-1]["type"] == "order.driver_assigned"
    for headers, raw in receiver.requests:
        assert independent_verify(headers["Spark-Signature"], raw, endpoint.secret)
        assert not independent_verify(headers["Spark-Signature"], raw, "whsec_wrong")
        assert not independent_verify(headers["Spark-Signature"], raw + b" ", endpoint.secret)
    assert len({b["id"] for b in bodies}) == len(bodies)
    assert all(b["data"]["order"]["id"] for b in bodies)


def test_every_transition_writes_an_outbox_row_in_the_same_transaction(store):
    _endpoint(store, "https://shop.example.com/hooks")
    order = make_order(store)

    def change_then_fail():
        with transaction.atomic():
            services.order_transition(
                order_id=order.id, to=Order.Status.READY_FOR_PICKUP, actor=Actor.system("t")
            )
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert WebhookEvent.objects.filter(order=order).count() == 1  # only order.created
    assert WebhookDelivery.objects.filter(order=order).count() == 1


def test_a_new_order_of_a_shop_without_an_endpoint_records_its_event_and_wakes_no_relay(
    store, django_capture_on_commit_callbacks
):
    """The store's read says the merchant has no active endpoint: the order.created event is
    kept, no delivery is looked for, and the relay is left asleep."""
    with (
        mock.patch("orders.tasks.webhook_deliveries_send.apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        order = make_order(store)
    assert enqueue.call_count == 0
    assert list(WebhookEvent.objects.filter(order=order).values_list("type", flat=True)) == [
        "order.created"
    ]
    assert not WebhookDelivery.objects.exists()
    _endpoint(store, "https://shop.example.com/hooks")
    with (
        mock.patch("orders.tasks.webhook_deliveries_send.apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        second = make_order(store, external_order_id="SECOND")
    assert enqueue.call_count == 1
    assert WebhookDelivery.objects.filter(order=second).count() == 1


def test_relay_task_is_enqueued_only_after_commit(store, django_capture_on_commit_callbacks):
    """Q5"""
    _endpoint(store, "https://shop.example.com/hooks")
    with mock.patch("orders.tasks.webhook_deliveries_send.apply_async") as enqueue:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            make_order(store)
        assert enqueue.call_count == 0
        for cb in callbacks:
            cb()
        assert enqueue.call_count >= 1
        enqueue.reset_mock()

        def create_then_fail():
            with transaction.atomic():
                make_order(store, external_order_id="ROLLED-BACK")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            create_then_fail()
        assert enqueue.call_count == 0


def test_a_change_in_the_second_after_a_kick_queues_one_trailing_run(monkeypatch):
    """The relay is woken at once at most once a second per process; what changes in that
    second is sent by one run a second later, not left to the beat five seconds later."""
    now = [100.0]
    monkeypatch.setattr(webhooks, "time", SimpleNamespace(monotonic=lambda: now[0]))
    queued = []
    task = tasks.webhook_deliveries_send
    monkeypatch.setattr(task, "delay", lambda: queued.append(("at once", now[0])))
    monkeypatch.setattr(task, "apply_async", lambda **kw: queued.append(("in", kw["countdown"])))
    for at in (100.0, 100.2, 100.5, 100.9, 101.0, 101.3, 103.0):  # a change commits at each
        now[0] = at
        webhooks._kick_relay()
    assert queued == [
        ("at once", 100.0),
        ("in", webhooks.RELAY_KICK_INTERVAL_SECONDS),  # for 100.2, 100.5 and 100.9
        ("at once", 101.0),
        ("in", webhooks.RELAY_KICK_INTERVAL_SECONDS),  # for 101.3
        ("at once", 103.0),
    ]


def test_failed_delivery_retries_with_growing_backoff_then_succeeds(store):
    flaky = Receiver(fail_first=2)
    try:
        _endpoint(store, flaky.url)
        make_order(store)
        delivery = WebhookDelivery.objects.get()
        services.webhook_deliveries_send(time_budget_seconds=5)
        delivery.refresh_from_db()
        assert delivery.status == "pending"
        assert delivery.attempts == 1
        first_wait = delivery.next_attempt_at
        with freeze_time(first_wait + timedelta(seconds=1)):
            services.webhook_deliveries_send(time_budget_seconds=5)
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_attempt_at - first_wait > timedelta(seconds=4)
        with freeze_time(delivery.next_attempt_at + timedelta(seconds=1)):
            services.webhook_deliveries_send(time_budget_seconds=5)
        delivery.refresh_from_db()
        assert delivery.status == "succeeded"
        assert delivery.attempts == 3
        assert delivery.log.count() == 3
        assert len({json.loads(b)["id"] for _, b in flaky.requests}) == 1
    finally:
        flaky.close()


def test_backoff_grows_exponentially_and_is_capped():
    import random

    rng = random.Random(1)
    ceilings = [webhooks.backoff_seconds(n, rng) for n in range(1, 15)]
    assert 5 <= ceilings[0] <= 10
    assert 40 <= ceilings[3] <= 80
    assert max(ceilings) <= 3600


def test_delivery_is_dead_after_the_retry_window_and_can_be_replayed(
    store, django_capture_on_commit_callbacks
):
    down = Receiver(status=503)
    try:
        _endpoint(store, down.url)
        make_order(store)
        delivery = WebhookDelivery.objects.get()
        with freeze_time(delivery.created_at + timedelta(hours=23, minutes=59, seconds=58)):
            services.webhook_deliveries_send(time_budget_seconds=5)
        delivery.refresh_from_db()
        assert delivery.status == "dead"
        assert delivery.last_status_code == 503
        down.status = 200
        with django_capture_on_commit_callbacks(execute=True):
            services.webhook_delivery_replay(delivery_id=delivery.id)
        delivery.refresh_from_db()
        assert delivery.status == "succeeded"
    finally:
        down.close()


def test_a_dead_delivery_does_not_block_later_events_of_the_order(store, receiver):
    _endpoint(store, receiver.url)
    order = make_order(store)
    WebhookDelivery.objects.update(status="dead")
    services.order_transition(
        order_id=order.id, to=Order.Status.READY_FOR_PICKUP, actor=Actor.system("t")
    )
    services.webhook_deliveries_send(time_budget_seconds=5)
    assert [b["type"] for b in receiver.bodies()] == ["order.ready_for_pickup"]


def test_later_event_waits_while_an_earlier_one_for_the_order_is_pending(store):
    _endpoint(store, "https://shop.example.com/hooks")
    order = make_order(store)
    services.order_transition(
        order_id=order.id, to=Order.Status.READY_FOR_PICKUP, actor=Actor.system("t")
    )
    first, second = WebhookDelivery.objects.order_by("id")
    claimed = webhooks.webhook_deliveries_claim(limit=10)
    assert claimed == [first.id]


def test_claimed_deliveries_are_leased_and_not_claimed_twice(store):
    _endpoint(store, "https://shop.example.com/hooks")
    make_order(store, external_order_id="A")
    make_order(store, external_order_id="B")
    first = webhooks.webhook_deliveries_claim(limit=10)
    assert len(first) == 2
    assert webhooks.webhook_deliveries_claim(limit=10) == []
    with freeze_time(timedelta(minutes=5)):  # the lease ran out: a crashed relay's rows return
        assert sorted(webhooks.webhook_deliveries_claim(limit=10)) == sorted(first)


def test_private_targets_are_refused_unless_allowed(store, settings):
    settings.SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    for url in (
        "http://shop.example.com/hooks",
        "https://127.0.0.1/hooks",
        "https://10.0.0.5/hooks",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "https://169.254.169.254/latest",
    ):
        with pytest.raises(Unprocessable):
            _endpoint(store, url)


def test_relay_refuses_a_host_that_resolves_to_a_private_address(store, settings):
    settings.SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    endpoint = _endpoint(store, "https://shop.example.com/hooks")
    make_order(store)
    with mock.patch("socket.getaddrinfo", return_value=[(2, 1, 6, "", ("10.1.2.3", 0))]):
        services.webhook_deliveries_send(time_budget_seconds=5)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "pending"
    assert "private" in delivery.last_error


def test_secret_rotation_signs_with_both_secrets_for_a_day(store, receiver):
    endpoint = _endpoint(store, receiver.url)
    old_secret = endpoint.secret
    endpoint = services.webhook_endpoint_rotate_secret(
        merchant=store.merchant, public_id=endpoint.public_id
    )
    make_order(store)
    services.webhook_deliveries_send(time_budget_seconds=5)
    headers, raw = receiver.requests[0]
    assert independent_verify(headers["Spark-Signature"], raw, old_secret)
    assert independent_verify(headers["Spark-Signature"], raw, endpoint.secret)
    with freeze_time(timedelta(hours=25)):
        assert webhooks.signing_secrets(endpoint, endpoint.previous_secret_expires_at) == [
            endpoint.secret
        ]


def test_deliveries_go_only_to_the_merchants_endpoints(store, receiver):
    from tests.factories import StoreFactory

    other = StoreFactory()
    services.webhook_endpoint_create(merchant=other.merchant, url=receiver.url)
    make_order(store)
    services.webhook_deliveries_send(time_budget_seconds=5)
    assert receiver.requests == []

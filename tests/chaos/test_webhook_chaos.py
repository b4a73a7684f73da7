"""W4 and W5: webhooks to shops through the outbox, against a shop that fails and a relay that
is killed.

W4 runs the real relay (two relays at once, SKIP LOCKED) against a real HTTP receiver that fails
30 % of requests, in virtual time: the clock jumps to the next due retry, so a 24-hour retry
window passes in seconds and every backoff is measured to the second. W5 runs the relay in a
real Celery worker and kills it with `kill -9` while one of its requests is open.
"""

import random
import statistics
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from orders import services as order_services
from orders.models import Order, WebhookAttempt, WebhookDelivery
from orders.services import webhooks
from spark.lib import clock
from tests.chaos.conftest import size
from tests.chaos.procs import wait_until
from tests.chaos.receiver import Receiver
from tests.factories import MarketFactory, MerchantFactory, StoreFactory
from tests.payouts.factories import OrderFactory

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

TYPES = ("order.created", "order.ready_for_pickup", "order.driver_assigned", "order.delivered")
STEP = timedelta(seconds=1)  # the virtual clock's resolution in W4
RELAY = "orders.tasks.webhook_deliveries_send"
PENDING = WebhookDelivery.Status.PENDING


@pytest.fixture
def receiver():
    r = Receiver(fail_rate=0.3, seed=8)
    yield r
    r.close()


def _shop(receiver: Receiver, path: str):
    """A merchant with a store and one webhook endpoint on the receiver's `path`."""
    store = StoreFactory(market=MarketFactory(), merchant=MerchantFactory())
    endpoint = order_services.webhook_endpoint_create(
        merchant=store.merchant, url=receiver.url(path)
    )
    receiver.secrets[path] = endpoint.secret
    return store, endpoint


def _emit(store, *, orders: int, per_order: int = len(TYPES), without_order: int = 0) -> int:
    """Outbox writes as order changes make them (each order's events in order), in batches."""
    rows = [
        OrderFactory.build(store=store, merchant=store.merchant, external_order_id=f"C-{i}")
        for i in range(orders)
    ]
    created = Order.objects.bulk_create(rows)
    events = [
        webhooks.OutboxEvent(
            store.merchant_id, o, TYPES[k], {"order": {"id": str(o.public_id), "seq": k}}
        )
        for k in range(per_order)
        for o in created
    ]
    events += [
        webhooks.OutboxEvent(store.merchant_id, None, "store.updated", {"seq": i})
        for i in range(without_order)
    ]
    for start in range(0, len(events), 1000):
        with transaction.atomic():
            webhooks.webhook_events_emit(events[start : start + 1000])
    return len(events)


@pytest.fixture
def quiet_kick(monkeypatch):
    """The per-process wake-up of the relay after commit would run it eagerly in this test
    process; these tests drive the relay themselves (W4) or through a worker (W5)."""
    monkeypatch.setattr(webhooks, "_next_kick_at", float("inf"))
    monkeypatch.setattr(webhooks, "_trailing_for", float("inf"))  # nor a trailing run


def _next_due():
    """When the next delivery that may go (the first pending one of its order) is due."""
    earlier = WebhookDelivery.objects.filter(
        endpoint=OuterRef("endpoint"),
        order=OuterRef("order"),
        status=PENDING,
        id__lt=OuterRef("id"),
    )
    heads = WebhookDelivery.objects.filter(status=PENDING).filter(
        Q(order__isnull=True) | ~Exists(earlier)
    )
    return heads.aggregate(t=Min("next_attempt_at"))["t"]


class Relays:
    """`count` relay threads that run at once, each until nothing is due (the beat task's
    loop), every time `run()` is called; each keeps its own database connection."""

    def __init__(self, count: int):
        self.errors: list[BaseException] = []
        self._go = threading.Barrier(count + 1)
        self._done = threading.Barrier(count + 1)
        self._stop = False
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(count)]
        for t in self.threads:
            t.start()

    def _loop(self) -> None:
        try:
            while True:
                self._go.wait()
                if self._stop:
                    return
                try:
                    webhooks.webhook_deliveries_send(time_budget_seconds=3600)
                except Exception as exc:  # noqa: BLE001 (reported by run())
                    self.errors.append(exc)
                self._done.wait()
        finally:
            connection.close()

    def run(self) -> None:
        self._go.wait(timeout=600)
        self._done.wait(timeout=600)
        assert not self.errors, self.errors

    def stop(self) -> None:
        self._stop = True
        self._go.wait(timeout=60)
        for t in self.threads:
            t.join(timeout=60)


def _ceiling(attempt: int) -> float:
    """The backoff ceiling after `attempt` failed attempts (full jitter: [c/2, c])."""
    base, top = webhooks.BACKOFF_BASE_SECONDS, webhooks.BACKOFF_MAX_SECONDS
    return min(top, base * 2 ** (attempt - 1))


def _attempt_times() -> dict[int, list]:
    times = defaultdict(list)
    for delivery_id, at in WebhookAttempt.objects.order_by("id").values_list("delivery_id", "at"):
        times[delivery_id].append(at)
    return times


def test_w4_flaky_receiver_loses_nothing_backs_off_and_dead_letters(
    receiver, quiet_kick, fast_commits, figures
):
    events = size(200, 10_000)
    flaky_store, flaky = _shop(receiver, "/flaky")
    down_store, down = _shop(receiver, "/down")
    receiver.always_fail.add("/down")
    _emit(flaky_store, orders=events // len(TYPES))
    dead_letters = _emit(down_store, orders=0, without_order=size(1, 20))

    started, now, rounds = time.monotonic(), [timezone.now()], 0
    start_at = now[0]
    relays = Relays(2)
    try:
        with clock.use_clock(lambda: now[0]):
            while True:
                relays.run()
                due = _next_due()
                if due is None:
                    break
                now[0] = max(now[0], due) + STEP
                rounds += 1
                assert rounds < 20_000, "the relay is not making progress"
    finally:
        relays.stop()
    wall = time.monotonic() - started

    # 0 lost: every event reached the shop, which acted on it once; none is left pending.
    flaky_rows = WebhookDelivery.objects.filter(endpoint=flaky)
    assert flaky_rows.count() == events
    assert set(flaky_rows.values_list("status", flat=True)) == {"succeeded"}
    flaky_ids = set(flaky_rows.values_list("event__public_id", flat=True))
    assert set(receiver.effects) == flaky_ids
    # <= 1 success per event id per receiver (here: exactly one).
    successes = [n for (path, _), n in receiver.successes.items() if path == "/flaky"]
    assert len(successes) == events
    assert max(successes) == 1
    # The log is complete: every request the shop saw is an attempt row, and the reverse.
    seen = receiver.received()
    logged = dict(
        WebhookAttempt.objects.values_list("delivery__event__public_id")
        .annotate(n=Count("id"))
        .values_list("delivery__event__public_id", "n")
    )
    assert seen == logged
    assert not [r for r in receiver.requests if not r.signed]
    # Each order's events reached the shop in order.
    by_order = defaultdict(list)
    for event in receiver.applied["/flaky"]:
        by_order[event["data"]["order"]["id"]].append(event["data"]["order"]["seq"])
    assert all(seqs == sorted(seqs) for seqs in by_order.values())

    # Delays increase: every gap within its full-jitter bounds, doubling up to the cap.
    times = _attempt_times()
    by_attempt = defaultdict(list)
    for attempts in times.values():
        gaps = [(b - a).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
        for k, gap in enumerate(gaps, start=1):
            ceiling = _ceiling(k)
            assert ceiling / 2 - 0.001 <= gap <= ceiling + 2 * STEP.total_seconds(), (k, gaps)
            by_attempt[k].append(gap)
        for k in range(1, len(gaps)):
            if _ceiling(k + 1) < webhooks.BACKOFF_MAX_SECONDS:
                assert gaps[k] >= gaps[k - 1] - 2 * STEP.total_seconds(), gaps
    means = [statistics.mean(by_attempt[k]) for k in sorted(by_attempt)]
    uncapped = [m for k, m in zip(sorted(by_attempt), means, strict=True) if _ceiling(k) < 3600]
    assert uncapped == sorted(uncapped), means
    assert len(set(uncapped)) == len(uncapped), means

    # Dead letter after the last attempt the retry window allows, never a success.
    window = settings.SPARK_WEBHOOK_RETRY_WINDOW
    dead = list(WebhookDelivery.objects.filter(endpoint=down))
    assert len(dead) == dead_letters
    for row in dead:
        assert row.status == "dead"
        last = times[row.id][-1]
        assert row.attempts == len(times[row.id]) == seen[row.event.public_id]
        assert row.created_at + window - timedelta(seconds=_ceiling(row.attempts)) < last
        assert last <= row.created_at + window + 2 * STEP  # due inside it, sent within a step
    assert not [1 for (path, _), n in receiver.successes.items() if path == "/down"]

    failed = sum(1 for r in receiver.requests if r.answer != 200)
    figures(
        f"W4 events={events} (+{dead_letters} to an endpoint that always fails) "
        f"requests={len(receiver.requests)} failed_answers={failed} lost=0 "
        f"max_successes_per_event={max(successes)} dead={len(dead)} "
        f"dead_after_attempts={sorted({r.attempts for r in dead})} "
        f"mean_gap_s_by_attempt={[round(m) for m in means[:10]]} "
        f"virtual_hours={(now[0] - start_at).total_seconds() / 3600:.1f} rounds={rounds} "
        f"wall_s={wall:.1f}"
    )


@pytest.mark.parametrize("trial", range(size(1, 4)))
def test_w5_relay_killed_mid_batch_publishes_every_row_and_the_shop_acts_once(
    trial, procs, app_env, broker, quiet_kick, figures
):
    kill = ("pool-child", "worker")[trial % 2]
    events = size(200, 1000)
    receiver = Receiver(seed=trial)
    try:
        store, endpoint = _shop(receiver, "/hooks")
        _emit(store, orders=events // len(TYPES))
        hold_at = random.Random(trial).randint(
            2, min(events, 3 * settings.SPARK_WEBHOOK_BATCH_SIZE)
        )
        receiver.hold(at=hold_at)
        worker = procs.worker(app_env)
        broker.send_task(RELAY)
        wait_until(receiver.held.is_set, timeout=60, what="the relay to reach the held request")
        # The shop has acted on this request; the relay dies before it hears the answer.
        if kill == "worker":
            worker.kill9()
        else:
            worker.kill9_child()
        killed_at = time.monotonic()
        receiver.release()
        if kill == "worker":
            worker = procs.worker(app_env)
        pending = WebhookDelivery.objects.filter(status=PENDING)

        def done() -> bool:
            if pending.exists():
                broker.send_task(RELAY)  # as beat does every 5 s
                return False
            return True

        wait_until(done, timeout=120, what="every delivery to succeed", step=1.0)
        recovery = time.monotonic() - killed_at

        ids = set(WebhookDelivery.objects.values_list("event__public_id", flat=True))
        assert len(ids) == events
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
        received = receiver.received()
        assert set(received) == ids  # every row published at least once
        assert set(receiver.effects) == ids  # and acted on once: duplicates acknowledged only
        assert len(receiver.applied["/hooks"]) == events
        # The held request was answered to a dead relay, so it went out again.
        assert received[receiver.held_event_id] >= 2
        assert receiver.duplicates >= 1
        figures(
            f"W5 kill={kill} events={events} killed_at_request={hold_at} "
            f"published={sum(received.values())} duplicates_absorbed={receiver.duplicates} "
            f"effects_per_event=1 lost=0 recovery_s={recovery:.1f}"
        )
    finally:
        receiver.close()

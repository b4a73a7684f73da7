"""P10 background jobs (PERFORMANCE.md): the outbox claim with a 1 M-row history, and the
Celery fan-out of the dispatch beat.

1. Claim throughput. The real webhook outbox tables of orders get a history of 1 M finished
   deliveries (and their events), written set-based with INSERT ... SELECT generate_series, then
   a fresh batch of pending deliveries (two per order, so the relay's "earlier pending delivery
   for the same order waits" rule is exercised). Several worker processes drain it for a fixed
   time, each job being claimed and then marked delivered:
   - `relay`: the relay's own claim, `orders.services.webhooks.webhook_deliveries_claim` (SELECT
     ... FOR UPDATE SKIP LOCKED and a lease, in its transaction), batches of
     SPARK_WEBHOOK_BATCH_SIZE;
   - `bare`: the same-run baseline, one bare SQL statement (UPDATE ... WHERE id IN (SELECT ...
     ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING id) with the same finishing UPDATE;
   - `relay_record` (information): the relay's claim plus its real per-delivery bookkeeping
     (`_record_attempt`: the attempt row and the conditional update), i.e. the relay without
     the HTTP call.
   Figures: jobs/s over the run and the slowest full second ("sustained"); goal >= 1,000 jobs/s.
2. Celery fan-out. M markets with ready orders and online drivers; a real Celery worker on
   Redis runs the tasks. The bench plays the beat: it publishes the `dispatch-rounds` entry of
   CELERY_BEAT_SCHEDULE (its task and options) N times, waiting for each round to finish, and
   counts every task published (worker-side `after_task_publish`) and run: goal <= 1 task per
   (market, round).

    python bench/bench_jobs.py [--history 1000000] [--seconds 15] [--workers 2] [--json out]
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["BENCH_DATABASE_URL"] = os.environ.get(
    "BENCH_JOBS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spark_bench_jobs"
)
os.environ["BENCH_REDIS_URL"] = os.environ.get("BENCH_JOBS_REDIS_URL", "redis://127.0.0.1:6379/12")

from bench import bench_api as api  # noqa: E402

GOAL_JOBS_PER_S = 1000
DELIVERY = "orders_webhookdelivery"
EVENT = "orders_webhookevent"
ORDER = "orders_order"
PAYLOAD = (
    '{"id": "evt_x", "type": "order.delivered", "created": "2026-01-01T12:00:00+00:00",'
    ' "data": {"id": "00000000-0000-0000-0000-000000000000", "status": "delivered"}}'
)


def _setup_django() -> None:
    os.environ.update(api._env())
    import django

    django.setup()


def _sql(statement: str, params: list | None = None) -> int:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(statement, params)
        return c.rowcount


# --- data -----------------------------------------------------------------------------------


def _history(rows: int, merchant_id: int) -> float:
    """`rows` finished deliveries (99 % succeeded, 1 % dead) with their events, set-based."""
    started = time.perf_counter()
    _sql(
        f"""
        INSERT INTO {EVENT} (public_id, merchant_id, order_id, type, payload, created_at)
        SELECT 'evt_h' || g, %s, NULL, 'order.delivered', %s::jsonb,
               now() - interval '30 days' + g * interval '2 seconds'
        FROM generate_series(1, %s) g
        """,
        [merchant_id, PAYLOAD, rows],
    )
    _sql(
        f"""
        INSERT INTO {DELIVERY} (event_id, endpoint_id, order_id, status, attempts,
            next_attempt_at, locked_until, last_status_code, last_error, delivered_at, created_at)
        SELECT e.id, ep.id, NULL,
               CASE WHEN e.id % 100 = 0 THEN 'dead' ELSE 'succeeded' END,
               CASE WHEN e.id % 100 = 0 THEN 12 ELSE 1 END,
               e.created_at, NULL, CASE WHEN e.id % 100 = 0 THEN 500 ELSE 200 END, '',
               CASE WHEN e.id % 100 = 0 THEN NULL ELSE e.created_at END, e.created_at
        FROM {EVENT} e JOIN orders_webhookendpoint ep ON ep.merchant_id = e.merchant_id
        WHERE e.public_id LIKE 'evt_h%%'
        """,
    )
    _sql(f"VACUUM ANALYZE {EVENT}")
    _sql(f"VACUUM ANALYZE {DELIVERY}")
    return time.perf_counter() - started


def _template_order(store_pk: int, merchant_pk: int) -> int:
    import datetime as dt

    from django.utils import timezone

    from orders.models import Order

    now = timezone.now()
    return Order.objects.create(
        merchant_id=merchant_pk,
        store_id=store_pk,
        external_order_id="template",
        request_hash="x",
        customer_name="C",
        customer_phone="+16155550100",
        dropoff_address="a",
        dropoff_lat=36.17,
        dropoff_lng=-86.77,
        order_value_cents=2000,
        fee_cents=700,
        currency="USD",
        pickup_ready_at=now,
        dropoff_window_start=now,
        dropoff_window_end=now + dt.timedelta(hours=1),
    ).id


def _pending(jobs: int, tag: str, template_id: int, merchant_id: int) -> None:
    """`jobs` due deliveries, two per order (copies of a template order), set-based."""
    from orders.models import Order

    orders = jobs // 2
    overrides = {
        "public_id": "md5(%(tag)s || g)::uuid",
        "external_order_id": "%(tag)s || g",
        "tracking_token": "md5('t' || %(tag)s || g)",
    }
    cols = [f.column for f in Order._meta.concrete_fields if not f.primary_key]
    select = ", ".join(overrides.get(c, f"t.{c}") for c in cols)
    params = {"tag": tag, "n": orders, "t": template_id, "m": merchant_id, "p": PAYLOAD}
    _sql(
        f"""
        INSERT INTO {ORDER} ({", ".join(cols)})
        SELECT {select} FROM {ORDER} t, generate_series(1, %(n)s) g WHERE t.id = %(t)s
        """,
        params,
    )
    _sql(
        f"""
        INSERT INTO {EVENT} (public_id, merchant_id, order_id, type, payload, created_at)
        SELECT 'evt_' || %(tag)s || '_' || o.id || '_' || k, %(m)s, o.id,
               CASE k WHEN 1 THEN 'order.created' ELSE 'order.ready_for_pickup' END,
               %(p)s::jsonb, now()
        FROM {ORDER} o, generate_series(1, 2) k
        WHERE o.external_order_id LIKE %(tag)s || '%%'
        ORDER BY o.id, k
        """,
        params,
    )
    _sql(
        f"""
        INSERT INTO {DELIVERY} (event_id, endpoint_id, order_id, status, attempts,
            next_attempt_at, last_error, created_at)
        SELECT e.id, ep.id, e.order_id, 'pending', 0, now() - interval '1 second', '', now()
        FROM {EVENT} e JOIN orders_webhookendpoint ep ON ep.merchant_id = e.merchant_id
        WHERE e.public_id LIKE 'evt_' || %(tag)s || '_%%'
        ORDER BY e.id
        """,
        params,
    )
    _sql(f"VACUUM ANALYZE {DELIVERY}")


# --- the claim loops --------------------------------------------------------------------------

BARE_CLAIM = f"""
    UPDATE {DELIVERY} SET locked_until = now() + interval '120 seconds'
    WHERE id IN (
        SELECT id FROM {DELIVERY}
        WHERE status = 'pending' AND next_attempt_at <= now()
          AND (locked_until IS NULL OR locked_until < now())
        ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
    RETURNING id
"""
FINISH = f"""
    UPDATE {DELIVERY} SET status = 'succeeded', attempts = attempts + 1, delivered_at = now(),
        last_status_code = 200, locked_until = NULL
    WHERE id = ANY(%s) AND status = 'pending'
"""


def _claim_bare(batch: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(BARE_CLAIM, [batch])
        return [r[0] for r in c.fetchall()]


def _claim_relay(batch: int) -> list[int]:
    from orders.services.webhooks import webhook_deliveries_claim

    return webhook_deliveries_claim(limit=batch)


def _finish(ids: list[int]) -> None:
    _sql(FINISH, [ids])


def _record(ids: list[int]) -> None:
    """The relay's bookkeeping per delivery after a 200 (webhook_delivery_attempt minus _post)."""
    from orders.models import WebhookDelivery
    from orders.services.webhooks import _record_attempt

    for delivery_id in ids:
        delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(id=delivery_id)
        _record_attempt(delivery, 200, "", 1, ok=True)


VARIANTS = {
    "bare": (_claim_bare, _finish),
    "relay": (_claim_relay, _finish),
    "relay_record": (_claim_relay, _record),
}


def _worker(
    variant: str, batch: int, seconds: float, ready: object, go: object, out: object
) -> None:
    """Claim and finish until the deadline or until nothing is left: (time, jobs) per batch,
    and every id this worker claimed (two workers claiming one id would be a double claim)."""
    from django.db import connection

    from orders.services import webhooks  # noqa: F401 (imported before the clock starts)

    claim, finish = VARIANTS[variant]
    connection.ensure_connection()  # like a long-running relay: connected before the window
    ready.put(True)
    go.wait()
    deadline = time.time() + seconds
    marks: list[tuple[float, int]] = []
    claimed: list[int] = []
    empty = 0
    while time.time() < deadline:
        ids = claim(batch)
        if not ids:
            empty += 1
            if empty > 20:  # drained (other workers may still hold leases briefly)
                break
            time.sleep(0.005)
            continue
        empty = 0
        finish(ids)
        marks.append((time.time(), len(ids)))
        claimed += ids
    connection.close()
    out.put((marks, claimed))


def _measure(variant: str, *, workers: int, batch: int, seconds: float) -> dict:
    from django.db import connections

    connections.close_all()  # forked workers open their own
    ctx = multiprocessing.get_context("fork")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(variant, batch, seconds, ready, go, out))
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    start = time.time()
    go.set()
    answers = [out.get() for _ in procs]
    for p in procs:
        p.join()
    marks = [m for got, _ in answers for m in got]
    claimed = [i for _, ids in answers for i in ids]
    end = max((t for t, _ in marks), default=start)
    jobs = sum(n for _, n in marks)
    per_second = [0] * (int(end - start) + 1)
    for t, n in marks:
        per_second[int(t - start)] += n
    full = per_second[:-1] or per_second  # the last second is partial
    return {
        "jobs": jobs,
        "seconds": round(end - start, 2),
        "jobs_per_s": round(jobs / max(end - start, 1e-9)),
        "slowest_second": min(full),
        "per_second": per_second,
        "double_claims": len(claimed) - len(set(claimed)),
    }


def claim_benchmark(args: argparse.Namespace, ids: dict) -> dict:
    from django.conf import settings

    from orders.models import WebhookDelivery

    if args.without_pending_index:  # the state before orders migration 0004, for comparison
        _sql("DROP INDEX webhook_delivery_pending_id")
    history_s = _history(args.history, ids["merchant_pk"])
    template = _template_order(ids["store_pk"], ids["merchant_pk"])
    batch = settings.SPARK_WEBHOOK_BATCH_SIZE
    results: dict = {
        "history_rows": WebhookDelivery.objects.exclude(status="pending").count(),
        "history_build_s": round(history_s, 1),
        "workers": args.workers,
        "batch": batch,
        "pending_id_index": not args.without_pending_index,
    }
    for i, variant in enumerate(("bare", "relay", "relay_record")):
        _pending(args.jobs, f"v{i}", template, ids["merchant_pk"])
        results[variant] = _measure(
            variant, workers=args.workers, batch=batch, seconds=args.seconds
        )
        _sql(f"UPDATE {DELIVERY} SET status = 'dead' WHERE status = 'pending'")
    results["double_claims"] = sum(results[v]["double_claims"] for v in VARIANTS)
    relay, bare = results["relay"], results["bare"]
    results["ratio_relay_to_bare"] = round(relay["jobs_per_s"] / max(bare["jobs_per_s"], 1), 2)
    results["pass"] = relay["slowest_second"] >= GOAL_JOBS_PER_S and results["double_claims"] == 0
    return results


# --- Celery fan-out ---------------------------------------------------------------------------

WORKER = """
import json, os, warnings
warnings.simplefilter("ignore")  # Celery's warning about running as root on this machine
import django
django.setup()
import redis
from celery.signals import after_task_publish, task_prerun, worker_ready
from spark.celery import app

r = redis.Redis.from_url(os.environ["REDIS_URL"])

@after_task_publish.connect(weak=False)
def published(sender=None, headers=None, **kwargs):
    r.hincrby("bench:published", json.dumps([sender, (headers or {}).get("argsrepr")]), 1)

@task_prerun.connect(weak=False)
def ran(sender=None, args=None, **kwargs):
    r.hincrby("bench:ran", json.dumps([sender.name, repr(list(args or []))]), 1)

@worker_ready.connect(weak=False)
def ready(**kwargs):
    r.set("bench:ready", 1)

app.worker_main(["--quiet", "worker", "--pool", "solo", "--loglevel", "WARNING", "--without-gossip",
                 "--without-mingle", "--without-heartbeat"])
"""


def _seed_markets(markets: int, orders: int, drivers: int) -> list[int]:
    import datetime as dt

    from django.utils import timezone

    from bench.fixtures import seed_drivers
    from dispatch.models import RateCard
    from orders.models import Market, Merchant, Order, Store

    merchant = Merchant.objects.get(slug="bench")
    now = timezone.now()
    ids = []
    for m in range(markets):
        lat, lng = 36.16 + m, -86.78
        market = Market.objects.create(
            name=f"Fan-out {m}", slug=f"fanout-{m}", centre_lat=lat, centre_lng=lng
        )
        RateCard.objects.create(market=market, effective_from=now - dt.timedelta(days=1))
        store = Store.objects.create(
            market=market, merchant=merchant, name=f"F{m}", address="a", lat=lat, lng=lng
        )
        Order.objects.bulk_create(
            [
                Order(
                    merchant=merchant,
                    store=store,
                    external_order_id=f"F{m}-{i}",
                    request_hash="x",
                    customer_name="C",
                    customer_phone="+16155550100",
                    dropoff_address="a",
                    dropoff_lat=lat + 0.01 * (i % 7),
                    dropoff_lng=lng + 0.01 * (i % 5),
                    order_value_cents=2000,
                    fee_cents=700,
                    tip_cents=300,
                    currency="USD",
                    pickup_ready_at=now,
                    dropoff_window_start=now,
                    dropoff_window_end=now + dt.timedelta(hours=2),
                    status="ready_for_pickup",
                )
                for i in range(orders)
            ]
        )
        seed_drivers(market=market, count=drivers, prefix=f"fanout-{m}", lat=lat, lng=lng)
        ids.append(market.id)
    return ids


def _counts(r: object, key: str) -> dict[tuple[str, str], int]:
    return {tuple(json.loads(k)): int(v) for k, v in r.hgetall(key).items()}


def fanout_benchmark(args: argparse.Namespace) -> dict:
    import redis
    from django.conf import settings
    from django.db import connections

    from orders.models import Market
    from spark.celery import app

    Market.objects.filter(slug="bench").update(is_active=False)  # the claim bench's, no stores
    markets = _seed_markets(args.markets, args.round_orders, args.round_drivers)
    connections.close_all()
    r = redis.Redis.from_url(api.BENCH_REDIS)
    r.flushdb()
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=api._env(), cwd=ROOT)
    entry = settings.CELERY_BEAT_SCHEDULE["dispatch-rounds"]
    ticks = []
    try:
        _wait_ready(r, worker, timeout=120)
        for n in range(1, args.rounds + 1):
            before = _counts(r, "bench:published")
            app.send_task(entry["task"], **entry.get("options", {}))
            _wait_rounds(r, n * len(markets), timeout=60)
            after = _counts(r, "bench:published")
            ticks.append({k[0] + str(k[1]): after[k] - before.get(k, 0) for k in after})
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    published = _counts(r, "bench:published")
    ran = _counts(r, "bench:ran")
    r.flushdb()
    return _fanout_figures(args.rounds, markets, published, ran, ticks)


def _wait_ready(r: object, worker: subprocess.Popen, *, timeout: float) -> None:
    """The beat entry expires in seconds: publish only once the worker consumes."""
    deadline = time.monotonic() + timeout
    while not r.get("bench:ready"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not start")
        time.sleep(0.1)


def _wait_rounds(r: object, rounds: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(
            n
            for (name, _), n in _counts(r, "bench:ran").items()
            if name.endswith(".dispatch_round")
        )
        if done >= rounds:
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {done} of {rounds} dispatch rounds ran within {timeout} s")


def _fanout_figures(
    rounds: int, markets: list[int], published: dict, ran: dict, ticks: list[dict]
) -> dict:
    by_name: dict[str, int] = {}
    for (name, _), n in published.items():
        by_name[name] = by_name.get(name, 0) + n
    round_task = "dispatch.tasks.dispatch_round"
    per_market = {
        m: published.get((round_task, f"[{m}]"), 0) + published.get((round_task, f"({m},)"), 0)
        for m in markets
    }
    max_per_tick = max(
        (n for tick in ticks for k, n in tick.items() if k.startswith(round_task)), default=0
    )
    total = sum(by_name.values())
    result = {
        "markets": len(markets),
        "rounds": rounds,
        "published_by_task": by_name,
        "ran_by_task": {name: sum(n for (k, _), n in ran.items() if k == name) for name, _ in ran},
        "dispatch_round_per_market": per_market,
        "max_dispatch_round_per_market_round": max_per_tick,
        "tasks_per_market_round": round(total / (rounds * len(markets)), 3),
        "offers_made": _offers_made(markets),
    }
    result["pass"] = max_per_tick <= 1 and all(v == rounds for v in per_market.values())
    return result


def _offers_made(markets: list[int]) -> int:
    from dispatch.models import Offer

    return Offer.objects.filter(trip__market_id__in=markets).count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=60_000, help="pending deliveries per variant")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--markets", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--round-orders", type=int, default=30)
    parser.add_argument("--round-drivers", type=int, default=20)
    parser.add_argument(
        "--without-pending-index",
        action="store_true",
        help="drop the partial index on pending ids first (how the claim ran before it)",
    )
    parser.add_argument("--skip-fanout", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    ids = api._prepare()
    _setup_django()
    load_before = os.getloadavg()[0]
    results = {"fanout": None if args.skip_fanout else fanout_benchmark(args)}
    results["claim"] = claim_benchmark(args, ids)
    results["pass"] = results["claim"]["pass"] and (args.skip_fanout or results["fanout"]["pass"])
    results["loadavg_1min"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    results["target"] = (
        ">= 1,000 jobs/s sustained with a 1 M-row history; <= 1 task/(market, round)"
    )
    results["measured"] = _measured(results)
    _print(results)
    print(
        "load average (1 min) before and after, all processes on the machine:",
        results["loadavg_1min"],
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def _measured(results: dict) -> str:
    c, f = results["claim"], results["fanout"]
    text = (
        f"relay claim {c['relay']['jobs_per_s']} jobs/s (slowest second"
        f" {c['relay']['slowest_second']}) = {c['ratio_relay_to_bare']}x the bare SQL claim's"
        f" {c['bare']['jobs_per_s']}, {c['history_rows']:,} finished rows"
    )
    if f:
        text += (
            f"; fan-out {f['max_dispatch_round_per_market_round']} dispatch_round per (market,"
            f" round) over {f['rounds']} rounds x {f['markets']} markets"
        )
    return text


def _print(results: dict) -> None:
    c = results["claim"]
    print(
        f"Claim with a {c['history_rows']:,}-row history ({c['workers']} workers, batches of"
        f" {c['batch']}):"
    )
    print("| loop | jobs | seconds | jobs/s | slowest second |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in ("bare", "relay", "relay_record"):
        v = c[name]
        slowest = v["slowest_second"] if name != "relay_record" else "- (per-batch marks)"
        print(f"| {name} | {v['jobs']} | {v['seconds']} | {v['jobs_per_s']} | {slowest} |")
    print(
        f"relay / bare = {c['ratio_relay_to_bare']}x; double claims {c['double_claims']};"
        f" goal >= {GOAL_JOBS_PER_S} jobs/s sustained: {'PASS' if c['pass'] else 'FAIL'}"
    )
    f = results["fanout"]
    if f is None:
        return
    print(
        f"Fan-out: {f['rounds']} beat ticks x {f['markets']} markets: published"
        f" {f['published_by_task']}; at most {f['max_dispatch_round_per_market_round']}"
        f" dispatch_round per (market, round); {f['tasks_per_market_round']} tasks per"
        f" (market, round) in all; {f['offers_made']} offers made:"
        f" {'PASS' if f['pass'] else 'FAIL'}"
    )


if __name__ == "__main__":
    main()

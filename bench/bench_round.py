"""P2: a full dispatch round end to end on PostgreSQL (PERFORMANCE.md).

Loads a seeded city round (bench/instances.py: 1,000 ready orders x 2,000 online drivers at M)
into a scratch database as real rows — market, rate card, stores, orders, approved drivers with
documents and vehicles, availability with positions — then times `dispatch_round_run`: read
state, solve, bulk-create offers and trips, move the orders (events + webhook outbox). Between
repeats the round's writes are undone so every repeat sees the same state.

    python bench/bench_round.py [--size M] [--repeats 5] [--json out.json]
"""

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_P2_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spark_bench_p2")
os.environ["DATABASE_URL"] = DB
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spark.settings")
os.environ.pop("REDIS_URL", None)  # positions from the rows: the round reads them either way

from bench.bench_api import _PREPARE_DB  # noqa: E402


def _fresh_db() -> None:
    subprocess.run([sys.executable, "-c", _PREPARE_DB], env=os.environ, check=True, cwd=ROOT)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        env=os.environ,
        check=True,
        cwd=ROOT,
    )


def _load(size: str, seed: int):  # noqa: ANN202
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from bench.instances import SIZES, city_round
    from dispatch.models import DriverAvailability, RateCard
    from drivers.models import Document, Driver, Vehicle
    from orders.models import Market, Merchant, Order, Store

    n_orders, n_drivers = SIZES[size]
    inst = city_round(n_orders, n_drivers, seed)
    now = dt.datetime.fromtimestamp(inst.now, tz=dt.UTC)
    market = Market.objects.create(
        name="Bench City",
        slug="bench",
        centre_lat=36.37,
        centre_lng=-94.2,
        average_speed_kmh=30,
        detour_factor=1.3,
    )
    RateCard.objects.create(market=market, effective_from=now - dt.timedelta(days=1))
    merchant = Merchant.objects.create(name="Bench", slug="bench")
    stores = {
        sid: Store.objects.create(
            market=market,
            merchant=merchant,
            name=f"S{sid}",
            address="x",
            lat=lat,
            lng=lng,
            delivery_radius_km=50,
        )
        for sid, lat, lng in inst.stores
    }
    Order.objects.bulk_create(
        [
            Order(
                merchant=merchant,
                store=stores[o.store_id],
                external_order_id=f"B{o.id}",
                request_hash="x",
                customer_name="C",
                customer_phone="+1615",
                dropoff_address="a",
                dropoff_lat=o.dropoff_lat,
                dropoff_lng=o.dropoff_lng,
                items=[{"name": "i", "quantity": o.size_units}],
                order_value_cents=2000,
                fee_cents=700,
                tip_cents=300,
                currency="USD",
                pickup_ready_at=dt.datetime.fromtimestamp(o.ready_at, tz=dt.UTC),
                dropoff_window_start=dt.datetime.fromtimestamp(o.dropoff_window_start, tz=dt.UTC),
                dropoff_window_end=dt.datetime.fromtimestamp(o.dropoff_window_end, tz=dt.UTC),
                contains_alcohol=o.contains_alcohol,
                status="ready_for_pickup",
            )
            for o in inst.orders
        ],
        batch_size=1000,
    )
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"d{d.id}", first_name="D") for d in inst.drivers],
        batch_size=1000,
    )
    drivers = Driver.objects.bulk_create(
        [
            Driver(
                user=u,
                home_market=market,
                status="approved",
                is_21_plus=d.is_21_plus,
                no_alcohol=d.no_alcohol,
                max_pickup_km=d.max_pickup_km or 15.0,
                min_pay_cents_per_mile=d.min_pay_cents_per_mile,
            )
            for u, d in zip(users, inst.drivers, strict=True)
        ],
        batch_size=1000,
    )
    Vehicle.objects.bulk_create(
        [
            Vehicle(driver=d, make="Toyota", model="Corolla", year=2020, cargo_capacity_units=12)
            for d in drivers
        ],
        batch_size=1000,
    )
    expires = (now + dt.timedelta(days=365)).date()
    Document.objects.bulk_create(
        [
            Document(
                driver=d,
                kind=k,
                file="x",
                content_type="image/png",
                size_bytes=1,
                sha256="0" * 64,
                expires_on=expires,
                status="approved",
            )
            for d in drivers
            for k in Document.REQUIRED
        ],
        batch_size=2000,
    )
    DriverAvailability.objects.bulk_create(
        [
            DriverAvailability(
                driver=drv,
                market=market,
                is_online=True,
                online_since=now,
                lat=d.lat,
                lng=d.lng,
                location_at=now,
            )
            for drv, d in zip(drivers, inst.drivers, strict=True)
        ],
        batch_size=1000,
    )
    return market, now, len(inst.orders), len(inst.drivers)


def _analyze() -> None:
    """After the bulk load, as after any bulk load (and as autovacuum would within a minute on a
    server that has it on): the planner needs the statistics of the drivers, documents and
    orders it just got, or it plans the round's reads as nested loops over empty tables."""
    from spark.lib.db import analyze

    analyze()


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            "DELETE FROM dispatch_dispatchevent; DELETE FROM dispatch_offer;"
            " DELETE FROM dispatch_tripstop; DELETE FROM dispatch_trip;"
            " DELETE FROM orders_webhookdelivery; DELETE FROM orders_webhookevent;"
            " DELETE FROM orders_orderevent;"
            " UPDATE orders_order SET status = 'ready_for_pickup';"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="M")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    _fresh_db()
    started = time.perf_counter()
    market, now, n_orders, n_drivers = _load(args.size, args.seed)
    _analyze()
    load_s = time.perf_counter() - started
    from dispatch.services import dispatch_round_run
    from spark.lib.clock import use_clock

    rows = []
    for _ in range(args.repeats):
        _reset()
        with use_clock(lambda: now):
            t0 = time.perf_counter()
            r = dispatch_round_run(market_id=market.id)
            wall = (time.perf_counter() - t0) * 1000
        rows.append(
            {
                "wall_ms": wall,
                "engine_ms": r.solve_ms,
                "offers": r.offers_made,
                "trips": r.trips,
                "arcs": r.candidate_arcs,
            }
        )
    walls = sorted(x["wall_ms"] for x in rows)
    p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
    result = {
        "size": args.size,
        "orders": n_orders,
        "drivers": n_drivers,
        "load_s": round(load_s, 1),
        "wall_ms_p50": round(statistics.median(walls), 1),
        "wall_ms_p95": round(p95, 1),
        "engine_ms_p50": round(statistics.median(x["engine_ms"] for x in rows), 1),
        "offers": rows[-1]["offers"],
        "trips": rows[-1]["trips"],
        "arcs": rows[-1]["arcs"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "goal_ms": 1000 if args.size == "M" else 3000,
    }
    result["pass"] = result["wall_ms_p95"] <= result["goal_ms"]
    print(
        "| size | orders x drivers | round p50 ms | round p95 ms | engine p50 ms | offers |"
        " trips | goal | result |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    print(
        f"| {args.size} | {n_orders} x {n_drivers} | {result['wall_ms_p50']} |"
        f" {result['wall_ms_p95']} | {result['engine_ms_p50']} | {result['offers']} |"
        f" {result['trips']} | p95 <= {result['goal_ms']} ms |"
        f" {'PASS' if result['pass'] else 'FAIL'} |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

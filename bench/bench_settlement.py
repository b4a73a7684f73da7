"""Settlement benchmark (PERFORMANCE.md goal P9).

Builds a scratch PostgreSQL database (dropped and recreated), migrates it, and generates N
delivered trips of the last local week set-based in SQL into the real tables (orders, trips,
stops, accepted offers; D drivers). Then, in the same run:

1. reference: the same settlement as bare set-based SQL: pay per delivery (offer lines, wait
   and return pay, the delivered orders' tips) into a table, then a payout total per driver;
2. Spark: `payouts.services.payout_batch_settle` (earnings lines + ledger per delivery, a
   payout per driver with its ledger move, sandbox transfers, paid), timed by phase;
3. Spark again (the idempotent re-run): nothing new may be written.

    python bench/bench_settlement.py [--trips 1000000] [--drivers 10000] [--json out.json]
"""

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "BENCH_P9_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spark_bench_p9"
)


def _admin(statements: list[str]) -> None:
    """Run statements on the server's maintenance database (CREATE/DROP DATABASE)."""
    import environ
    import psycopg2

    cfg = environ.Env.db_url_config(BENCH_DB)
    conn = psycopg2.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg["PASSWORD"],
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement.format(db=cfg["NAME"], template=f"{cfg['NAME']}_template"))
    conn.close()


def _recreate_database(*, from_template: bool = False) -> None:
    create = "CREATE DATABASE {db} TEMPLATE {template}" if from_template else "CREATE DATABASE {db}"
    _admin(["DROP DATABASE IF EXISTS {db} WITH (FORCE)", create])


def _keep_template() -> None:
    """Keep the generated data as a template database, so that --reuse skips generating it."""
    from django.db import connections

    connections.close_all()
    _admin(
        [
            "DROP DATABASE IF EXISTS {template} WITH (FORCE)",
            "CREATE DATABASE {template} TEMPLATE {db}",
        ]
    )


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = BENCH_DB
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spark.settings")
    os.environ.pop("REDIS_URL", None)
    os.environ["SPARK_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _sql(statement: str, params: list | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params or [])
        return cur.rowcount


def _columns(table: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cur:
        return [c.name for c in connection.introspection.get_table_description(cur, table)]


def _clone(table: str, template_id: int, n: int, overrides: dict[str, str]) -> None:
    """Insert n copies of one template row, columns overridden by SQL expressions over g."""
    cols = _columns(table)
    exprs = [overrides[c].replace("%", "%%") if c in overrides else f't."{c}"' for c in cols]
    quoted = ", ".join(f'"{c}"' for c in cols)
    _sql(
        f"INSERT INTO {table} ({quoted}) SELECT {', '.join(exprs)} "
        f"FROM {table} t, generate_series(1, %s) g WHERE t.id = %s",
        [n, template_id],
    )
    _sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


def generate(trips: int, drivers: int) -> dict:
    """The city, D drivers and N delivered trips of last week, set-based.

    The audit-history triggers (A10) would copy every generated order and offer into its
    history table: the load is not what is measured, so it runs with triggers off, as a
    restore would (session_replication_role = replica, this connection only).
    """
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
    try:
        return _generate(trips, drivers)
    finally:
        with connection.cursor() as cur:
            cur.execute("SET session_replication_role = DEFAULT")


def _generate(trips: int, drivers: int) -> dict:
    from django.utils import timezone

    from dispatch.models import Offer, RateCard, Trip, TripStop
    from drivers.models import Driver
    from orders.models import Market, Merchant, Order, Store
    from payouts.periods import week_containing

    market = Market.objects.create(
        name="Bench", slug="bench", timezone="America/Chicago", centre_lat=36.16, centre_lng=-86.78
    )
    RateCard.objects.create(market=market, effective_from=timezone.now() - timedelta(days=400))
    merchant = Merchant.objects.create(name="Bench", slug="bench")
    store = Store.objects.create(
        market=market, merchant=merchant, name="S", address="a", lat=36.16, lng=-86.78
    )
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username="bench-template")
    driver = Driver.objects.create(user=user, home_market=market, status="approved")
    _clone(
        "auth_user",
        user.id,
        drivers - 1,
        {"id": f"{user.id} + g", "username": "'bench' || g", "email": "'bench' || g || '@x.test'"},
    )
    _clone(
        "drivers_driver",
        driver.id,
        drivers - 1,
        {"id": f"{driver.id} + g", "user_id": f"{user.id} + g"},
    )
    now = timezone.now()
    order = Order.objects.create(
        merchant=merchant,
        store=store,
        external_order_id="T",
        request_hash="0" * 64,
        customer_name="C",
        customer_phone="1",
        dropoff_address="a",
        dropoff_lat=36.17,
        dropoff_lng=-86.77,
        order_value_cents=4000,
        fee_cents=599,
        currency="USD",
        pickup_ready_at=now,
        dropoff_window_start=now,
        dropoff_window_end=now,
        status="delivered",
    )
    trip = Trip.objects.create(
        market=market, store=store, status="completed", driver=driver, completed_at=now
    )
    offer = Offer.objects.create(
        trip=trip,
        driver=driver,
        status="accepted",
        expires_at=now,
        stops=[],
        store_name="S",
        pickup_km=1,
        engaged_miles=5,
        estimated_minutes=30,
        base_cents=400,
        distance_cents=350,
        tip_cents=0,
        total_cents=750,
        cents_per_mile=0,
        cents_per_hour=0,
    )
    stop = TripStop.objects.create(trip=trip, order=order, sequence=0, status="delivered")
    span = int((week.ends_at - week.starts_at).total_seconds()) - 7200
    done = f"%s::timestamptz + (g::bigint * 7919 %% {span}) * interval '1 second'"
    oid, tid = order.id, trip.id
    _clone(
        "orders_order",
        oid,
        trips,
        {
            "id": f"{oid} + g",
            "public_id": "gen_random_uuid()",
            "external_order_id": "'B' || g",
            "tracking_token": "md5(g::text)",
            "tip_cents": "(g % 5) * 100",
            "status": "CASE WHEN g % 50 = 0 THEN 'returned_to_store' ELSE 'delivered' END",
        },
    )
    drv = f"{driver.id} + (g % {drivers})"
    drv_p = drv.replace("%", "%%")
    trip_fields = {
        "id": f"{tid} + g",
        "public_id": "gen_random_uuid()",
        "driver_id": drv_p,
        "completed_at": done,
        "picked_up_at": f"{done} - interval '30 minutes'",
        "arrived_at_store_at": f"{done} - interval '30 minutes' - (g %% 20) * interval '1 minute'",
        "assigned_at": f"{done} - interval '60 minutes'",
    }
    _sql_clone_with_params("dispatch_trip", tid, trips, trip_fields, week.starts_at, 4)
    _clone(
        "dispatch_tripstop",
        stop.id,
        trips,
        {
            "id": f"{stop.id} + g",
            "trip_id": f"{tid} + g",
            "order_id": f"{oid} + g",
            "status": "CASE WHEN g % 50 = 0 THEN 'returned' ELSE 'delivered' END",
        },
    )
    _clone(
        "dispatch_offer",
        offer.id,
        trips,
        {
            "id": f"{offer.id} + g",
            "public_id": "gen_random_uuid()",
            "trip_id": f"{tid} + g",
            "driver_id": drv,
            "boost_cents": "(g % 3) * 150",
            "tip_cents": "(g % 5) * 100",
            "total_cents": "750 + (g % 3) * 150 + (g % 5) * 100",
        },
    )
    # The templates themselves are not part of the week: move them out of it.
    _sql("UPDATE dispatch_trip SET status = 'cancelled', driver_id = NULL WHERE id = %s", [tid])
    _sql("ANALYZE")
    return {"market_id": market.id, "week": week, "period_start": week.start}


def _city() -> dict:
    """What generate() returned, read back from a reused database."""
    from django.utils import timezone

    from orders.models import Market
    from payouts.periods import week_containing

    market = Market.objects.get(slug="bench")
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    return {"market_id": market.id, "week": week, "period_start": week.start}


def _sql_clone_with_params(table, template_id, n, overrides, at, uses) -> None:
    """_clone, for overrides that embed one timestamp parameter `uses` times."""
    cols = _columns(table)
    exprs = [overrides.get(c, f't."{c}"') for c in cols]
    quoted = ", ".join(f'"{c}"' for c in cols)
    _sql(
        f"INSERT INTO {table} ({quoted}) SELECT {', '.join(exprs)} "
        f"FROM {table} t, generate_series(1, %s) g WHERE t.id = %s",
        [at] * uses + [n, template_id],
    )
    _sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


REFERENCE = """
DROP TABLE IF EXISTS ref_pay, ref_payout;
CREATE TABLE ref_pay AS
SELECT o.trip_id, o.driver_id,
       o.base_cents + o.distance_cents + o.time_cents + o.extra_stops_cents + o.boost_cents
       + GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (t.picked_up_at - t.arrived_at_store_at)) / 60)
                     - rc.wait_pay_after_minutes) * rc.wait_pay_per_minute_cents
       + s.returned * rc.return_to_store_cents AS pay,
       s.tips AS tip
FROM dispatch_offer o
JOIN dispatch_trip t ON t.id = o.trip_id
JOIN dispatch_ratecard rc ON rc.market_id = t.market_id
JOIN (SELECT st.trip_id, COUNT(*) FILTER (WHERE st.status = 'returned') AS returned,
             COALESCE(SUM(od.tip_cents) FILTER (WHERE st.status = 'delivered'), 0) AS tips
      FROM dispatch_tripstop st JOIN orders_order od ON od.id = st.order_id
      GROUP BY st.trip_id) s ON s.trip_id = t.id
WHERE o.status = 'accepted' AND t.status = 'completed'
  AND t.completed_at >= %(start)s AND t.completed_at < %(end)s;
CREATE TABLE ref_payout AS
SELECT driver_id, SUM(pay + tip) AS amount FROM ref_pay GROUP BY driver_id;
"""


def reference(week) -> tuple[float, int, int]:
    from django.db import connection, transaction

    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(REFERENCE, {"start": week.starts_at, "end": week.ends_at})
    elapsed = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM ref_pay), (SELECT SUM(amount) FROM ref_payout)")
        rows, total = cur.fetchone()
    return elapsed, rows, int(total)


def _checkpoint() -> None:
    """Each timed section starts from a checkpoint (untimed): the writes of what ran before it
    (the generation, the template copy, the other side's run) are then not flushed, and their
    pages not logged in full again, on its clock."""
    _sql("CHECKPOINT")


def _timed(phases: dict, name: str, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


class _SlowStatements:
    """--trace: every statement of this thread's connection that took over 0.2 s."""

    def __init__(self) -> None:
        self.slow: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - t0
            if elapsed > 0.2:
                self.slow.append((elapsed, " ".join(sql.split())[:300]))


def spark_settle(market_id: int, period_start, trace: bool = False) -> tuple[float, dict]:
    from django.db import connection

    from payouts.services import settlement

    if trace:
        tracer = _SlowStatements()
        with connection.execute_wrapper(tracer):
            result = spark_settle(market_id, period_start)
        for elapsed, sql in sorted(tracer.slow, reverse=True)[:25]:
            print(f"{elapsed:7.2f} s  {sql}")
        return result

    phases: dict[str, float] = {}
    originals = {
        "earnings": settlement._earnings_post,
        "floor": settlement._floor_topups,
        "batch": settlement._batch_create,
        "submit": settlement.payouts_submit,
    }
    settlement._earnings_post = _timed(phases, "earnings lines + ledger", originals["earnings"])
    settlement._floor_topups = _timed(phases, "floor top-ups", originals["floor"])
    settlement._batch_create = _timed(phases, "payouts + ledger moves", originals["batch"])
    settlement.payouts_submit = _timed(phases, "provider + paid", originals["submit"])
    try:
        t0 = time.perf_counter()
        settlement.payout_batch_settle(market_id=market_id, period_start=period_start)
        return time.perf_counter() - t0, phases
    finally:
        settlement._earnings_post = originals["earnings"]
        settlement._floor_topups = originals["floor"]
        settlement._batch_create = originals["batch"]
        settlement.payouts_submit = originals["submit"]


def counts() -> dict[str, int]:
    tables = [
        "payouts_earning",
        "payouts_journaltransaction",
        "payouts_journalentry",
        "payouts_payout",
        "payouts_sandboxtransfer",
    ]
    from django.db import connection

    out = {}
    with connection.cursor() as cur:
        for t in tables:
            cur.execute(f"SELECT COUNT(*) FROM {t}")
            out[t] = cur.fetchone()[0]
    return out


def check(ref_rows: int, ref_total: int) -> dict:
    """Spark's figures must equal the reference's, and the ledger must balance."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM payouts_earning WHERE kind = 'trip'; ")
        lines = cur.fetchone()[0]
        cur.execute("SELECT COALESCE(SUM(amount_cents), 0) FROM payouts_payout")
        paid = int(cur.fetchone()[0])
        cur.execute("SELECT COALESCE(SUM(amount_cents), 0) FROM payouts_journalentry")
        ledger_sum = int(cur.fetchone()[0])
        cur.execute("SELECT COUNT(*) FROM payouts_payout WHERE status <> 'paid'")
        unpaid = cur.fetchone()[0]
    return {
        "lines_match": lines == ref_rows,
        "paid_matches_reference": paid == ref_total,
        "ledger_sums_to_zero": ledger_sum == 0,
        "all_payouts_paid": unpaid == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=1_000_000)
    parser.add_argument("--drivers", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated data as a template database"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="start from the template a --keep run left (same sizes, same week)",
    )
    parser.add_argument("--trace", action="store_true", help="print the slowest statements")
    args = parser.parse_args()

    _recreate_database(from_template=args.reuse)
    _setup_django()
    t0 = time.perf_counter()
    city = _city() if args.reuse else generate(args.trips, args.drivers)
    generated = time.perf_counter() - t0
    if args.keep and not args.reuse:
        _keep_template()
    _checkpoint()
    ref_s, ref_rows, ref_total = reference(city["week"])
    _checkpoint()
    ours_s, phases = spark_settle(city["market_id"], city["period_start"], args.trace)
    after_first = counts()
    _checkpoint()
    again_s, _ = spark_settle(city["market_id"], city["period_start"])
    after_second = counts()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checks = check(ref_rows, ref_total)
    checks["rerun_wrote_nothing"] = after_first == after_second
    ratio = ours_s / ref_s
    report = {
        "goal": "P9",
        "trips": args.trips,
        "drivers": args.drivers,
        "generate_s": round(generated, 2),
        "reference_s": round(ref_s, 3),
        "spark_s": round(ours_s, 3),
        "ratio": round(ratio, 2),
        "rerun_s": round(again_s, 3),
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
        "peak_rss_mib": round(rss_mib, 1),
        "rows": after_first,
        "checks": checks,
        "pass": ours_s <= 10 and ratio <= 4 and rss_mib <= 1024 and all(checks.values()),
        "target": f"settlement of {args.trips:,} delivered trips <= 10 s and <= 4x the same-run "
        "set-based SQL; RSS <= 1 GiB; an idempotent re-run writes nothing",
        "measured": f"{ours_s:.2f} s vs SQL {ref_s:.2f} s = {ratio:.2f}x ("
        + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
        + f"); re-run {again_s:.2f} s, wrote nothing: {checks['rerun_wrote_nothing']}; "
        f"peak RSS {rss_mib:.0f} MiB; checks "
        + (
            "all ok"
            if all(checks.values())
            else "FAILED: " + ", ".join(k for k, v in checks.items() if not v)
        ),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    print(f"\n## P9 settlement: {args.trips:,} delivered trips, {args.drivers:,} drivers\n")
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| same-run SQL reference | {ref_s:.2f} s | - |")
    print(f"| Spark settlement | {ours_s:.2f} s | <= 10 s |")
    print(f"| ratio to reference | {ratio:.2f}x | <= 4x |")
    for name, seconds in phases.items():
        print(f"| - {name} | {seconds:.2f} s | |")
    wrote = "nothing" if checks["rerun_wrote_nothing"] else "ROWS"
    print(f"| idempotent re-run | {again_s:.2f} s (wrote {wrote}) | 0 new rows |")
    print(f"| peak RSS (Python process) | {rss_mib:.0f} MiB | <= 1024 MiB |")
    for name, ok in checks.items():
        print(f"| check: {name} | {'ok' if ok else 'FAILED'} | |")
    print(f"\nRows written: {after_first}. Data generation (not timed): {generated:.1f} s.")
    print(f"Result: {'PASS' if report['pass'] else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

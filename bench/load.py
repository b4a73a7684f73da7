"""Load tests L1 and L2 (RELIABILITY.md section 7) against a real gunicorn on PostgreSQL + Redis.

The server, its database and the shop's fixtures come from bench/bench_api.py (2 sync gunicorn
workers, a fresh migrated database, a merchant with a store, an API key and a webhook endpoint);
drivers and offers come from bench/fixtures.py. The load is a bounded asyncio client (aiohttp) on
loopback in this process.

L1, the mix: N virtual users (default 500), each waiting a think time between requests, pick 70 %
reads (a customer's tracking page, the driver's open offers, the driver's `me`), 20 % accepts of
their own open offers (every trip is offered to several drivers at once, so most accepts lose
with 409: a correct answer, not an error) and 10 % order creates through the shop API with an
Idempotency-Key. It runs for a fixed time (default 120 s; `--minutes 15` is the nightly run) and
reports p50/p95/p99 per class, the error rate, the 5xx count and the peak number of PostgreSQL
connections (polled from pg_stat_activity) against 80 % of max_connections.

L2, the accept storm: 1,000 drivers on 100 offered trips (10 drivers per trip) accept, arriving
at 100 a second as Locust would spawn them (`--storm-spawn-rate 0`: all in the same instant):
exactly 100 must win (checked in the responses and in the database), p95 accept latency.

    python bench/load.py [--users 500] [--seconds 120 | --minutes 15] [--only L1|L2] [--json out]
"""

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# A database and a Redis db of its own, so the API bench and this one never share rows.
os.environ["BENCH_DATABASE_URL"] = os.environ.get(
    "BENCH_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spark_bench_load"
)
os.environ["BENCH_REDIS_URL"] = os.environ.get("BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/13")

import aiohttp  # noqa: E402

from bench import bench_api as api  # noqa: E402

READ_P95_MS = 300.0
WRITE_P99_MS = 1000.0
MAX_ERROR_RATE = 0.001
PG_CONNECTION_SHARE = 0.8
STORM_P95_MS = 200.0
READS = ("track", "offers", "me")
WRITES = ("accept", "create")
MIX = {"track": 70 / 3, "offers": 70 / 3, "me": 70 / 3, "accept": 20.0, "create": 10.0}
EXPECTED = {"track": {200}, "offers": {200}, "me": {200}, "accept": {200, 409}, "create": {201}}


def _pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]


def _summary(latencies: list[float]) -> dict:
    return {
        "count": len(latencies),
        "p50_ms": _pct(latencies, 0.50),
        "p95_ms": _pct(latencies, 0.95),
        "p99_ms": _pct(latencies, 0.99),
    }


class PgConnections:
    """Polls pg_stat_activity from a thread: the peak number of backends while the load runs."""

    def __init__(self, dsn: str, interval: float = 0.5) -> None:
        import psycopg2

        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        with self.conn.cursor() as c:
            c.execute("SHOW max_connections")
            self.max_connections = int(c.fetchone()[0])
        self.interval = interval
        self.peak_total = self.peak_ours = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.conn.cursor() as c:
            while not self._stop.is_set():
                c.execute(
                    "SELECT count(*), count(*) FILTER (WHERE datname = current_database())"
                    " FROM pg_stat_activity WHERE backend_type = 'client backend'"
                )
                total, ours = c.fetchone()
                self.peak_total, self.peak_ours = (
                    max(self.peak_total, total),
                    max(self.peak_ours, ours),
                )
                self._stop.wait(self.interval)

    def __enter__(self) -> "PgConnections":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.conn.close()

    def figures(self) -> dict:
        limit = int(self.max_connections * PG_CONNECTION_SHARE)
        return {
            "peak_server": self.peak_total,
            "peak_bench_db": self.peak_ours,
            "max_connections": self.max_connections,
            "limit_80pct": limit,
            "pass": self.peak_total < limit,
        }


def _dsn() -> str:
    import environ

    cfg = environ.Env.db_url_config(api.BENCH_DB)
    return (
        f"host={cfg['HOST'] or '127.0.0.1'} port={cfg['PORT'] or 5432} user={cfg['USER']}"
        f" dbname={cfg['NAME']}" + (f" password={cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
    )


def _setup_django() -> None:
    os.environ.update(api._env())
    import django

    django.setup()


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(api.BENCH_REDIS).flushdb()


def _seed_pool(**kwargs: object) -> list[tuple[str, list[str]]]:
    from bench.fixtures import seed_offer_pool

    return seed_offer_pool(**kwargs)


class Client:
    """One aiohttp session for all virtual users; every request is timed and classified."""

    def __init__(self, base: str, store_id: str) -> None:
        self.base = base
        self.store_id = store_id
        self.session: aiohttp.ClientSession | None = None
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)

    async def __aenter__(self) -> "Client":
        # Sync gunicorn workers close every connection: a new one per request, no pool limit.
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def call(
        self, kind: str, method: str, path: str, *, token: str = "", body: dict | None = None
    ) -> tuple[int, dict | None]:
        headers = {}
        if token:
            headers["Authorization"] = token
        if kind == "create":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            async with self.session.request(
                method, self.base + path, json=body, headers=headers
            ) as resp:
                status = resp.status
                data = await resp.json() if kind == "create" and status == 201 else None
                await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, data = 0, None
            self.statuses[kind][type(exc).__name__] += 1
        self.latencies[kind].append((time.perf_counter() - started) * 1000)
        if status:
            self.statuses[kind][status] += 1
        return status, data

    async def create_order(self) -> str | None:
        """POST /api/v1/orders; returns the tracking page's path."""
        ext = uuid.uuid4().hex
        status, data = await self.call(
            "create",
            "POST",
            "/api/v1/orders",
            token=f"Bearer {api.API_KEY}",
            body=_order(ext, self.store_id),
        )
        return urlsplit(data["tracking_url"]).path if status == 201 and data else None

    def errors(self, kinds: tuple[str, ...]) -> tuple[int, int, int]:
        """(requests, errors, 5xx) over the given classes: an error is any unexpected answer."""
        total = errors = fivexx = 0
        for kind in kinds:
            for status, n in self.statuses[kind].items():
                total += n
                if status not in EXPECTED[kind]:
                    errors += n
                if isinstance(status, int) and status >= 500:
                    fivexx += n
        return total, errors, fivexx


def _order(ext: str, store_id: str) -> dict:
    return api.order_payload(store_id, ext)


async def _warm_up(client: Client, orders: int) -> list[str]:
    """Orders for the tracking pages (they also warm both workers); not part of the figures."""
    sem = asyncio.Semaphore(8)

    async def one() -> str | None:
        async with sem:
            return await client.create_order()

    paths = [p for p in await asyncio.gather(*(one() for _ in range(orders))) if p]
    client.latencies.clear()
    client.statuses.clear()
    return paths


async def _l1(
    client: Client,
    pool: list[tuple[str, list[str]]],
    tracks: list[str],
    *,
    seconds: float,
    think: float,
    spawn_rate: float,
) -> float:
    deadline = time.monotonic() + seconds
    kinds, weights = list(MIX), list(MIX.values())

    async def user(i: int, token: str, offers: list[str]) -> None:
        rng = random.Random(i)
        rng.shuffle(offers)
        next_offer = 0
        await asyncio.sleep(i / spawn_rate)  # ramp up like Locust's spawn rate
        auth = f"Token {token}"
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            if kind == "track":
                await client.call(kind, "GET", rng.choice(tracks))
            elif kind == "offers":
                await client.call(kind, "GET", "/api/v1/driver/offers", token=auth)
            elif kind == "me":
                await client.call(kind, "GET", "/api/v1/driver/me", token=auth)
            elif kind == "accept":
                offer = offers[next_offer % len(offers)]
                next_offer += 1
                await client.call(kind, "POST", f"/api/v1/driver/offers/{offer}/accept", token=auth)
            else:
                path = await client.create_order()
                if path:
                    tracks.append(path)
            pause = rng.uniform(0.5 * think, 1.5 * think)
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))

    started = time.monotonic()
    await asyncio.gather(*(user(i, tok, list(offs)) for i, (tok, offs) in enumerate(pool)))
    return time.monotonic() - started


async def _l2(client: Client, pool: list[tuple[str, list[str]]], spawn_rate: float) -> float:
    """Every driver accepts its one offer: all at once, or `spawn_rate` drivers a second."""
    pairs = [(tok, offers[0]) for tok, offers in pool]
    random.Random(2).shuffle(pairs)  # twins of one trip arrive mixed with the others

    async def driver(i: int, token: str, offer: str) -> None:
        if spawn_rate:
            await asyncio.sleep(i / spawn_rate)
        await client.call(
            "accept", "POST", f"/api/v1/driver/offers/{offer}/accept", token=f"Token {token}"
        )

    started = time.monotonic()
    await asyncio.gather(*(driver(i, tok, offer) for i, (tok, offer) in enumerate(pairs)))
    return time.monotonic() - started


def _winners_in_db(pool: list[tuple[str, list[str]]]) -> dict:
    from django.db.models import Count

    from dispatch.models import Offer, Trip

    offer_ids = [o for _, offers in pool for o in offers]
    accepted = Offer.objects.filter(public_id__in=offer_ids, status="accepted")
    trip_ids = set(Offer.objects.filter(public_id__in=offer_ids).values_list("trip_id", flat=True))
    per_trip = accepted.values("trip_id").annotate(n=Count("id")).filter(n__gt=1).count()
    return {
        "trips": len(trip_ids),
        "accepted_offers": accepted.count(),
        "assigned_trips": Trip.objects.filter(id__in=trip_ids, status="assigned").count(),
        "trips_with_two_winners": per_trip,
    }


def _l1_figures(client: Client, wall: float, pg: dict, users: int, cpu: float) -> dict:
    classes = {k: _summary(client.latencies[k]) for k in MIX}
    reads = _summary([x for k in READS for x in client.latencies[k]])
    writes = _summary([x for k in WRITES for x in client.latencies[k]])
    total, errors, fivexx = client.errors(tuple(MIX))
    statuses = {k: {str(s): n for s, n in client.statuses[k].items()} for k in MIX}
    rate = errors / total if total else 1.0
    result = {
        "users": users,
        "seconds": round(wall, 1),
        "requests": total,
        "rps": round(total / wall, 1),
        "classes": classes,
        "reads": reads,
        "writes": writes,
        "statuses": statuses,
        "errors": errors,
        "error_rate": rate,
        "5xx": fivexx,
        "accept_winners": client.statuses["accept"][200],
        "pg_connections": pg,
        "client_cpu_cores": round(cpu / wall, 2),
    }
    result["checks"] = {
        "reads_p95": reads["p95_ms"] is not None and reads["p95_ms"] < READ_P95_MS,
        "writes_p99": writes["p99_ms"] is not None and writes["p99_ms"] < WRITE_P99_MS,
        "error_rate": rate < MAX_ERROR_RATE,
        "no_5xx": fivexx == 0,
        "pg_connections": pg["pass"],
    }
    result["pass"] = all(result["checks"].values())
    return result


def _l2_figures(client: Client, wall: float, pool: list, trips: int, db: dict, pg: dict) -> dict:
    lat = _summary(client.latencies["accept"])
    codes = client.statuses["accept"]
    total, errors, fivexx = client.errors(("accept",))
    result = {
        "drivers": len(pool),
        "trips": trips,
        "seconds": round(wall, 2),
        "winners_http": codes[200],
        "losers_409": codes[409],
        "errors": errors,
        "5xx": fivexx,
        "statuses": {str(s): n for s, n in codes.items()},
        "accept": lat,
        "db": db,
        "pg_connections": pg,
    }
    result["checks"] = {
        "exactly_n_winners": codes[200] == trips
        and db["accepted_offers"] == trips
        and db["assigned_trips"] == trips
        and db["trips_with_two_winners"] == 0,
        "accept_p95": lat["p95_ms"] is not None and lat["p95_ms"] < STORM_P95_MS,
        "no_errors": errors == 0,
    }
    result["pass"] = all(result["checks"].values())
    return result


async def _run(args: argparse.Namespace, ids: dict, l1_pool: list, l2_pool: list) -> dict:
    port = api._free_port()
    server = api._start_gunicorn(port)
    results: dict = {}
    try:
        base = f"http://127.0.0.1:{port}"
        if l1_pool:
            async with Client(base, ids["store_id"]) as client:
                tracks = await _warm_up(client, args.tracked_orders)
                cpu0 = _cpu()
                with PgConnections(_dsn()) as pg:
                    wall = await _l1(
                        client,
                        l1_pool,
                        tracks,
                        seconds=args.seconds,
                        think=args.think,
                        spawn_rate=args.spawn_rate,
                    )
                results["L1"] = _l1_figures(client, wall, pg.figures(), len(l1_pool), _cpu() - cpu0)
                results["L1"] |= {"think_s": args.think, "spawn_rate": args.spawn_rate}
        if l2_pool:
            async with Client(base, ids["store_id"]) as client:
                with PgConnections(_dsn()) as pg:
                    wall = await _l2(client, l2_pool, args.storm_spawn_rate)
                db = await asyncio.to_thread(_winners_in_db, l2_pool)
                results["L2"] = _l2_figures(
                    client, wall, l2_pool, args.storm_trips, db, pg.figures()
                )
                results["L2"]["spawn_rate"] = args.storm_spawn_rate or "all at once"
    finally:
        server.terminate()
        server.wait(timeout=10)
    return results


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _print(results: dict) -> None:
    if "L1" in results:
        r = results["L1"]
        print(
            f"L1: {r['users']} users, {r['seconds']} s, {r['requests']} requests"
            f" ({r['rps']} req/s), client used {r['client_cpu_cores']} cores"
        )
        print("| class | requests | p50 ms | p95 ms | p99 ms | statuses |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for name, s in [
            *r["classes"].items(),
            ("all reads", r["reads"]),
            ("all writes", r["writes"]),
        ]:
            codes = r["statuses"].get(name, {})
            print(
                f"| {name} | {s['count']} | {_ms(s['p50_ms'])} | {_ms(s['p95_ms'])} |"
                f" {_ms(s['p99_ms'])} | {', '.join(f'{k}: {v}' for k, v in codes.items())} |"
            )
        pg = r["pg_connections"]
        print(
            f"errors {r['errors']} ({r['error_rate']:.4%}), 5xx {r['5xx']}, accept winners"
            f" {r['accept_winners']}; PostgreSQL peak {pg['peak_server']} connections"
            f" ({pg['peak_bench_db']} on the bench db) vs 80 % of {pg['max_connections']} ="
            f" {pg['limit_80pct']}"
        )
        print("L1 checks:", _checks(r))
    if "L2" in results:
        r = results["L2"]
        a = r["accept"]
        print(
            f"L2: {r['drivers']} drivers on {r['trips']} trips in {r['seconds']} s: winners"
            f" {r['winners_http']} (db: {r['db']['accepted_offers']} accepted offers,"
            f" {r['db']['assigned_trips']} assigned trips), 409 {r['losers_409']}, errors"
            f" {r['errors']}; accept p50 {_ms(a['p50_ms'])} p95 {_ms(a['p95_ms'])}"
            f" p99 {_ms(a['p99_ms'])} ms"
        )
        print("L2 checks:", _checks(r))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _checks(r: dict) -> str:
    return ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in r["checks"].items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--minutes", type=float, help="overrides --seconds (nightly: 15)")
    parser.add_argument(
        "--think", type=float, default=4.0, help="mean seconds between a user's requests"
    )
    parser.add_argument("--spawn-rate", type=float, default=50, help="users started per second")
    parser.add_argument("--drivers-per-trip", type=int, default=4)
    parser.add_argument("--tracked-orders", type=int, default=200)
    parser.add_argument("--storm-drivers", type=int, default=1000)
    parser.add_argument("--storm-trips", type=int, default=100)
    parser.add_argument(
        "--storm-spawn-rate",
        type=float,
        default=100,
        help="drivers a second, as Locust spawns users (0: all 1,000 in the same instant, a"
        " stress beyond the row: they queue behind the workers)",
    )
    parser.add_argument("--only", choices=("L1", "L2"))
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.minutes:
        args.seconds = args.minutes * 60
    ids = api._prepare()
    _setup_django()
    _flush_redis()
    l1_pool, l2_pool = [], []
    if args.only != "L2":
        # Enough fresh offers that no user runs out of them within the run.
        accepts_per_user = args.seconds / args.think * MIX["accept"] / 100
        per_user = int(accepts_per_user * 1.5) + 4
        users = args.users - args.users % args.drivers_per_trip
        l1_pool = _seed_pool(
            drivers=users,
            offers_per_driver=per_user,
            drivers_per_trip=args.drivers_per_trip,
            prefix="l1",
        )
    if args.only != "L1":
        l2_pool = _seed_pool(
            drivers=args.storm_drivers,
            offers_per_driver=1,
            drivers_per_trip=args.storm_drivers // args.storm_trips,
            prefix="l2",
        )
    from django.db import connections

    connections.close_all()  # the seeding connection is not part of the load
    load_before = os.getloadavg()[0]
    results = asyncio.run(_run(args, ids, l1_pool, l2_pool))
    results["loadavg_1min"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    _flush_redis()
    _print(results)
    print(
        "load average (1 min) before and after, all processes on the machine:",
        results["loadavg_1min"],
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

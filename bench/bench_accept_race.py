"""The race half of PERFORMANCE.md goal P7: exactly one winner when 32 drivers race for one
offer, over 1,000 trials, and expired offers always rejected.

Each trial offers one trip to the same 32 approved drivers at once (broadcast twins) and
releases 32 threads, each on its own PostgreSQL connection, into `offer_accept` through a
barrier. The database must then hold exactly one accepted offer for the trip, the trip must
belong to the driver who got the win, and the 31 others must have had a 409. The won trip is
then marked completed so the drivers are free for the next trial. Afterwards, accepts of
offers that expired a moment ago must all fail with `offer_expired` and change nothing.

    python bench/bench_accept_race.py [--trials 1000] [--drivers 32] [--json out.json]
"""

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spark_bench_race")


def _setup() -> None:
    from bench import bench_api

    bench_api._prepare()  # fresh database, migrated, with the bench market and store
    os.environ.update(
        {
            "DATABASE_URL": bench_api.BENCH_DB,
            "REDIS_URL": bench_api.BENCH_REDIS,
            "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        }
    )
    import django

    django.setup()


def _seed(trials: int, drivers: int, expired: int) -> tuple[list, list[list[str]], list]:
    """(drivers, per trial the offers in driver order, the expired offers with their driver)."""
    import datetime as dt

    from django.utils import timezone

    from bench.fixtures import _offers, seed_drivers
    from dispatch.models import Offer
    from orders.models import Market

    market = Market.objects.get(slug="bench")
    racers, _ = seed_drivers(market=market, count=drivers, prefix="racer")
    offers = _offers(market, [(t, d) for t in range(trials) for d in racers])
    by_trial = [
        [str(o.public_id) for o in offers[t * drivers : (t + 1) * drivers]] for t in range(trials)
    ]
    late, _ = seed_drivers(market=market, count=expired, prefix="late")
    stale = _offers(market, [(trials + i, d) for i, d in enumerate(late)])
    Offer.objects.filter(id__in=[o.id for o in stale]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    return racers, by_trial, [(str(o.public_id), o.driver_id) for o in stale]


def race(trials: int, drivers: int, expired: int) -> dict:
    from django.db import connection

    from dispatch import services
    from dispatch.models import Offer, Trip
    from spark.lib.actors import Actor
    from spark.lib.errors import ApplicationError

    racers, by_trial, stale = _seed(trials, drivers, expired)
    start = threading.Barrier(drivers + 1)
    done = threading.Barrier(drivers + 1)
    outcome: list[list] = [[None] * drivers for _ in range(trials)]
    latencies: list[float] = []
    lock = threading.Lock()

    def racer(i: int) -> None:
        driver_id = racers[i].id
        actor = Actor(label=f"driver:{driver_id}")
        mine = []
        try:
            for t in range(trials):
                start.wait()
                t0 = time.perf_counter()
                try:
                    services.offer_accept(
                        offer_public_id=by_trial[t][i], driver_id=driver_id, actor=actor
                    )
                    outcome[t][i] = "won"
                except ApplicationError as exc:
                    outcome[t][i] = exc.status_code
                except Exception as exc:  # a 5xx in the API: counted, never hidden
                    outcome[t][i] = f"error: {type(exc).__name__}"
                mine.append((time.perf_counter() - t0) * 1000)
                done.wait()
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(drivers)]
    for t in threads:
        t.start()
    winners_per_trial: Counter = Counter()
    db_mismatches = 0
    losers: Counter = Counter()
    t0 = time.perf_counter()
    for t in range(trials):
        start.wait()
        done.wait()
        won = [i for i, o in enumerate(outcome[t]) if o == "won"]
        winners_per_trial[len(won)] += 1
        losers.update(o for o in outcome[t] if o != "won")
        accepted = list(
            Offer.objects.filter(
                public_id__in=by_trial[t], status=Offer.Status.ACCEPTED
            ).values_list("driver_id", "trip_id")
        )
        trip = Trip.objects.get(offers__public_id=by_trial[t][0])
        if len(accepted) != 1 or len(won) != 1 or trip.driver_id != racers[won[0]].id:
            db_mismatches += 1
        Trip.objects.filter(id=trip.id).update(status=Trip.Status.COMPLETED)
    elapsed = time.perf_counter() - t0
    for t in threads:
        t.join()

    rejected = 0
    for public_id, driver_id in stale:
        try:
            services.offer_accept(
                offer_public_id=public_id, driver_id=driver_id, actor=Actor.system("bench")
            )
        except ApplicationError as exc:
            rejected += exc.code == "offer_expired"
    untouched = (
        not Offer.objects.filter(
            public_id__in=[p for p, _ in stale], status=Offer.Status.ACCEPTED
        ).exists()
        and not Trip.objects.filter(
            offers__public_id__in=[p for p, _ in stale], status=Trip.Status.ASSIGNED
        ).exists()
    )
    latencies.sort()
    exactly_one = winners_per_trial == Counter({1: trials}) and db_mismatches == 0
    errors = sum(n for o, n in losers.items() if not isinstance(o, int) or o >= 500)
    return {
        "trials": trials,
        "drivers_per_trial": drivers,
        "winners_per_trial": {str(k): v for k, v in sorted(winners_per_trial.items())},
        "database_mismatches": db_mismatches,
        "loser_statuses": {str(k): v for k, v in losers.items()},
        "server_errors": errors,
        "accept_p50_ms": latencies[len(latencies) // 2],
        "accept_p99_ms": latencies[int(len(latencies) * 0.99)],
        "seconds": elapsed,
        "expired_attempts": len(stale),
        "expired_rejected": rejected,
        "expired_untouched": untouched,
        "pass": exactly_one and errors == 0 and rejected == len(stale) and untouched,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--drivers", type=int, default=32)
    parser.add_argument("--expired", type=int, default=100)
    parser.add_argument("--json")
    args = parser.parse_args()
    _setup()
    result = race(args.trials, args.drivers, args.expired)
    print(
        f"P7 race: {result['trials']} trials x {result['drivers_per_trial']} drivers: winners "
        f"per trial {result['winners_per_trial']}, {result['database_mismatches']} database "
        f"mismatches, {result['server_errors']} server errors; losers "
        f"{result['loser_statuses']}; accept p50 {result['accept_p50_ms']:.1f} ms, p99 "
        f"{result['accept_p99_ms']:.1f} ms under the race; expired offers rejected "
        f"{result['expired_rejected']}/{result['expired_attempts']}: "
        f"{'PASS' if result['pass'] else 'FAIL'} ({result['seconds']:.1f} s)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

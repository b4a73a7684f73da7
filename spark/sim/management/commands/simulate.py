"""`manage.py simulate`: a seeded city day on the real services, in simulated time.

    python manage.py simulate --market nashville --orders 5000 --drivers 500 --hours 12 --seed 1

Runs against the configured database (embedded SQLite by default, PostgreSQL with DATABASE_URL)
in a market of its own (`<city>-sim-<n>`), and writes report.json, report.md and PNG charts to
var/sim/<market>-seed<seed>-<policy>[-nobatch]/ (or --out). See docs/simulator.md.
"""

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from spark.sim import report
from spark.sim.runner import Params, Simulation
from spark.sim.world import start_hour_for

STORE_CLOSES_H = 23.0  # the demo stores' hours: 07:00-23:00


class Command(BaseCommand):
    help = "Simulate a city day (orders, dispatch, drivers, pay) on the real services."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--market", default="nashville", help="A city of the demo seed.")
        parser.add_argument("--orders", type=int, default=5000)
        parser.add_argument("--drivers", type=int, default=500)
        parser.add_argument("--hours", type=float, default=12.0)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--policy", choices=("optimal", "greedy"), default="optimal")
        parser.add_argument(
            "--batching",
            action="store_true",
            default=True,
            help="Several orders of one store per trip where it pays (the default).",
        )
        parser.add_argument("--no-batching", dest="batching", action="store_false")
        parser.add_argument(
            "--paired-greedy",
            action="store_true",
            help="Also solve every round with greedy on the same inputs (nothing offered from"
            " it) and report both answers' pickup km: P3 on the day, paired.",
        )
        parser.add_argument("--round-seconds", type=float, default=60.0)
        parser.add_argument("--give-up-minutes", type=float, default=45.0)
        parser.add_argument("--out", help="Report directory (default var/sim/<run>/).")
        parser.add_argument("--no-charts", dest="charts", action="store_false", default=True)
        parser.add_argument("--no-progress", dest="progress", action="store_false", default=True)

    def handle(self, *args: Any, **o: Any) -> None:
        self._check(o)
        params = Params(
            city=o["market"],
            orders=o["orders"],
            drivers=o["drivers"],
            hours=o["hours"],
            seed=o["seed"],
            policy=o["policy"],
            batching=o["batching"],
            round_seconds=o["round_seconds"],
            give_up_minutes=o["give_up_minutes"],
            progress=o["progress"],
            paired_greedy=o["paired_greedy"],
        )
        started = time.perf_counter()
        try:
            sim = Simulation(params)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        sim.run()
        made = time.perf_counter()
        result = report.build(sim)
        result["timings"]["report_s"] = round(time.perf_counter() - made, 2)
        result["timings"]["total_s"] = round(time.perf_counter() - started, 2)
        out = Path(o["out"]) if o["out"] else settings.VAR_DIR / "sim" / _run_name(sim)
        report.write(result, out, charts=o["charts"])
        self.stdout.write(report.markdown(result))
        self.stdout.write(
            f"\nWrote {out}/report.json, report.md" + (", charts" if o["charts"] else "")
        )

    def _check(self, o: dict[str, Any]) -> None:
        if o["orders"] < 1 or o["drivers"] < 1:
            raise CommandError("--orders and --drivers must be at least 1.")
        if not 0 < o["hours"] <= 14:
            raise CommandError("--hours must be more than 0 and at most 14 (one store day).")
        if start_hour_for(o["hours"]) + o["hours"] > STORE_CLOSES_H:
            raise CommandError("The day would run past the stores' closing time.")
        if not 5 <= o["round_seconds"] <= 600:
            raise CommandError("--round-seconds must be between 5 and 600.")


def _run_name(sim: Simulation) -> str:
    p = sim.p
    return f"{sim.market.slug}-seed{p.seed}-{p.policy}{'' if p.batching else '-nobatch'}"

"""P11 and the policy comparison on the simulated city day (PERFORMANCE.md P3, P4, P11).

P11: `manage.py simulate` with 5,000 orders, 500 drivers and 12 hours, on a fresh embedded SQLite
file and on a fresh PostgreSQL database (with Redis for the positions, as in production), against
the 120 s wall budget "on the reference machine"; the dispatch rounds inside it against P2's 1 s.
The reference machine is known by PERFORMANCE.md's anchors; this VM's speed varies 2-4x from one
hour to the next, so the run times two anchors before and after the days (`machine_speed`):
the dense linear_sum_assignment of 1,000 x 2,000 Euclidean points (13-14 ms there: the CPU),
and a bare DRF ModelSerializer create on PostgreSQL under wrk (0.8-0.87k req/s there: Django,
psycopg2 and PostgreSQL on the same two cores, waiting on the disk at each commit). P11 is
judged on the wall time scaled by the CPU anchor; for the PostgreSQL day an estimate with its
wait on the server scaled by the stack anchor is shown beside it (`on_reference`).

Policies: the same seeded day with the optimal matching and the greedy FIFO baseline, each with
and without batching, over 5 seeds. P3 on the day: every round of the optimal day is also solved
by greedy on the same inputs, and pickup-km per assigned order is compared (never > 1.0 on a
seed, the regression guard); the two separate days are compared too, for information. P4 on the
day: driver-km, batching over none (<= 0.65 on the static burst). A day is the same whatever
the database (the reports are identical), so the policy days run on SQLite.

    python bench/bench_sim.py [--smoke] [--skip-p11] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_SIM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spark_bench_sim")
REDIS = os.environ.get("BENCH_SIM_REDIS_URL", "redis://127.0.0.1:6379/9")
P11_DAY = {"orders": 5000, "drivers": 500, "hours": 12, "seed": 1}
P11_SMOKE = {"orders": 300, "drivers": 30, "hours": 2, "seed": 1}
POLICY_DAY = {"orders": 300, "drivers": 40, "hours": 3}
POLICY_SMOKE = {"orders": 60, "drivers": 12, "hours": 1.5}
COMBOS = [("optimal", True), ("greedy", True), ("optimal", False), ("greedy", False)]
P11_BUDGET_S = 120.0
P2_BUDGET_MS = 1000.0
REFERENCE_LSA_MS = 13.5  # PERFORMANCE.md's anchors: dense LSA 1000 x 2000 takes 13-14 ms there
REFERENCE_BARE_CREATE_RPS = 835.0  # and a bare DRF create on PostgreSQL, 0.8-0.87k req/s


def lsa_anchor_ms(repeats: int = 15) -> float:
    """The median time of PERFORMANCE.md's anchor on this machine, now: scipy's dense
    linear_sum_assignment on 1,000 x 2,000 uniform points (the matrix built untimed), as P1's
    same-run reference times it."""
    from bench.instances import lsa_reference_cost

    cost = lsa_reference_cost(1000, 2000, side_km=30.0)
    linear_sum_assignment(cost)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        linear_sum_assignment(cost)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def stack_anchor_rps(seconds: int = 8) -> float | None:
    """PERFORMANCE.md's stack anchor on this machine, now: req/s of bench_api's bare DRF
    ModelSerializer create into the orders table (gunicorn with 2 sync workers, wrk with 8
    connections, a fresh PostgreSQL database), as P6's same-run baseline measures it. None
    without wrk (scripts/ensure_wrk.sh)."""
    import shutil

    from bench import bench_api

    if not shutil.which("wrk"):
        return None
    ids = bench_api._prepare()
    server = bench_api._start_gunicorn(port := bench_api._free_port())
    try:
        url, headers = f"http://127.0.0.1:{port}/bench/bare-create", bench_api.JSON_HEADERS
        body = json.dumps(bench_api.bare_create_payload(ids))
        bench_api._wrk(url, 2, 8, body, headers)  # warm-up: both workers connected
        return bench_api._wrk(url, seconds, 8, body, headers)["rps"]
    finally:
        server.kill()
        server.wait()


def machine_speed(
    before_ms: float,
    after_ms: float,
    stack_before: float | None = None,
    stack_after: float | None = None,
) -> dict:
    """How many times slower than the reference machine this one ran, by each anchor (timed
    before and after the days: their mean)."""
    probe = (before_ms + after_ms) / 2
    speed = {
        "anchor_ms_before": round(before_ms, 1),
        "anchor_ms_after": round(after_ms, 1),
        "reference_ms": REFERENCE_LSA_MS,
        "slowdown": round(probe / REFERENCE_LSA_MS, 2),
    }
    if stack_before and stack_after:
        rps = (stack_before + stack_after) / 2
        speed |= {
            "stack_rps_before": round(stack_before),
            "stack_rps_after": round(stack_after),
            "stack_reference_rps": REFERENCE_BARE_CREATE_RPS,
            "stack_slowdown": round(REFERENCE_BARE_CREATE_RPS / rps, 2),
        }
    return speed


def on_reference(row: dict, speed: dict) -> None:
    """The day's wall time on the reference machine, judged by the CPU anchor. For the
    PostgreSQL day, also an estimate with the time it waits on the server (wall minus this
    process's CPU) scaled by the stack anchor instead: information, since that anchor's bare
    create also waits on the disk at every commit, which the day does not."""
    row["wall_on_reference_s"] = round(row["wall_s"] / speed["slowdown"], 1)
    row["pass_wall"] = row["wall_on_reference_s"] <= P11_BUDGET_S
    if row["database"] == "postgresql" and "stack_slowdown" in speed:
        wait = max(row["wall_s"] - row["cpu_s"], 0.0)
        split = row["cpu_s"] / speed["slowdown"] + wait / speed["stack_slowdown"]
        row["wall_split_estimate_s"] = round(split, 1)


class Database:
    """A fresh scratch database for the runs: an SQLite file, or a PostgreSQL database."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.var = Path(tempfile.mkdtemp(prefix=f"spark-sim-{kind}-"))
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env |= {"SPARK_VAR_DIR": str(self.var), "DJANGO_SETTINGS_MODULE": "spark.settings"}
        if kind == "postgresql":
            env |= {"DATABASE_URL": PG, "REDIS_URL": REDIS}
            from bench.bench_api import _PREPARE_DB

            subprocess.run([sys.executable, "-c", _PREPARE_DB], env=env, check=True, cwd=ROOT)
            import redis

            redis.Redis.from_url(REDIS).flushdb()  # the bench's own Redis database
        self.env = env
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
        )

    def simulate(
        self, *, policy: str = "optimal", batching: bool = True, paired: bool = False, **day: object
    ) -> dict:
        out = self.var / f"run-{len(list(self.var.glob('run-*')))}"
        args = [f"--{k}={v}" for k, v in day.items()]
        args += [f"--policy={policy}", "--batching" if batching else "--no-batching"]
        args += ["--paired-greedy"] if paired else []
        proc = subprocess.run(
            [sys.executable, "manage.py", "simulate", *args, "--out", str(out), "--no-charts"],
            env=self.env | {"PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            text=True,
            capture_output=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"simulate {args} failed:\n{proc.stderr[-3000:]}")
        return json.loads((out / "report.json").read_text())


def p11(db: Database, day: dict) -> dict:
    r = db.simulate(**day)
    t = r["timings"]
    wall = t["total_s"]
    return {
        "database": db.kind,
        "day": day,
        "wall_s": wall,
        "day_s": t["day_s"],
        "cpu_s": round(t.get("cpu_s", 0.0), 1),
        "round_ms_p50": t["round_wall_ms_p50"],
        "round_ms_p95": t["round_wall_ms_p95"],
        "round_ms_max": t["round_wall_ms_max"],
        "rounds": r["dispatch"]["rounds"],
        "delivered": r["orders"]["delivered"],
        "steps": t["steps"],
        "pass_wall": wall <= P11_BUDGET_S,  # on this machine; main() rescales it
        "pass_rounds": (t["round_wall_ms_p95"] or 0) <= P2_BUDGET_MS,
        "report": {k: r[k] for k in ("orders", "service", "driving", "offers", "earnings")},
    }


def policies(db: Database, day: dict, seeds: list[int]) -> dict:
    runs = []
    for seed in seeds:
        for policy, batching in COMBOS:
            # the optimal day with batching also solves each round with greedy (P3 paired)
            paired = (policy, batching) == ("optimal", True)
            r = db.simulate(policy=policy, batching=batching, paired=paired, seed=seed, **day)
            runs.append(_summary(r, seed, policy, batching))
            print(f"  seed {seed} {policy:<7} batching={batching!s:<5} {runs[-1]}", flush=True)
    return {"day": day, "seeds": seeds, "runs": runs, **_ratios(runs, seeds)}


def _summary(r: dict, seed: int, policy: str, batching: bool) -> dict:
    o, s, d, off = r["orders"], r["service"], r["driving"], r["offers"]
    return {
        "seed": seed,
        "policy": policy,
        "batching": batching,
        "delivered": o["delivered"],
        "unassigned": o["unassigned"],
        "pickup_km": off["pickup_km_accepted"],
        "km_total": d["km_total"],
        "km_per_delivery": d["km_per_delivery"],
        "assign_p50": s["assign_minutes_p50"],
        "door_p50": s["click_to_door_minutes_p50"],
        "door_p90": s["click_to_door_minutes_p90"],
        "on_time": s["on_time_rate"],
        "by_quote": s["by_quoted_eta_rate"],
        "acceptance": off["acceptance_rate"],
        "utilisation": d["utilisation"],
        "paired_greedy": r.get("paired_greedy"),
    }


def _pick(runs: list[dict], seed: int, policy: str, batching: bool) -> dict:
    return next(
        r for r in runs if (r["seed"], r["policy"], r["batching"]) == (seed, policy, batching)
    )


def _ratios(runs: list[dict], seeds: list[int]) -> dict:
    """Per seed: P3 = pickup-km per assigned order, optimal / greedy, both solving every round
    of the optimal day on identical inputs (paired); P3 unpaired = pickup-km per delivery of the
    optimal day over the greedy day, which drift apart (a different match frees different
    drivers, declines re-pool trips); P4 = driver-km per delivery batching / none (optimal).
    Per delivery, because the policies deliver a slightly different number of orders."""
    p3, p3_days, p4 = [], [], []
    for seed in seeds:
        opt, greedy = _pick(runs, seed, "optimal", True), _pick(runs, seed, "greedy", True)
        single = _pick(runs, seed, "optimal", False)
        p3.append(opt["paired_greedy"]["ratio"])
        p3_days.append(
            round(
                (opt["pickup_km"] / opt["delivered"]) / (greedy["pickup_km"] / greedy["delivered"]),
                3,
            )
        )
        p4.append(round(opt["km_per_delivery"] / single["km_per_delivery"], 3))
    return {
        "p3": {"per_seed": p3, "mean": round(statistics.mean(p3), 3), "worst": max(p3)},
        "p3_days": {
            "per_seed": p3_days,
            "mean": round(statistics.mean(p3_days), 3),
            "worst": max(p3_days),
        },
        "p4": {"per_seed": p4, "mean": round(statistics.mean(p4), 3), "worst": max(p4)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--skip-p11", action="store_true")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--json")
    args = parser.parse_args()
    result: dict = {"smoke": args.smoke, "p11": []}
    sqlite = Database("sqlite")
    if not args.skip_p11:
        day = P11_SMOKE if args.smoke else P11_DAY
        before = lsa_anchor_ms()
        stack_before = None if args.smoke else stack_anchor_rps()
        result["p11"].append(p11(sqlite, day))
        if not args.smoke:
            result["p11"].append(p11(Database("postgresql"), day))
        stack_after = None if args.smoke else stack_anchor_rps()
        speed = result["machine"] = machine_speed(
            before, lsa_anchor_ms(), stack_before, stack_after
        )
        for row in result["p11"]:
            on_reference(row, speed)
            split = row.get("wall_split_estimate_s")
            print(
                f"P11 {row['database']}: {row['wall_s']} s wall, {row['cpu_s']} s CPU;"
                f" {row['wall_on_reference_s']} s on the reference machine (this one"
                f" {speed['slowdown']}x slower by the CPU anchor)"
                + (f"; {split} s with the wait scaled by the stack anchor" if split else ""),
                flush=True,
            )
    seeds = list(range(1, (args.seeds or (1 if args.smoke else 5)) + 1))
    result["policy"] = policies(sqlite, POLICY_SMOKE if args.smoke else POLICY_DAY, seeds)
    print(json.dumps({k: result["policy"][k] for k in ("p3", "p4")}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""`make bench`: every benchmark of PERFORMANCE.md that exists, with same-run baselines, written
to docs/benchmarks.md (machine, versions, figures, ratios, pass or fail per goal).

    python bench/run.py            # the full run (M sizes, 15 s loads): several minutes
    python bench/run.py --smoke    # S sizes and 3 s loads: a quick correctness-and-ratio check
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PACKAGES = (
    "Django",
    "djangorestframework",
    "celery",
    "psycopg2-binary",
    "numpy",
    "scipy",
    "pyvrp",
    "gunicorn",
)


def _run(name: str, args: list[str], out: Path) -> dict | None:
    print(f"==> {name}: {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [PY, *args, "--json", str(out)], cwd=ROOT, env=os.environ, text=True, capture_output=True
    )
    print(proc.stdout[-3000:], flush=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr, flush=True)
    return json.loads(out.read_text()) if out.exists() else None


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in PACKAGES if _has(p))
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()},"
        f" {pg or 'psql not found'}; {versions}"
    )


def _has(package: str) -> bool:
    try:
        metadata.version(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    size = "S" if args.smoke else "M"
    seconds = "3" if args.smoke else "15"
    engine = _run(
        "engine (P1, P3, P4, P5)",
        [
            "bench/bench_engine.py",
            "--size",
            size,
            "--seeds",
            "2" if args.smoke else "5",
            "--repeats",
            "5" if args.smoke else "20",
        ],
        tmp / "engine.json",
    )
    round_ = _run(
        "round on PostgreSQL (P2)",
        ["bench/bench_round.py", "--size", size, "--repeats", "3"],
        tmp / "round.json",
    )
    api = _run(
        "API load (P6, P7, P8)",
        [
            "bench/bench_api.py",
            "--seconds",
            seconds,
            "--accept-pairs",
            "1500" if args.smoke else "6000",
        ],
        tmp / "api.json",
    )
    settle = None
    if (ROOT / "bench" / "bench_settlement.py").exists():
        settle = _run(
            "settlement (P9)",
            ["bench/bench_settlement.py", "--trips", "20000" if args.smoke else "1000000"],
            tmp / "settle.json",
        )
    rows = _rows(engine, round_, api, settle)
    text = _markdown(rows, smoke=args.smoke)
    if not args.smoke:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)
    failed = [r for r in rows if r[3] == "FAIL"]
    sys.exit(1 if (args.smoke and any(r[0] in ("P1", "P3") for r in failed)) else 0)


def _rows(
    engine: dict | None, round_: dict | None, api: dict | None, settle: dict | None
) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    if engine:
        for row in engine.get("rows", []):
            passed = row.get("passed")
            rows.append(
                (
                    row["goal"],
                    row["target"],
                    row["measured"],
                    "info" if passed is None else _mark(passed),
                )
            )
    if round_:
        rows.append(
            (
                "P2",
                f"p95 <= {round_['goal_ms']} ms ({round_['orders']} x {round_['drivers']})",
                f"p95 {round_['wall_ms_p95']} ms (p50 "
                f"{round_['wall_ms_p50']}, engine {round_['engine_ms_p50']} ms, "
                f"{round_['offers']} offers)",
                _mark(round_["pass"]),
            )
        )
    if api:
        p6 = api["p6"]
        rows.append(
            (
                "P6",
                ">= 0.6x bare create, p99 <= 2x",
                f"{p6['rps_ratio']:.2f}x ({api['post_orders']['rps']:.0f} vs "
                f"{api['bare_drf_create']['rps']:.0f} req/s), p99 {p6['p99_ratio']:.2f}x",
                _mark(p6["pass"]),
            )
        )
        if "p7" in api:
            rows.append(
                (
                    "P7",
                    ">= 0.8x bare create, p99 <= 30 ms",
                    f"{api['p7']['rps_ratio']:.2f}x ({api['offer_accept']['rps']:.0f} "
                    f"req/s), p99 {api['p7']['p99_ms']:.1f} ms",
                    _mark(api["p7"]["pass"]),
                )
            )
            rows.append(
                (
                    "P8",
                    ">= 0.8x bare DRF JSON",
                    f"{api['p8']['rps_ratio']:.2f}x ({api['driver_location']['rps']:.0f} vs"
                    f" {api['bare_drf_json']['rps']:.0f} req/s)",
                    _mark(api["p8"]["pass"]),
                )
            )
    if settle:
        rows.append(
            (
                "P9",
                settle.get("target", "<= 10 s and <= 4x SQL"),
                settle.get("measured", json.dumps(settle)[:120]),
                _mark(settle.get("pass")),
            )
        )
    return rows


def _markdown(rows: list[tuple[str, str, str, str]], *, smoke: bool) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Spark benchmarks",
        "",
        f"Measured {now} with `make bench` ({'smoke' if smoke else 'full'} run) on {_machine()}.",
        "Ratios are against baselines measured in the same run (PERFORMANCE.md); absolute times",
        "on a shared 2-core machine are informative only.",
        "",
        "| goal | target | measured | result |",
        "| --- | --- | --- | --- |",
        *[f"| {g} | {t} | {m} | {r} |" for g, t, m, r in rows],
        "",
        "Reproduce one goal: `python bench/bench_engine.py --size M` (P1, P3-P5),",
        "`python bench/bench_round.py --size M` (P2), `python bench/bench_api.py` (P6-P8),",
        "`python bench/bench_settlement.py` (P9). Each prints its own table; `--json` saves it.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

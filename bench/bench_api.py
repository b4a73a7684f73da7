"""API load benchmark (PERFORMANCE.md goal P6, design item 4).

Starts gunicorn (2 sync workers) on PostgreSQL + Redis, measures the same-run baselines first (a
bare Django JSON view, a bare DRF ModelSerializer create into the orders table), then
POST /api/v1/orders with an Idempotency-Key, validation, the order event and an outbox row with a
delivery to a subscribed webhook, in one transaction. Load comes from wrk on loopback when it is
installed (Debian's `wrk`), else from a bounded Python client.

    python bench/bench_api.py [--seconds 15] [--connections 8] [--json out.json]
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spark_bench")
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
API_KEY = "spk_bench001_BenchmarkMerchantKeyForLoadTests"

PAIRS_LUA = """
local i = 0
request = function()
  i = i + 1
  local pair = pairs_[(offset_ + i - 1) % #pairs_ + 1]
  local path = string.gsub(wrk.path, "__OFFER__", pair[2])
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Authorization"] = scheme_ .. " " .. pair[token_at_]
  return wrk.format(nil, path, headers, wrk.body)
end
"""

WRK_LUA = """
local counter = 0
local prefix = string.format("%s-%d-", os.time(), math.random(1, 1e9))
request = function()
  counter = counter + 1
  local body = nil
  if wrk.body then body = (string.gsub(wrk.body, "__ID__", prefix .. counter)) end
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  if headers["Idempotency-Key"] then headers["Idempotency-Key"] = prefix .. counter end
  return wrk.format(nil, nil, headers, body)
end
"""


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": BENCH_DB,
        "REDIS_URL": BENCH_REDIS,
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "PYTHONPATH": str(ROOT),
    }


def _prepare() -> dict[str, str]:
    """Fresh bench database, migrated, with one merchant, store, key and webhook endpoint."""
    subprocess.run([sys.executable, "-c", _PREPARE_DB], env=_env(), check=True, cwd=ROOT)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        env=_env(),
        check=True,
        cwd=ROOT,
    )
    out = subprocess.run(
        [sys.executable, "-c", _SEED],
        env=_env(),
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


_PREPARE_DB = """
import os, environ, psycopg2
cfg = environ.Env.db_url_config(os.environ["DATABASE_URL"])
conn = psycopg2.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"],
                        password=cfg["PASSWORD"], dbname="postgres")
conn.autocommit = True
cur = conn.cursor()
cur.execute("DROP DATABASE IF EXISTS " + cfg["NAME"] + " WITH (FORCE)")
cur.execute("CREATE DATABASE " + cfg["NAME"])
"""

_SEED = f"""
import django, json
django.setup()
from orders.models import Market, Merchant, Store, WebhookEndpoint
from orders.services import api_key_create
m = Market.objects.create(name="Bench", slug="bench", centre_lat=36.16, centre_lng=-86.78)
mer = Merchant.objects.create(name="Bench", slug="bench")
s = Store.objects.create(market=m, merchant=mer, name="S", address="a", lat=36.16, lng=-86.78)
api_key_create(merchant=mer, raw_key="{API_KEY}")
WebhookEndpoint.objects.create(merchant=mer, url="https://shop.example.com/hooks", secret="x")
print(json.dumps({{"store_id": str(s.public_id), "store_pk": s.id, "merchant_pk": mer.id}}))
"""


def order_payload(store_id: str, external_order_id: str) -> dict:
    """The body of POST /api/v1/orders that the API and load benchmarks send."""
    return {
        "store_id": store_id,
        "external_order_id": external_order_id,
        "customer_name": "Ann",
        "customer_phone": "+16155550100",
        "dropoff_address": "600 Main St",
        "dropoff_lat": 36.178,
        "dropoff_lng": -86.75,
        "items": [{"name": "Milk", "quantity": 2}],
        "order_value_cents": 4599,
        "tip_cents": 300,
    }


JSON_HEADERS = {"Content-Type": "application/json"}


def bare_create_payload(ids: dict) -> dict:
    """The bare DRF create's body (ids from `_prepare`; wrk numbers `__ID__`)."""
    return {
        "merchant": ids["merchant_pk"],
        "store": ids["store_pk"],
        "external_order_id": "__ID__",
        "customer_name": "Ann",
        "customer_phone": "+16155550100",
        "dropoff_address": "600 Main",
        "dropoff_lat": 36.178,
        "dropoff_lng": -86.75,
        "items": [{"name": "Milk", "quantity": 2}],
        "order_value_cents": 4599,
        "fee_cents": 799,
        "tip_cents": 300,
        "currency": "USD",
        "pickup_ready_at": "2030-01-01T12:00:00Z",
        "dropoff_window_start": "2030-01-01T12:30:00Z",
        "dropoff_window_end": "2030-01-01T13:30:00Z",
    }


def _seed_offers(drivers: int) -> list[tuple[str, str]]:
    code = (
        "import django, json; django.setup();"
        "from bench.fixtures import seed_drivers_and_offers as s;"
        f"print(json.dumps(s(drivers={drivers}, offers_per_driver=1)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(),
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return [tuple(p) for p in json.loads(out.stdout.strip().splitlines()[-1])]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_gunicorn(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "spark.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=_env(),
        cwd=ROOT,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare-json", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def _parse_wrk(text: str) -> dict:
    def seconds(value: str, unit: str) -> float:
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = re.search(r"(\d+) requests in", text)
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)", text)
        lat[pct] = seconds(*m.groups()) * 1000 if m else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:.*", text)
    return {
        "rps": rps,
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def _wrk(
    url: str,
    seconds: int,
    connections: int,
    body: str | None,
    headers: dict,
    pairs: list | None = None,
    scheme: str = "Token",
    offset: int = 0,
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        method = "POST" if body is not None else "GET"
        f.write(f'wrk.method = "{method}"\n')
        if body is not None:
            f.write(f"wrk.body = {json.dumps(body)}\n")
        for k, v in headers.items():
            f.write(f'wrk.headers["{k}"] = "{v}"\n')
        if pairs is None:
            f.write(WRK_LUA)
        else:
            rows = ",".join("{" + ",".join(f'"{v}"' for v in p) + "}" for p in pairs)
            token_at = 3 if scheme == "Driver" else 1
            f.write(f'pairs_ = {{{rows}}}\nscheme_ = "{scheme}"\ntoken_at_ = {token_at}\n')
            f.write(f"offset_ = {offset}\n")
            f.write(PAIRS_LUA)
        script = f.name
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        script,
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(script)
    return _parse_wrk(out)


def _python_client(
    url: str, seconds: int, connections: int, body: str | None, headers: dict
) -> dict:
    """Fallback when wrk is missing: threads with keep-alive connections, bounded in time."""
    import http.client
    import threading
    import uuid
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    non2xx = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        local, bad = [], 0
        while time.monotonic() < deadline:
            rid = uuid.uuid4().hex
            h = dict(headers)
            if "Idempotency-Key" in h:
                h["Idempotency-Key"] = rid
            payload = body.replace("__ID__", rid).encode() if body is not None else None
            start = time.perf_counter()
            conn.request("POST" if payload else "GET", parts.path, body=payload, headers=h)
            resp = conn.getresponse()
            resp.read()
            local.append((time.perf_counter() - start) * 1000)
            bad += not 200 <= resp.status < 300
        with lock:
            latencies.extend(local)
            non2xx[0] += bad

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))]

    return {
        "rps": len(latencies) / seconds,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "non_2xx": non2xx[0],
        "socket_errors": "",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json")
    # two 10 s accept runs at up to ~330 req/s each: fresh offers for both
    parser.add_argument("--accept-pairs", type=int, default=12000)
    args = parser.parse_args()

    ids = _prepare()
    pairs = _seed_offers(args.accept_pairs) if shutil.which("wrk") else []
    if not pairs:
        print("wrk not found: P7 and P8 are not measured (bash scripts/ensure_wrk.sh)", flush=True)
    port = _free_port()
    server = _start_gunicorn(port)
    load = _wrk if shutil.which("wrk") else _python_client
    base = f"http://127.0.0.1:{port}"
    order_body = json.dumps(order_payload(ids["store_id"], "__ID__"))
    bare_body = json.dumps(bare_create_payload(ids))
    json_headers = JSON_HEADERS
    api_headers = {**json_headers, "Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "x"}
    try:
        results = {
            "bare_django_json": load(
                f"{base}/bench/bare-json", args.seconds, args.connections, None, {}
            ),
            "bare_drf_create": load(
                f"{base}/bench/bare-create", args.seconds, args.connections, bare_body, json_headers
            ),
            "post_orders": load(
                f"{base}/api/v1/orders", args.seconds, args.connections, order_body, api_headers
            ),
        }
        if pairs:
            ping = json.dumps({"lat": 36.17, "lng": -86.78})
            results["bare_drf_json"] = load(
                f"{base}/bench/bare-drf-json", args.seconds, args.connections, ping, json_headers
            )
            results["driver_location"] = _wrk(
                f"{base}/api/v1/driver/location",
                args.seconds,
                args.connections,
                ping,
                json_headers,
                pairs,
                scheme="Driver",
            )
            results["offer_accept"] = _wrk(
                f"{base}/api/v1/driver/offers/__OFFER__/accept",
                min(args.seconds, 10),
                args.connections,
                "",
                json_headers,
                pairs,
                scheme="Driver",
            )
            # The same accepts with one connection per worker: the service time without the
            # queueing that 8 connections on 2 sync workers add (fresh offers: past those used).
            used = int(results["offer_accept"]["requests"]) + 100
            results["offer_accept_c2"] = _wrk(
                f"{base}/api/v1/driver/offers/__OFFER__/accept",
                min(args.seconds, 10),
                2,
                "",
                json_headers,
                pairs,
                scheme="Driver",
                offset=used,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    bare, ours = results["bare_drf_create"], results["post_orders"]
    results["p6"] = {
        "rps_ratio": ours["rps"] / bare["rps"],
        "p99_ratio": ours["p99_ms"] / bare["p99_ms"],
        "pass": ours["rps"] / bare["rps"] >= 0.6
        and ours["p99_ms"] <= 2 * bare["p99_ms"]
        and ours["non_2xx"] == 0,
        "load_generator": "wrk" if load is _wrk else "python threads",
    }
    if pairs:
        accept, ping, bare_json = (
            results["offer_accept"],
            results["driver_location"],
            results["bare_drf_json"],
        )
        results["p7"] = {
            "rps_ratio": accept["rps"] / bare["rps"],
            "p99_ms": accept["p99_ms"],
            "p99_ms_c2": results["offer_accept_c2"]["p99_ms"],
            "pass": accept["rps"] / bare["rps"] >= 0.8
            and accept["p99_ms"] <= 30
            and accept["non_2xx"] == 0,
        }
        results["p8"] = {
            "rps_ratio": ping["rps"] / bare_json["rps"],
            "pass": ping["rps"] / bare_json["rps"] >= 0.8 and ping["non_2xx"] == 0,
        }
    print("| endpoint | req/s | p50 ms | p99 ms | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in (
        "bare_django_json",
        "bare_drf_json",
        "bare_drf_create",
        "post_orders",
        "offer_accept",
        "offer_accept_c2",
        "driver_location",
    ):
        if name not in results:
            continue
        r = results[name]
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['non_2xx']} |"
        )
    p6 = results["p6"]
    print(
        f"\nP6: POST /orders = {p6['rps_ratio']:.2f}x bare create throughput (goal >= 0.6x), "
        f"p99 {p6['p99_ratio']:.2f}x (goal <= 2x): {'PASS' if p6['pass'] else 'FAIL'}"
    )
    for goal in ("p7", "p8"):
        if goal in results:
            g = results[goal]
            print(
                f"{goal.upper()}: {g['rps_ratio']:.2f}x its baseline"
                + (f", p99 {g['p99_ms']:.1f} ms" if "p99_ms" in g else "")
                + f": {'PASS' if g['pass'] else 'FAIL'}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

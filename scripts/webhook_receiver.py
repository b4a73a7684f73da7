#!/usr/bin/env python3
"""A shop's webhook endpoint in 40 lines of standard library: verify Spark's signature, print.

    python3 scripts/webhook_receiver.py --port 9000 --secret whsec_...

Spark signs like Stripe: `Spark-Signature: t=<unix time>,v1=<hex>[,v1=<hex>]`, where each v1 is
HMAC-SHA256(secret, f"{t}.{raw body}"). Reject stale timestamps (replays) and dedupe on the
event's `id`: a webhook can arrive more than once.
"""

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300


def verify(header: str, body: bytes, secret: str) -> bool:
    fields = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [v for k, v in fields if k == "t"]
    signatures = [v for k, v in fields if k == "v1"]
    if not timestamps or not timestamps[0].isdigit() or not signatures:
        return False
    if abs(time.time() - int(timestamps[0])) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + body, hashlib.sha256)
    return any(hmac.compare_digest(expected.hexdigest(), s) for s in signatures)


def make_handler(secret: str, seen: set[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not verify(self.headers.get("Spark-Signature", ""), body, secret):
                self.send_response(400)
                self.end_headers()
                print("rejected: bad signature")
                return
            event = json.loads(body)
            duplicate = event["id"] in seen
            seen.add(event["id"])
            order = event["data"]["order"]
            note = " (duplicate, ignored)" if duplicate else ""
            print(f"{event['type']:<28} order {order['id']} -> {order['status']}{note}", flush=True)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    server = HTTPServer(("127.0.0.1", args.port), make_handler(args.secret, set()))
    print(f"listening on http://127.0.0.1:{args.port}/hooks", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

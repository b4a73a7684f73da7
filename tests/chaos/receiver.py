"""A shop's webhook endpoint for the chaos tests: a real threaded HTTP server on loopback.

It behaves as RELIABILITY.md asks a consumer to: it verifies the signature on the raw body and
dedupes on the event id, so its *effect* (what the shop does with an event) happens once per
id however often the event arrives. It records every request, and can be told to fail a share
of them (500, 503 or a dropped connection), to fail everything on one path, or to hold one
request open after its effect until the test lets it answer (the kill lands mid-request).
"""

import contextlib
import json
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from spark.lib import signing

FAILURES = (500, 503, "drop")


@dataclass(frozen=True)
class Request:
    path: str
    event_id: str
    answer: int | str  # the status sent, or "drop"
    signed: bool


class Receiver:
    def __init__(self, *, fail_rate: float = 0.0, seed: int = 0):
        self.fail_rate = fail_rate
        self.always_fail: set[str] = set()
        self.secrets: dict[str, str] = {}
        self.requests: list[Request] = []
        self.effects: dict[str, int] = {}  # event id -> times the shop acted on it
        self.duplicates = 0  # deliveries of an event already acted on (acknowledged only)
        self.successes: Counter[tuple[str, str]] = Counter()  # (path, event id) -> 2xx sent
        self.applied: dict[str, list[dict]] = defaultdict(list)  # path -> events, in effect order
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._hold_at: int | None = None
        self.held = threading.Event()  # set when the held request has had its effect
        self._release = threading.Event()
        self.held_event_id = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._handle(self, body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def hold(self, *, at: int) -> None:
        """Hold the `at`-th successful request open (after its effect) until `release()`."""
        self._hold_at = at

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        path = handler.path
        try:
            signing.verify(handler.headers.get("Spark-Signature"), body, [self.secrets[path]])
            signed = True
        except (signing.SignatureError, KeyError):
            signed = False
        event = json.loads(body)
        with self._lock:
            if not signed:
                answer: int | str = 400
            elif path in self.always_fail:
                answer = 503
            elif self._rng.random() < self.fail_rate:
                answer = self._rng.choice(FAILURES)
            else:
                answer = 200
            self.requests.append(Request(path, event["id"], answer, signed))
            hold = False
            if answer == 200:
                # The shop's effect, once per event id: duplicates are acknowledged, not redone.
                if event["id"] in self.effects:
                    self.duplicates += 1
                else:
                    self.effects[event["id"]] = 1
                    self.applied[path].append(event)
                self.successes[(path, event["id"])] += 1
                n = sum(self.successes.values())
                hold = self._hold_at is not None and n == self._hold_at
                if hold:
                    self.held_event_id = event["id"]
        if hold:
            self.held.set()
            self._release.wait(timeout=120)
        if answer == "drop":
            handler.close_connection = True
            return
        handler.send_response(answer)  # type: ignore[arg-type]
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        with contextlib.suppress(OSError):  # the sender died while we held its request
            handler.wfile.write(b"ok")

    # --- what the tests read ------------------------------------------------------------------

    def received(self, path: str | None = None) -> Counter[str]:
        """Event id -> requests that reached us (any answer)."""
        with self._lock:
            return Counter(r.event_id for r in self.requests if path is None or r.path == path)

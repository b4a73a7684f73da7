"""Steady client load on the app server during an outage, with every answer recorded."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

Request = Callable[[requests.Session, int], requests.Response]


@dataclass(frozen=True)
class Answer:
    started: float  # time.monotonic()
    finished: float
    kind: str
    status: int | None  # None: no HTTP answer at all
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


class Load:
    """`threads` clients, each cycling through the request kinds with a short pause."""

    def __init__(self, kinds: dict[str, Request], *, threads: int = 3, pause: float = 0.03):
        self.kinds, self.pause = kinds, pause
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _client(self, index: int) -> None:
        names = list(self.kinds)
        n = index
        with requests.Session() as session:
            while not self._stop.is_set():
                kind = names[n % len(names)]
                started = time.monotonic()
                try:
                    response = self.kinds[kind](session, n)
                    status, error = response.status_code, ""
                    if status >= 500 and status != 503:
                        error = response.text[:300]
                except requests.RequestException as exc:
                    status, error = None, f"{type(exc).__name__}: {exc}"[:300]
                with self._lock:
                    self.answers.append(Answer(started, time.monotonic(), kind, status, error))
                n += len(self._threads)
                time.sleep(self.pause)

    def between(self, start: float, end: float | None = None) -> list[Answer]:
        """Answers to requests sent after `start` and answered before `end`."""
        with self._lock:
            return [
                a for a in self.answers if a.started >= start and (end is None or a.finished <= end)
            ]

    def recovered(self, since: float, *, quiet: float) -> float | None:
        """Seconds from `since` to the last failed answer, once every kind has answered well
        for `quiet` seconds after it; None while that is not so yet."""
        after = self.between(since)
        last_failure = max((a.finished for a in after if not a.ok), default=since)
        good = [a for a in after if a.started > last_failure]
        if not good or good[-1].finished - last_failure < quiet:
            return None
        if {a.kind for a in good} != set(self.kinds):
            return None
        return last_failure - since

    def wait_recovered(self, since: float, *, quiet: float = 2.0, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seconds = self.recovered(since, quiet=quiet)
            if seconds is not None:
                return seconds
            time.sleep(0.2)
        failures = [a for a in self.between(since) if not a.ok][-5:]
        raise TimeoutError(f"the API did not recover in {timeout:.0f} s: last {failures}")


class Beat:
    """Sends the periodic sweeps as `celery beat` does (every second here, not every 5 s or
    5 min), through a client that, like beat, just tries again when the broker is down."""

    def __init__(self, broker: object, tasks: list[str], *, every: float = 1.0):
        self.broker, self.tasks, self.every = broker, tasks, every
        self.sent = self.missed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Beat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for name in self.tasks:
                try:
                    self.broker.send_task(name)  # type: ignore[attr-defined]
                    self.sent += 1
                except Exception:  # noqa: BLE001 (the broker is down: next tick)
                    self.missed += 1

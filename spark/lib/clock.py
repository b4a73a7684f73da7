"""One place to ask the time, so that a simulation can run the real services in its own clock."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

_now: Callable[[], datetime] = timezone.now


def now() -> datetime:
    return _now()


@contextmanager
def use_clock(fn: Callable[[], datetime]) -> Iterator[None]:
    """Run a block with another clock (the simulator's); the real one comes back after."""
    global _now
    previous, _now = _now, fn
    try:
        yield
    finally:
        _now = previous

"""Template filters of the ops console: ages of queue items, money, order statuses."""

from datetime import datetime
from typing import Any

from django import template

from spark.lib import clock
from spark.lib.money import format_cents

register = template.Library()


@register.filter
def age(since: datetime | None) -> str:
    """How long something has waited: "12 min", "3 h 5 min", "2 d 4 h"."""
    if since is None:
        return "—"
    minutes = max(0, int((clock.now() - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def hours_old(since: datetime | None) -> float:
    return (clock.now() - since).total_seconds() / 3600 if since else 0.0


@register.filter
def money(cents: int | None, currency: str = "USD") -> str:
    return "" if cents is None else format_cents(cents, currency)


@register.filter
def words(value: Any) -> str:
    """ "driver_at_store" -> "driver at store"."""
    return str(value or "").replace("_", " ")


@register.filter
def seconds_to_min(value: float | None) -> str:
    return "" if value is None else f"{value / 60:.1f} min"

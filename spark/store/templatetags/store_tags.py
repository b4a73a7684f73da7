"""Template filters of the store dashboard: status words and short relative times."""

from datetime import datetime

from django import template

from spark.lib import clock
from spark.store import texts

register = template.Library()


@register.filter
def status_label(status: str) -> str:
    return texts.STATUS_LABELS.get(status, status.replace("_", " "))


@register.filter
def status_badge(status: str) -> str:
    return texts.STATUS_BADGES.get(status, "")


@register.filter
def relative(when: datetime | None) -> str:
    """ "in 6 min", "4 min ago", "now": for ETAs and waits on a board read at a glance."""
    if when is None:
        return ""
    minutes = round((when - clock.now()).total_seconds() / 60)
    if minutes == 0:
        return "now"
    span = _span(abs(minutes))
    return f"in {span}" if minutes > 0 else f"{span} ago"


def _span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@register.filter
def item_count(items: list | None) -> int:
    return sum(int(i.get("quantity", 1) or 1) for i in items or [] if isinstance(i, dict))


@register.filter
def actor_label(label: str) -> str:
    """ "store:sam" -> "Store · sam"; "driver:dana@example.com" -> "Driver"."""
    role, _, who = (label or "").partition(":")
    if role == "driver":
        return "Driver"
    if role in ("merchant", "system"):
        return {"merchant": "Shop", "system": "Spark"}[role]
    return f"{role.capitalize()} · {who}" if who else role.capitalize()

"""Money in templates: {{ cents|money:currency }}, {{ cents|signed_money:currency }}."""

from django import template

from spark.lib.money import format_cents

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "USD") -> str:
    return format_cents(cents or 0, currency or "USD")


@register.filter
def signed_money(cents: int | None, currency: str = "USD") -> str:
    cents = cents or 0
    text = format_cents(cents, currency or "USD")
    return f"+{text}" if cents > 0 else text


@register.filter
def payout_badge(status: str) -> str:
    return {"paid": "ok", "failed": "bad", "pending": "warn", "submitted": "warn"}.get(status, "")


LABELS = {
    "trip": "Trip",
    "cancellation": "Cancelled trip",
    "tip_change": "Tip change",
    "block_guarantee": "Block guarantee",
    "floor_topup": "Minimum pay top-up",
    "adjustment": "Adjustment",
}


@register.filter
def earning_label(kind: str) -> str:
    return LABELS.get(kind, kind.replace("_", " ").capitalize())

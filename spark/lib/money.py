"""Money is integer cents plus an ISO 4217 currency. Conversion and formatting live only here."""

from decimal import ROUND_HALF_UP, Decimal

CURRENCY_SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "€", "GBP": "£"}


def format_cents(cents: int, currency: str = "USD") -> str:
    """2599, "USD" -> "$25.99"; negative amounts keep their sign in front."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def round_cents(amount: Decimal | float | int) -> int:
    """Round a computed amount (in cents) half-up to whole cents."""
    return int(Decimal(str(amount)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def cents_per_unit(cents: int, units: float) -> int:
    """Cents per mile/hour/km, rounded; 0 when there are no units."""
    if units <= 0:
        return 0
    return round_cents(Decimal(cents) / Decimal(str(units)))

"""What a trip pays: the offer's promise, computed from the market's rate card.

Pure functions (no writes): the offer stores the result as its immutable snapshot.
"""

from dataclasses import dataclass

from dispatch.models import RateCard
from spark.lib.geo import km_to_miles
from spark.lib.money import round_cents


@dataclass(frozen=True)
class Pay:
    base_cents: int
    distance_cents: int
    time_cents: int
    extra_stops_cents: int
    boost_cents: int
    tip_cents: int
    engaged_miles: float
    minutes: float

    @property
    def total_cents(self) -> int:
        return (
            self.base_cents
            + self.distance_cents
            + self.time_cents
            + self.extra_stops_cents
            + self.boost_cents
            + self.tip_cents
        )

    @property
    def cents_per_mile(self) -> int:
        return round_cents(self.total_cents / self.engaged_miles) if self.engaged_miles else 0

    @property
    def cents_per_hour(self) -> int:
        return round_cents(self.total_cents / (self.minutes / 60)) if self.minutes else 0


def trip_pay(
    card: RateCard,
    *,
    engaged_km: float,
    minutes: float,
    stops: int,
    boost_cents: int,
    tip_cents: int,
) -> Pay:
    """Engaged distance includes the drive to the store; tips pass through in full."""
    miles = km_to_miles(engaged_km)
    return Pay(
        base_cents=card.base_pay_cents,
        distance_cents=round_cents(card.per_mile_cents * miles),
        time_cents=round_cents(card.per_engaged_minute_cents * minutes),
        extra_stops_cents=card.per_extra_stop_cents * max(0, stops - 1),
        boost_cents=boost_cents,
        tip_cents=tip_cents,
        engaged_miles=round(miles, 2),
        minutes=round(minutes, 1),
    )


def next_boost(card: RateCard, current_cents: int) -> int:
    return min(card.boost_max_cents, current_cents + card.boost_step_cents)

"""What a driver earned and holds: today, this week, the balance, instant pay, payouts."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from dispatch import selectors as dispatch_selectors
from drivers import selectors as driver_selectors
from payouts.models import Account, Earning, JournalEntry, Payout, TipReview
from payouts.periods import Week, day_start, week_containing
from spark.lib import clock
from spark.lib.errors import NotFound


@dataclass(frozen=True)
class Home:
    """The market a driver is settled in: its time zone and currency."""

    market_id: int
    tz: str
    currency: str


def home_for_driver(*, driver_id: int) -> Home:
    market = driver_selectors.driver_get(driver_id=driver_id).home_market
    return Home(market.id, market.timezone, market.currency)


def balance_for_driver(*, driver_id: int, currency: str) -> int:
    """What we owe the driver now: minus the sum of their payable's entries."""
    total = JournalEntry.objects.filter(
        account__kind=Account.Kind.DRIVER_PAYABLE,
        account__driver_id=driver_id,
        account__currency=currency,
    ).aggregate(s=Sum("amount_cents"))["s"]
    return -(total or 0)


@dataclass(frozen=True)
class Summary:
    currency: str
    balance_cents: int
    week: Week
    today_pay_cents: int
    today_tip_cents: int
    today_trips: int
    week_pay_cents: int
    week_tip_cents: int
    week_trips: int

    @property
    def today_cents(self) -> int:
        return self.today_pay_cents + self.today_tip_cents

    @property
    def week_cents(self) -> int:
        return self.week_pay_cents + self.week_tip_cents


def earnings_summary_for_driver(*, driver_id: int) -> Summary:
    home, now = home_for_driver(driver_id=driver_id), clock.now()
    week, today = week_containing(at=now, tz=home.tz), day_start(at=now, tz=home.tz)
    is_today, is_trip = Q(earned_at__gte=today), Q(kind=Earning.Kind.TRIP)
    totals = Earning.objects.filter(
        driver_id=driver_id, currency=home.currency, earned_at__gte=week.starts_at
    ).aggregate(
        week_pay=Sum("pay_cents"),
        week_tip=Sum("tip_cents"),
        week_trips=Count("id", filter=is_trip),
        today_pay=Sum("pay_cents", filter=is_today),
        today_tip=Sum("tip_cents", filter=is_today),
        today_trips=Count("id", filter=is_today & is_trip),
    )
    return Summary(
        currency=home.currency,
        balance_cents=balance_for_driver(driver_id=driver_id, currency=home.currency),
        week=week,
        today_pay_cents=totals["today_pay"] or 0,
        today_tip_cents=totals["today_tip"] or 0,
        today_trips=totals["today_trips"],
        week_pay_cents=totals["week_pay"] or 0,
        week_tip_cents=totals["week_tip"] or 0,
        week_trips=totals["week_trips"],
    )


def earning_list_recent_for_driver(*, driver_id: int, limit: int = 20) -> list[Earning]:
    """The latest lines, each trip with its tip changes since folded in (`tip_changes_cents`,
    `current_total_cents`), so the list shows what the trip pays now."""
    changes = (
        Earning.objects.filter(trip_id=OuterRef("trip_id"), kind=Earning.Kind.TIP_CHANGE)
        .values("trip_id")
        .annotate(s=Sum("tip_cents"))
        .values("s")
    )
    rows = list(
        Earning.objects.filter(driver_id=driver_id)
        .exclude(kind=Earning.Kind.TIP_CHANGE)
        .annotate(tip_changes_cents=Coalesce(Subquery(changes), 0))
        .order_by("-earned_at", "-id")[:limit]
    )
    for e in rows:
        e.current_total_cents = e.total_cents + e.tip_changes_cents  # type: ignore[attr-defined]
    return rows


def trip_public_ids(*, trip_ids: list[int]) -> dict[int, dict]:  # type: ignore[type-arg]
    """Trip id -> {public_id, store} for linking and labelling earnings lines."""
    rows = (
        dispatch_selectors.trip_queryset()
        .filter(id__in=trip_ids)
        .values("id", "public_id", "store__name")
    )
    return {r["id"]: {"public_id": r["public_id"], "store": r["store__name"]} for r in rows}


@dataclass(frozen=True)
class InstantPay:
    currency: str
    balance_cents: int
    fee_cents: int
    used_today: bool

    @property
    def amount_cents(self) -> int:
        return max(0, self.balance_cents - self.fee_cents)

    @property
    def available(self) -> bool:
        return not self.used_today and self.amount_cents > 0


def instant_pay_for_driver(*, driver_id: int) -> InstantPay:
    home, now = home_for_driver(driver_id=driver_id), clock.now()
    try:
        fee = dispatch_selectors.rate_card_for(market_id=home.market_id, at=now)
        fee_cents = fee.instant_pay_fee_cents
    except NotFound:
        fee_cents = 0
    day: date = day_start(at=now, tz=home.tz).date()
    used = Payout.objects.filter(
        driver_id=driver_id, period=f"instant:{day.isoformat()}", currency=home.currency
    ).exists()
    balance = balance_for_driver(driver_id=driver_id, currency=home.currency)
    return InstantPay(home.currency, balance, fee_cents, used)


def payout_list_for_driver(*, driver_id: int, limit: int = 50) -> QuerySet[Payout]:
    return Payout.objects.filter(driver_id=driver_id).order_by("-created_at", "-id")[:limit]


def payout_get_for_driver(*, driver_id: int, public_id: object) -> Payout:
    payout = Payout.objects.filter(driver_id=driver_id, public_id=public_id).first()
    if payout is None:
        raise NotFound("No such payout.")
    return payout


def tip_review_list_for_driver(*, driver_id: int, limit: int = 10) -> QuerySet[TipReview]:
    """Decided tip decreases on the driver's trips: the driver sees each one and why."""
    return TipReview.objects.filter(driver_id=driver_id, status=TipReview.Status.APPROVED).order_by(
        "-decided_at"
    )[:limit]

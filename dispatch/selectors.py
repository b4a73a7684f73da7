"""The dispatch app's only public read API."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet

from dispatch.models import (
    Block,
    BlockReservation,
    DispatchEvent,
    DispatchRound,
    DriverAvailability,
    Offer,
    RateCard,
    Trip,
    TripStop,
)
from spark.lib import sql as lib_sql
from spark.lib.db import one_or_none
from spark.lib.errors import NotFound

# --- rate cards -----------------------------------------------------------------------------


def rate_card_for(*, market_id: int, at: datetime) -> RateCard:
    """The market's card in force at `at` (the newest whose effective_from is not later).

    Plain SQL read through the model's converters: every round and every return to the pool
    prices from it."""
    rows = lib_sql.Rows.of(RateCard)
    found = lib_sql.fetch(
        f"SELECT {rows.columns('c')} FROM {RateCard._meta.db_table} c"  # noqa: S608
        " WHERE c.market_id = %s AND c.effective_from <= %s ORDER BY c.effective_from DESC"
        f" {connection.ops.limit_offset_sql(None, 1)}",
        [market_id, RateCard._meta.get_field("effective_from").get_db_prep_value(at, connection)],
    )
    card = rows.instance(found[0]) if found else None
    if card is None:
        raise NotFound(f"Market {market_id} has no rate card in force.", code="no_rate_card")
    return card


def rate_card_list(*, market_id: int) -> QuerySet[RateCard]:
    return RateCard.objects.filter(market_id=market_id).order_by("-effective_from")


# --- availability ---------------------------------------------------------------------------


def availability_get(*, driver_id: int) -> DriverAvailability | None:
    return one_or_none(DriverAvailability.objects.filter(driver_id=driver_id))


def availability_list_online(*, market_id: int) -> QuerySet[DriverAvailability]:
    return DriverAvailability.objects.filter(market_id=market_id, is_online=True)


@dataclass(frozen=True)
class OnlineDriver:
    driver_id: int
    lat: float | None
    lng: float | None
    location_at: datetime | None


def availability_list_online_positions(*, market_id: int) -> list[OnlineDriver]:
    """The online drivers of a market with their last stored position, by driver id (a
    round reads them every minute: plain rows, no model instances)."""
    sql = (
        "SELECT driver_id, lat, lng, location_at"  # noqa: S608
        f" FROM {DriverAvailability._meta.db_table}"
        f" WHERE market_id = %s AND is_online = {lib_sql.literal(True)} ORDER BY driver_id"
    )
    rows = lib_sql.fetch(sql, [market_id])
    return [OnlineDriver(d, lat, lng, _aware(at)) for d, lat, lng, at in rows]


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC datetimes; Django's converter makes them aware, so do we.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=connection.timezone)


# --- trips and offers -----------------------------------------------------------------------


def _trip_qs() -> QuerySet[Trip]:
    return Trip.objects.select_related("store", "market").prefetch_related(
        Prefetch("stops", queryset=TripStop.objects.filter(is_active=True).order_by("sequence"))
    )


def trip_queryset() -> QuerySet[Trip]:
    """All trips, read-only, for set-based reads of other apps (payouts' earnings sweep)."""
    return Trip.objects.all()


def offer_queryset() -> QuerySet[Offer]:
    """All offers, read-only, for set-based reads of other apps."""
    return Offer.objects.all()


def trip_stop_queryset() -> QuerySet[TripStop]:
    return TripStop.objects.all()


def block_reservation_queryset() -> QuerySet[BlockReservation]:
    return BlockReservation.objects.select_related("block")


def trip_get_for_driver(*, driver_id: int, public_id: Any) -> Trip:
    """A driver sees only trips assigned to them (404 for anyone else's)."""
    trip = one_or_none(_trip_qs().filter(public_id=public_id, driver_id=driver_id))
    if trip is None:
        raise NotFound("No such trip.")
    return trip


def trip_current_for_driver(*, driver_id: int) -> Trip | None:
    return one_or_none(
        _trip_qs().filter(driver_id=driver_id, status__in=Trip.WITH_DRIVER).order_by("-id")
    )


def trip_list_for_driver(*, driver_id: int, limit: int = 50) -> QuerySet[Trip]:
    return _trip_qs().filter(driver_id=driver_id).order_by("-id")[:limit]


def trip_get(*, trip_id: int) -> Trip:
    return _trip_qs().get(id=trip_id)


def trip_for_order(*, order_id: int) -> Trip | None:
    stop = one_or_none(
        TripStop.objects.filter(order_id=order_id).select_related("trip").order_by("-id")
    )
    return stop.trip if stop else None


def offer_list_open_for_driver(*, driver_id: int, now: datetime) -> QuerySet[Offer]:
    return (
        Offer.objects.filter(driver_id=driver_id, status=Offer.Status.OPEN, expires_at__gt=now)
        .select_related("trip")
        .order_by("expires_at")
    )


def offer_get_for_driver(*, driver_id: int, public_id: Any) -> Offer:
    offer = one_or_none(
        Offer.objects.filter(public_id=public_id, driver_id=driver_id).select_related("trip")
    )
    if offer is None:
        raise NotFound("No such offer.")
    return offer


def offer_list_for_order(*, order_id: int) -> QuerySet[Offer]:
    """Every offer made for the trips that carried this order, with why each driver was chosen."""
    trip_ids = TripStop.objects.filter(order_id=order_id).values("trip_id")
    return (
        Offer.objects.filter(trip_id__in=trip_ids)
        .select_related("driver__user", "round")
        .order_by("created_at", "id")
    )


def offer_accepted_for_trip(*, trip_id: int) -> Offer | None:
    return one_or_none(Offer.objects.filter(trip_id=trip_id, status=Offer.Status.ACCEPTED))


def dispatch_event_list_for_trip(*, trip_id: int) -> QuerySet[DispatchEvent]:
    return DispatchEvent.objects.filter(trip_id=trip_id).order_by("at", "id")


def order_ids_held_for_batching(*, market_id: int) -> set[int]:
    """Ready orders that the market's latest round held back to batch with an order of their
    store still being packed (the store board says so rather than leave them unexplained)."""
    held = (
        DispatchRound.objects.filter(market_id=market_id, finished_at__isnull=False)
        .order_by("-id")
        .values_list("held_order_ids", flat=True)
        .first()
    )
    return set(held or [])


def dispatch_round_list(*, market_id: int, since: datetime) -> QuerySet[DispatchRound]:
    return DispatchRound.objects.filter(market_id=market_id, started_at__gte=since).order_by(
        "started_at"
    )


# --- blocks ---------------------------------------------------------------------------------


def block_list_upcoming(*, market_id: int, now: datetime) -> QuerySet[Block]:
    return Block.objects.filter(
        market_id=market_id, ends_at__gt=now, status__in=[Block.Status.SCHEDULED, Block.Status.OPEN]
    ).order_by("starts_at")


def block_reservation_active_for_driver(*, driver_id: int, at: datetime) -> BlockReservation | None:
    """The reserved block the driver is working at `at`, if any."""
    return one_or_none(
        BlockReservation.objects.filter(
            driver_id=driver_id,
            status=BlockReservation.Status.RESERVED,
            block__starts_at__lte=at,
            block__ends_at__gt=at,
        ).select_related("block")
    )


# --- portal ---------------------------------------------------------------------------------


def trip_stop_order_id(*, trip_id: int, order_public_id: Any) -> int:
    """The order id of an active stop of the trip, by the order's public id (404 otherwise)."""
    order_id = (
        TripStop.objects.filter(trip_id=trip_id, is_active=True, order__public_id=order_public_id)
        .values_list("order_id", flat=True)
        .first()
    )
    if order_id is None:
        raise NotFound("No such stop on this trip.")
    return order_id


def trip_stop_order_ids(*, trip_id: int) -> dict[str, int]:
    """{order public id: order id} of the trip's active stops."""
    rows = TripStop.objects.filter(trip_id=trip_id, is_active=True).values_list(
        "order__public_id", "order_id"
    )
    return {str(public_id): order_id for public_id, order_id in rows}


def offer_accepted_for_trips(*, trip_ids: list[int]) -> dict[int, Offer]:
    offers = Offer.objects.filter(trip_id__in=trip_ids, status=Offer.Status.ACCEPTED)
    return {o.trip_id: o for o in offers}


def offer_list_for_order_public_id(*, public_id: Any) -> QuerySet[Offer]:
    """offer_list_for_order, by the order's public id (what ops paste into the admin)."""
    order_id = (
        TripStop.objects.filter(order__public_id=public_id)
        .values_list("order_id", flat=True)
        .first()
    )
    if order_id is None:
        return Offer.objects.none()
    return offer_list_for_order(order_id=order_id)


def offer_list_open_with_store(*, driver_id: int, now: datetime) -> QuerySet[Offer]:
    """The open offers of a driver with their trip's store (the offer cards show it)."""
    return offer_list_open_for_driver(driver_id=driver_id, now=now).select_related("trip__store")

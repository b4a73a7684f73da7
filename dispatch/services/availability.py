"""Drivers online and offline, and their location pings.

A ping must not cost a synchronous PostgreSQL write in production (P8): with Redis configured,
positions go to a Redis hash per market and a periodic task flushes them to DriverAvailability,
with their H3 cells for area queries; embedded, the row is updated directly.
"""

from dataclasses import dataclass
from datetime import datetime

import h3
from django.db import transaction

from dispatch.models import DriverAvailability
from dispatch.services import sql
from drivers import selectors as driver_selectors
from spark.lib import clock
from spark.lib import redis as redis_lib
from spark.lib import sql as lib_sql
from spark.lib.db import one_or_none
from spark.lib.errors import ApplicationError, Unprocessable
from spark.lib.geo import is_valid_coordinate

H3_RESOLUTION = 8  # cells of ~0.7 km², a few minutes' drive across


class NotEligible(ApplicationError):
    status_code = 403
    code = "driver_not_eligible"


@dataclass(frozen=True)
class Position:
    lat: float
    lng: float
    at: datetime


_redis = redis_lib.client


def _hash_key(market_id: int) -> str:
    return f"spark:locations:{market_id}"


def _check(lat: float, lng: float) -> None:
    if not is_valid_coordinate(lat, lng):
        raise Unprocessable("Those are not valid coordinates.", code="invalid_coordinates")


@transaction.atomic
def driver_go_online(*, driver_id: int, lat: float, lng: float) -> DriverAvailability:
    _check(lat, lng)
    if not driver_selectors.driver_can_go_online(driver_id=driver_id):
        raise NotEligible(
            "Only approved drivers whose documents are approved and current can go online."
        )
    profile = driver_selectors.driver_get_dispatch_profile(driver_id=driver_id)
    now = clock.now()
    availability, _ = DriverAvailability.objects.select_for_update().get_or_create(
        driver_id=driver_id, defaults={"market_id": profile.home_market_id}
    )
    if not availability.is_online:
        availability.online_since = now
    availability.is_online = True
    availability.market_id = profile.home_market_id
    _set_position(availability, lat, lng, now)
    availability.save()
    _cache_position(availability.market_id, driver_id, lat, lng, now)
    return availability


@transaction.atomic
def driver_go_offline(*, driver_id: int) -> DriverAvailability | None:
    availability = DriverAvailability.objects.select_for_update().filter(driver_id=driver_id)
    row = one_or_none(availability)
    if row is None:
        return None
    row.is_online, row.online_since = False, None
    row.save(update_fields=["is_online", "online_since", "updated_at"])
    client = _redis()
    if client is not None:
        client.hdel(_hash_key(row.market_id), str(driver_id))
    return row


def _set_position(row: DriverAvailability, lat: float, lng: float, at: datetime) -> None:
    row.lat, row.lng, row.location_at = lat, lng, at
    row.h3_cell = h3.latlng_to_cell(lat, lng, H3_RESOLUTION)


def _cache_position(market_id: int, driver_id: int, lat: float, lng: float, at: datetime) -> None:
    # One HSET: the rounds read positions by driver (HMGET), and area queries use the H3
    # cells that the flush writes to the rows; a GEO set nobody reads would double the work.
    # Its reply is not waited for (spark.lib.redis: send_later).
    value = f"{lat:.6f},{lng:.6f},{at.timestamp():.3f}"
    _redis.send_later("HSET", _hash_key(market_id), str(driver_id), value)


def driver_location_update(*, driver_id: int, market_id: int, lat: float, lng: float) -> Position:
    """A ping from the driver's phone. Redis when configured, else the row (embedded)."""
    _check(lat, lng)
    now = clock.now()
    if _redis() is not None:
        _cache_position(market_id, driver_id, lat, lng, now)
    else:
        row = DriverAvailability(driver_id=driver_id, market_id=market_id)
        _set_position(row, lat, lng, now)
        fields = {"lat": lat, "lng": lng, "location_at": now, "h3_cell": row.h3_cell}
        lib_sql.update(
            DriverAvailability, [driver_id], fields | {"updated_at": now}, key="driver_id"
        )
        _couriers_follow([row])
    return Position(lat, lng, now)


def positions_for(*, market_id: int, rows: list[DriverAvailability]) -> dict[int, Position]:
    """The freshest known position of each driver: Redis when configured, else the rows."""
    positions = {
        r.driver_id: Position(r.lat, r.lng, r.location_at)
        for r in rows
        if r.lat is not None and r.location_at is not None
    }
    client = _redis()
    if client is None or not rows:
        return positions
    values = client.hmget(_hash_key(market_id), [str(r.driver_id) for r in rows])
    for row, value in zip(rows, values, strict=True):
        if value:
            lat, lng, ts = value.decode().split(",")
            at = datetime.fromtimestamp(float(ts), tz=clock.now().tzinfo)
            known = positions.get(row.driver_id)
            if known is None or at >= known.at:
                positions[row.driver_id] = Position(float(lat), float(lng), at)
    return positions


def driver_locations_flush() -> int:
    """Copy the positions held in Redis to the database (a periodic task); returns rows."""
    client = _redis()
    if client is None:
        return 0
    rows = list(DriverAvailability.objects.filter(is_online=True))
    by_market: dict[int, list[DriverAvailability]] = {}
    for row in rows:
        by_market.setdefault(row.market_id, []).append(row)
    changed = []
    for market_id, market_rows in by_market.items():
        positions = positions_for(market_id=market_id, rows=market_rows)
        for row in market_rows:
            pos = positions.get(row.driver_id)
            if pos and (row.location_at is None or pos.at > row.location_at):
                _set_position(row, pos.lat, pos.lng, pos.at)
                changed.append(row)
    DriverAvailability.objects.bulk_update(changed, ["lat", "lng", "h3_cell", "location_at"])
    _couriers_follow(changed)
    return len(changed)


def _couriers_follow(rows: list[DriverAvailability]) -> None:
    """Orders on their way show where the driver is (tracking page, store board)."""
    from orders import services as order_services

    by_driver = {r.driver_id: r for r in rows}
    for driver_id, order_ids in sql.pending_order_ids_by_driver(list(by_driver)).items():
        r = by_driver[driver_id]
        order_services.order_courier_update(
            order_ids=order_ids,
            courier=order_services.Courier(lat=r.lat, lng=r.lng, located_at=r.location_at),
        )

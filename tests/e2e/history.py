"""Earlier hours of today for the ops console's charts: real deliveries made through the
services, then moved back in time (their events, offers and windows) hour by hour."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import Offer, TripStop
from orders.models import Order, OrderEvent
from spark.lib.geo import Point
from tests.drivers import files
from tests.orders.helpers import DROPOFF
from tests.store.helpers import STORE_A, City, driver_actor, order_in


def earlier_today(city: City, *, hours: int = 8) -> int:
    """Up to `hours` deliveries, one per past hour of today (market time); returns how many."""
    local = timezone.now().astimezone(ZoneInfo(city.market.timezone))
    count = min(hours, local.hour)
    for i in range(count):
        order = _deliver(city, f"SP-08{i:02d}", decline_first=i % 3 == 1)
        _move_back(order, hours=count - i, wait_minutes=3 + 4 * (i % 4), late=i % 5 == 3)
    return count


def _deliver(city: City, external_id: str, *, decline_first: bool) -> Order:
    order = order_in(city.store_a, Order.Status.READY_FOR_PICKUP, external_order_id=external_id)
    actor = driver_actor(city.driver)
    dispatch_services.dispatch_round_run(market_id=city.market.id)
    offer = Offer.objects.get(driver=city.driver, status=Offer.Status.OPEN)
    if decline_first:  # back to the pool, boosted; the next round offers it again
        dispatch_services.offer_decline(
            offer_public_id=offer.public_id, driver_id=city.driver.id, actor=actor
        )
        dispatch_services.dispatch_round_run(market_id=city.market.id)
        offer = Offer.objects.get(driver=city.driver, status=Offer.Status.OPEN)
    dispatch_services.offer_accept(
        offer_public_id=offer.public_id, driver_id=city.driver.id, actor=actor
    )
    dispatch_services.trips_sync_assigned()  # the follow-up a task runs after the commit
    order.refresh_from_db()
    trip = offer.trip
    dispatch_services.trip_confirm_pickup(
        trip_id=trip.id,
        actor=actor,
        driver_id=city.driver.id,
        codes={order.id: order.pickup_code},
        location=Point(*STORE_A),
    )
    photo = SimpleUploadedFile("door.jpg", files.jpeg_with_gps(), content_type="image/jpeg")
    dispatch_services.trip_stop_deliver(
        trip_id=trip.id,
        driver_id=city.driver.id,
        order_id=order.id,
        proof=dispatch_services.Proof(photo=photo),
        actor=actor,
        location=Point(DROPOFF["dropoff_lat"], DROPOFF["dropoff_lng"]),
    )
    return order


def _move_back(order: Order, *, hours: int, wait_minutes: int, late: bool) -> None:
    shift = timedelta(hours=hours)
    before_assign = shift + timedelta(minutes=wait_minutes)
    events = OrderEvent.objects.filter(order=order)
    events.filter(to_status__in=["created", "ready_for_pickup"]).update(at=F("at") - before_assign)
    events.exclude(to_status__in=["created", "ready_for_pickup"]).update(at=F("at") - shift)
    window_end = F("dropoff_window_end") - shift
    if late:
        window_end = F("status_changed_at") - shift - timedelta(minutes=10)
    Order.objects.filter(id=order.id).update(
        created_at=F("created_at") - before_assign,
        status_changed_at=F("status_changed_at") - shift,
        pickup_ready_at=F("pickup_ready_at") - before_assign,
        dropoff_window_start=F("dropoff_window_start") - shift - timedelta(hours=1),
        dropoff_window_end=window_end,
    )
    stops = TripStop.objects.filter(order_id=order.id)
    stops.update(delivered_at=F("delivered_at") - shift)
    Offer.objects.filter(trip_id__in=stops.values("trip_id")).update(
        created_at=F("created_at") - shift,
        responded_at=F("responded_at") - shift,
        expires_at=F("expires_at") - shift,
    )

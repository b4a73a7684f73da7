"""A small city for the store dashboard, ops console and browser tests: one market with a rate
card, two stores of one merchant, their staff, an ops user, and orders moved through the real
services (an order "with a driver" went through a dispatch round and an accepted offer)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import Offer, RateCard
from orders.models import Order, StoreMembership
from spark.lib.actors import Actor
from spark.lib.geo import Point
from tests.drivers.factories import approved_driver
from tests.factories import MarketFactory, MerchantFactory, StoreFactory, UserFactory
from tests.orders.helpers import DROPOFF, make_order

PASSWORD = "pw-for-tests-1"  # UserFactory's
STORE_A = (36.2291, -86.7595)
STORE_B = (36.1364, -86.8947)
NEAR_A = Point(STORE_A[0] + 0.01, STORE_A[1])


@dataclass
class City:
    market: Any
    store_a: Any
    store_b: Any
    staff_a: Any
    staff_b: Any
    ops: Any
    driver: Any  # an approved driver, online near store A


def build_city() -> City:
    market = MarketFactory(name="Nashville", slug="nashville")
    RateCard.objects.create(market=market, effective_from=timezone.now() - timedelta(days=1))
    merchant = MerchantFactory(name="Demo Mart", slug="demo-mart")
    store_a = StoreFactory(
        market=market,
        merchant=merchant,
        name="Store A",
        lat=STORE_A[0],
        lng=STORE_A[1],
        delivery_radius_km=30,
    )
    store_b = StoreFactory(
        market=market,
        merchant=merchant,
        name="Store B",
        lat=STORE_B[0],
        lng=STORE_B[1],
        delivery_radius_km=30,
    )
    staff_a = UserFactory(username="staff-a", first_name="Sam")
    staff_b = UserFactory(username="staff-b")
    StoreMembership.objects.create(user=staff_a, store=store_a, role="manager")
    StoreMembership.objects.create(user=staff_b, store=store_b)
    ops = UserFactory(username="ops-user", is_staff=True)
    driver = approved_driver(home_market=market)
    dispatch_services.driver_go_online(driver_id=driver.id, lat=NEAR_A.lat, lng=NEAR_A.lng)
    return City(market, store_a, store_b, staff_a, staff_b, ops, driver)


GROCERIES = ({"name": "Milk", "quantity": 2}, {"name": "Eggs", "quantity": 1})


def order_in(store: Any, status: str = Order.Status.CREATED, **kwargs: Any) -> Order:
    kwargs.setdefault("items", GROCERIES)
    return make_order(store, status, **kwargs)


def driver_actor(driver: Any) -> Actor:
    return Actor.user(driver.user, role="driver")


def assigned_order(city: City, **kwargs: Any) -> tuple[Order, Any]:
    """A ready order of store A, offered by a real round and accepted by the city's driver."""
    order = order_in(city.store_a, Order.Status.READY_FOR_PICKUP, **kwargs)
    dispatch_services.dispatch_round_run(market_id=city.market.id)
    offer = Offer.objects.get(driver=city.driver, status=Offer.Status.OPEN)
    dispatch_services.offer_accept(
        offer_public_id=offer.public_id, driver_id=city.driver.id, actor=driver_actor(city.driver)
    )
    dispatch_services.trips_sync_assigned()  # the follow-up a task runs after the commit
    order.refresh_from_db()
    return order, offer.trip


def picked_up_order(city: City, **kwargs: Any) -> tuple[Order, Any]:
    order, trip = assigned_order(city, **kwargs)
    dispatch_services.trip_confirm_pickup(
        trip_id=trip.id,
        actor=driver_actor(city.driver),
        driver_id=city.driver.id,
        codes={order.id: order.pickup_code},
        location=Point(*STORE_A),
    )
    order.refresh_from_db()
    return order, trip


def doorstep_photo() -> bytes:
    """A JPEG that looks like a proof-of-delivery photo: a door with the bags in front."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), (214, 196, 170))
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 40, 330, 330), fill=(90, 60, 40))
    draw.ellipse((300, 180, 314, 194), fill=(220, 190, 90))
    draw.rectangle((190, 250, 250, 330), fill=(235, 235, 228))
    draw.rectangle((240, 270, 300, 330), fill=(60, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def delivered_order(city: City, *, signature: str = "", **kwargs: Any) -> tuple[Order, Any]:
    order, trip = picked_up_order(city, **kwargs)
    photo = SimpleUploadedFile("door.jpg", doorstep_photo(), content_type="image/jpeg")
    dispatch_services.trip_stop_deliver(
        trip_id=trip.id,
        driver_id=city.driver.id,
        order_id=order.id,
        proof=dispatch_services.Proof(photo=photo, signature_name=signature),
        actor=driver_actor(city.driver),
        location=Point(DROPOFF["dropoff_lat"] + 0.0002, DROPOFF["dropoff_lng"]),
    )
    order.refresh_from_db()
    return order, trip


def returning_order(city: City, **kwargs: Any) -> tuple[Order, Any]:
    order, trip = picked_up_order(city, **kwargs)
    dispatch_services.trip_stop_undeliverable(
        trip_id=trip.id,
        driver_id=city.driver.id,
        order_id=order.id,
        reason="Nobody home, gate locked",
        actor=driver_actor(city.driver),
        location=Point(DROPOFF["dropoff_lat"], DROPOFF["dropoff_lng"]),
    )
    order.refresh_from_db()
    return order, trip

"""One small city in which every object has a known owner, for the authorization tests.

Two merchants with one store each (store 1 is merchant A's, store 2 merchant B's), staff of
each store, an ops user, and two approved drivers: driver A has an accepted trip for a store-1
order, driver B an open offer for a store-2 order. Each driver also has a completed trip,
documents, a screening invitation, an appeal and a block reservation; each merchant an API key,
a webhook endpoint and an order not yet packed. Built through the services where state has
invariants (orders, rounds, offers), with plain rows for the rest.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dispatch import services as dispatch_services
from dispatch.models import Block, BlockReservation, Offer, RateCard, Trip
from drivers.models import Appeal, BackgroundCheck, Document, DriverEvent
from orders import services as order_services
from orders.models import Order, StoreMembership
from payouts import services as payout_services
from spark.lib.actors import Actor
from tests.drivers import files
from tests.drivers.factories import approved_driver, driver_in
from tests.factories import MarketFactory, MerchantFactory, StoreFactory, UserFactory
from tests.orders.helpers import make_order
from tests.payouts.factories import completed_trip

STORE_1 = (36.2291, -86.7595)
STORE_2 = (36.1364, -86.8947)
WEBHOOK_URL = "http://127.0.0.1:9/hooks/{}"

# The roles of the matrix. Drivers call the driver API with a DRF token and open pages with a
# session; merchants use their API key everywhere (pages ignore it: they are anonymous there).
ROLES = ("driver_a", "driver_b", "staff_1", "staff_2", "merchant_a", "merchant_b", "ops", "anon")


@dataclass
class Principal:
    """One role and how it authenticates."""

    name: str
    user: Any = None
    api_key: str = ""
    token: str = ""


@dataclass
class World:
    market: Any
    stores: dict[str, Any]
    roles: dict[str, Principal]
    objects: dict[str, Any]  # name -> object, e.g. "trip_a", "offer_b", "order_a_new"
    owner: dict[str, str]  # object name -> the role that owns it ("" for nobody's)
    visible_to: dict[str, set[str]]  # object name -> roles that may see it anywhere

    def secrets_for(self, role: str) -> dict[str, str]:
        """The public ids `role` must never see in any response: {text: object name}."""
        hidden = {}
        for name, obj in self.objects.items():
            public_id = getattr(obj, "public_id", None)
            if public_id is not None and role not in self.visible_to[name] and role != "ops":
                hidden[str(public_id)] = name
        return hidden


def _merchant_side(world: dict, side: str, store: Any, staff: Any) -> None:
    merchant = store.merchant
    staff_role = f"staff_{'1' if side == 'a' else '2'}"
    _, raw = order_services.api_key_create(merchant=merchant)
    world["roles"][f"merchant_{side}"] = Principal(f"merchant_{side}", api_key=raw)
    world["roles"][staff_role] = Principal(staff_role, user=staff)
    webhook, spare = (
        order_services.webhook_endpoint_create(merchant=merchant, url=WEBHOOK_URL.format(n))
        for n in (side, f"{side}-spare")
    )
    # Packed for later in the day: a round does not hold the ready order of _round for it.
    fresh = make_order(
        store,
        Order.Status.CREATED,
        external_order_id=f"NEW-{side.upper()}",
        pickup_ready_at=timezone.now() + timedelta(hours=3),
    )
    _add(world, f"store_{side}", store, f"merchant_{side}", {staff_role})
    _add(world, f"webhook_{side}", webhook, f"merchant_{side}")
    _add(world, f"webhook_{side}_spare", spare, f"merchant_{side}")  # for the delete
    _add(world, f"order_{side}_new", fresh, f"merchant_{side}", {staff_role})


def _add(world: dict, name: str, obj: Any, owner: str, also: set[str] | None = None) -> None:
    world["objects"][name] = obj
    world["owner"][name] = owner
    world["visible_to"][name] = {owner, *(also or set())} - {""}


def _alias(world: dict, name: str, of: str) -> None:
    world["objects"][name] = world["objects"][of]
    world["owner"][name] = world["owner"][of]
    world["visible_to"][name] = world["visible_to"][of]


def _driver_rows(world: dict, side: str, driver: Any, store: Any, block: Block) -> None:
    role = f"driver_{side}"
    token = Token.objects.create(user=driver.user)
    world["roles"][role] = Principal(role, user=driver.user, token=token.key)
    done = completed_trip(driver=driver, store=store)
    event = DriverEvent.objects.filter(driver=driver).first()
    appeal = Appeal.objects.create(
        driver=driver, event=event, text="Please look again.", filed_at=timezone.now()
    )
    reservation = BlockReservation.objects.create(
        block=block, driver=driver, requested_at=timezone.now()
    )
    stop = done.stops.select_related("order").first()
    stop.pod_photo.save("pod.png", ContentFile(files.png()), save=True)
    staff = "staff_1" if side == "a" else "staff_2"
    _add(world, f"trip_{side}_done", done, role)
    _add(world, f"order_{side}_done", stop.order, f"merchant_{side}", {staff, role})
    _add(world, f"document_{side}", Document.objects.filter(driver=driver).first(), role)
    _add(world, f"check_{side}", BackgroundCheck.objects.get(driver=driver), role)
    _add(world, f"appeal_{side}", appeal, role)
    _add(world, f"event_{side}", event, role)
    _add(world, f"reservation_{side}", reservation, role)


def _round(world: dict, market: Any, drivers: dict[str, Any], stores: dict[str, Any]) -> None:
    """Driver A near store 1 and driver B near store 2 each get the nearby order's offer; A
    accepts (a trip), B's offer stays open."""
    orders = {}
    for side in ("a", "b"):
        lat, lng = (STORE_1, STORE_2)[side == "b"]
        dispatch_services.driver_go_online(driver_id=drivers[side].id, lat=lat + 0.005, lng=lng)
        orders[side] = make_order(
            stores[side], Order.Status.READY_FOR_PICKUP, external_order_id=f"RDY-{side.upper()}"
        )
    dispatch_services.dispatch_round_run(market_id=market.id)
    offers = {
        side: Offer.objects.get(driver=drivers[side], status=Offer.Status.OPEN)
        for side in ("a", "b")
    }
    for side in ("a", "b"):
        assert offers[side].trip.store_id == stores[side].id, "each driver got the nearby order"
    dispatch_services.offer_accept(
        offer_public_id=offers["a"].public_id,
        driver_id=drivers["a"].id,
        actor=Actor.user(drivers["a"].user, role="driver"),
    )
    dispatch_services.trips_sync_assigned()
    # B's offer stays open for the whole module, however slow the machine.
    Offer.objects.filter(pk=offers["b"].pk).update(expires_at=timezone.now() + timedelta(hours=2))
    for side in ("a", "b"):
        staff = "staff_1" if side == "a" else "staff_2"
        offers[side].refresh_from_db()
        orders[side].refresh_from_db()
        _add(world, f"offer_{side}", offers[side], f"driver_{side}")
        _add(world, f"trip_{side}", offers[side].trip, f"driver_{side}", {staff})
        # The order is the merchant's; its store sees it, and so does the driver it went to.
        _add(world, f"order_{side}", orders[side], f"merchant_{side}", {staff, f"driver_{side}"})
    # The trip each driver works on in the driver API: A's accepted one, B's completed one.
    for side, trip, order in (("a", "trip_a", "order_a"), ("b", "trip_b_done", "order_b_done")):
        _alias(world, f"trip_{side}_mine", trip)
        _alias(world, f"order_{side}_mine", order)


def _suspended_driver(world: dict, market: Any) -> None:
    """A third driver, suspended: the only appealable decision; it belongs to no role."""
    other = driver_in("suspended", home_market=market)
    event = DriverEvent.objects.filter(driver=other).first()
    _add(world, "event_c", event, "")


def build_world() -> World:
    market = MarketFactory(name="Nashville", slug="nashville")
    RateCard.objects.create(market=market, effective_from=timezone.now() - timedelta(days=1))
    stores = {
        side: StoreFactory(
            market=market,
            merchant=MerchantFactory(name=f"Merchant {side.upper()}"),
            name=f"Store {n}",
            lat=lat,
            lng=lng,
            delivery_radius_km=30,
        )
        for side, n, (lat, lng) in (("a", 1, STORE_1), ("b", 2, STORE_2))
    }
    world: dict[str, Any] = {"roles": {}, "objects": {}, "owner": {}, "visible_to": {}}
    for side, store in stores.items():
        staff = UserFactory(username=f"staff-{side}")
        StoreMembership.objects.create(user=staff, store=store, role="manager")
        _merchant_side(world, side, store, staff)
    ops = UserFactory(username="ops-user", is_staff=True)
    ops.user_permissions.add(Permission.objects.get(codename="view_document"))
    world["roles"]["ops"] = Principal("ops", user=ops)
    world["roles"]["anon"] = Principal("anon")
    block = Block.objects.create(
        market=market,
        starts_at=timezone.now() + timedelta(days=2),
        ends_at=timezone.now() + timedelta(days=2, hours=3),
        opens_at=timezone.now() - timedelta(hours=1),
        guaranteed_pay_cents=9000,
        capacity=2,
        lottery_seed=7,
        status=Block.Status.OPEN,
    )
    _add(world, "block", block, "", {"driver_a", "driver_b"})  # any driver of the market
    drivers = {side: approved_driver(home_market=market) for side in ("a", "b")}
    for side, driver in drivers.items():
        _driver_rows(world, side, driver, stores[side], block)
    payout_services.earnings_post()  # the completed trips' pay, for the earnings pages
    _round(world, market, drivers, stores)
    _suspended_driver(world, market)
    assert Trip.objects.get(pk=world["objects"]["trip_a"].pk).status == Trip.Status.ASSIGNED
    return World(market=market, stores=stores, **world)

"""A dispatch round for one market: read the state, solve, write the offers in bulk.

One round at a time per market (an advisory lock on PostgreSQL; SQLite serialises writers), run
by one Celery task per market every few seconds — never a task per order. A round:
1. expires due offers and drops cancelled orders from live trips (their own transactions);
2. reads ready orders not yet in a trip, trips waiting in the pool, and free online drivers;
3. asks the engine (dispatch/engine) for trips and an optimal assignment;
4. prices each assignment from the rate card into an immutable offer, re-checking the driver's
   minimum pay per mile against the real price, and writes offers, trips and order moves in bulk;
5. broadcasts trips that stayed unaccepted for N rounds to every eligible nearby driver.
"""

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from dispatch import engine
from dispatch.models import DispatchEvent, DispatchRound, Offer, RateCard, Trip, TripStop
from dispatch.selectors import availability_list_online_positions, rate_card_for
from dispatch.services import availability, offers, pricing, sql, trips
from dispatch.services.events import dispatch_event
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from spark.lib import clock
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
from spark.lib.db import try_advisory_xact_lock
from spark.lib.geo import GreatCircleEta, Point

ACTOR = Actor.system("dispatch")
LOCATION_MAX_AGE = timedelta(minutes=5)


@dataclass(frozen=True)
class PooledTrip:
    """What a round reads of a trip waiting in the pool (the offers relock the trips)."""

    id: int
    store_id: int
    boost_cents: int
    unaccepted_rounds: int
    order_ids: tuple[int, ...]  # its active stops' orders, ascending


@dataclass
class RoundState:
    now: datetime
    card: RateCard
    config: engine.EngineConfig
    orders: dict[int, order_selectors.DispatchOrder] = field(default_factory=dict)
    new_orders: list[engine.OrderIn] = field(default_factory=list)
    upcoming: list[engine.OrderIn] = field(default_factory=list)  # not ready yet: never offered
    pooled: dict[str, PooledTrip] = field(default_factory=dict)  # engine key -> trip
    pooled_in: list[engine.TripIn] = field(default_factory=list)
    broadcast: list[PooledTrip] = field(default_factory=list)
    drivers: dict[int, engine.DriverIn] = field(default_factory=dict)
    profiles: dict[int, object] = field(default_factory=dict)


def _size_units(order: object) -> int:
    quantity = sum(int(item.get("quantity", 1)) for item in order.items or [])
    return max(1, math.ceil(quantity / 10))


def _order_in(
    order: order_selectors.DispatchOrder, card: RateCard, eta: GreatCircleEta
) -> engine.OrderIn:
    store = Point(order.store_lat, order.store_lng)
    km = eta.road_km(store, Point(order.dropoff_lat, order.dropoff_lng))
    minutes = eta.travel_seconds(store, Point(order.dropoff_lat, order.dropoff_lng)) / 60
    solo = pricing.trip_pay(
        card, engaged_km=km, minutes=minutes, stops=1, boost_cents=0, tip_cents=order.tip_cents
    )
    return engine.OrderIn(
        id=order.id,
        store_id=order.store_id,
        pickup_lat=order.store_lat,
        pickup_lng=order.store_lng,
        dropoff_lat=order.dropoff_lat,
        dropoff_lng=order.dropoff_lng,
        ready_at=order.pickup_ready_at.timestamp(),
        dropoff_window_start=order.dropoff_window_start.timestamp(),
        dropoff_window_end=order.dropoff_window_end.timestamp(),
        pay_cents=solo.total_cents,
        size_units=_size_units(order),
        contains_alcohol=order.contains_alcohol,
    )


def _read_orders(state: RoundState, market_id: int, eta: GreatCircleEta) -> None:
    # Every ready order of the market: those in no live trip are this round's new orders, the
    # others wait in pooled trips (or are on offer). In id order, here and below: the batching
    # heuristics depend on the order they see orders in, and a round must decide the same way
    # whatever order the database returns.
    until = state.now + timedelta(seconds=state.config.hold_horizon_s)
    ready, upcoming = order_selectors.order_list_for_round(market_id=market_id, until=until)
    in_trips, pooled = sql.live_trips(market_id=market_id)
    for order in ready:
        state.orders[order.id] = order
        if order.id not in in_trips:
            state.new_orders.append(_order_in(order, state.card, eta))
    # Orders still being packed that will be ready soon: the engine may hold a ready order
    # back for a round or two to send it with one of them (engine.batching.orders_to_hold).
    state.upcoming = [_order_in(order, state.card, eta) for order in upcoming]
    missing = [i for t in pooled for i in t[4] if i not in state.orders]
    for order in order_selectors.order_list_for_dispatch(ids=missing):
        state.orders[order.id] = order
    for trip_id, store_id, boost_cents, unaccepted_rounds, order_ids in pooled:
        if not order_ids:
            continue
        trip = PooledTrip(trip_id, store_id, boost_cents, unaccepted_rounds, tuple(order_ids))
        if trip.unaccepted_rounds >= state.card.broadcast_after_rounds:
            state.broadcast.append(trip)
            continue
        ins = tuple(_order_in(state.orders[i], state.card, eta) for i in trip.order_ids)
        state.pooled[engine.batching.trip_key(trip.store_id, list(trip.order_ids))] = trip
        state.pooled_in.append(
            engine.TripIn(orders=ins, pay_cents=sum(o.pay_cents for o in ins) + trip.boost_cents)
        )


def _read_drivers(state: RoundState, market_id: int) -> None:
    rows = availability_list_online_positions(market_id=market_id)
    ids = [r.driver_id for r in rows]
    profiles = driver_selectors.driver_list_dispatch_profiles(ids=ids, eligible_only=True)
    eligible = {p.id: p for p in profiles}
    load = sql.drivers_load(ids, since=state.now - timedelta(days=7), at=state.now)
    free = [r for r in rows if r.driver_id in eligible and r.driver_id not in load.busy]
    positions = availability.positions_for(market_id=market_id, rows=free)
    for row in free:  # in driver id order
        profile = eligible[row.driver_id]
        pos = positions.get(profile.id)
        if pos is None or state.now - pos.at > LOCATION_MAX_AGE:
            continue  # no fresh position: not offered until the phone pings again
        worked = load.hours.get(profile.id)
        state.profiles[profile.id] = profile
        state.drivers[profile.id] = engine.DriverIn(
            id=profile.id,
            lat=pos.lat,
            lng=pos.lng,
            is_21_plus=profile.is_21_plus,
            no_alcohol=profile.no_alcohol,
            max_pickup_km=profile.max_pickup_km,
            min_pay_cents_per_mile=profile.min_pay_cents_per_mile,
            capacity_units=profile.capacity_units,
            hours_this_week=worked.total_seconds() / 3600 if worked else 0.0,
            on_block=profile.id in load.on_block,
        )


def _trips_for(
    plans: list[engine.TripPlan], state: RoundState, market_id: int
) -> dict[str, Trip | PooledTrip]:
    """The trip of each plan: the pooled trip it came from, or a new one (bulk-created)."""
    found = {p.key: state.pooled[p.key] for p in plans if p.key in state.pooled}
    new_plans = [p for p in plans if p.key not in found]
    created = [
        Trip(
            market_id=market_id,
            store_id=p.store_id,
            status=Trip.Status.POOLED,
            status_changed_at=state.now,
            currency=state.card.currency,
            route_km=round(p.route_km, 3),
            route_minutes=round(p.route_s / 60, 1),
        )
        for p in new_plans
    ]
    lib_sql.insert(Trip, created, ids=True)
    lib_sql.insert(
        TripStop,
        [
            TripStop(
                trip=trip,
                order_id=stop.order_id,
                sequence=i + 1,
                leg_km=round(stop.leg_km, 3),
                eta_at=datetime.fromtimestamp(stop.eta_at, tz=state.now.tzinfo),
            )
            for trip, plan in zip(created, new_plans, strict=True)
            for i, stop in enumerate(plan.stops)
        ],
    )
    return found | {p.key: t for p, t in zip(new_plans, created, strict=True)}


def _snapshot(plan: engine.TripPlan, state: RoundState) -> list[dict]:
    return [
        {
            "order_id": str(state.orders[stop.order_id].public_id),
            "sequence": i + 1,
            "address": state.orders[stop.order_id].dropoff_address,
            "lat": stop.lat,
            "lng": stop.lng,
            "eta_at": datetime.fromtimestamp(stop.eta_at, tz=state.now.tzinfo).isoformat(),
        }
        for i, stop in enumerate(plan.stops)
    ]


def _offer(
    trip: Trip | PooledTrip,
    plan: engine.TripPlan,
    driver_id: int,
    state: RoundState,
    *,
    pickup_km: float,
    engaged_km: float,
    last_eta: float,
    reason: dict,
    broadcast: bool = False,
) -> Offer | None:
    """Price the trip for this driver; None when it breaks the driver's pay-per-mile floor."""
    tips = sum(state.orders[o.id].tip_cents for o in plan.orders)
    minutes = max(1.0, (last_eta - state.now.timestamp()) / 60)
    pay = pricing.trip_pay(
        state.card,
        engaged_km=engaged_km,
        minutes=minutes,
        stops=len(plan.stops),
        boost_cents=trip.boost_cents,
        tip_cents=tips,
    )
    floor = state.profiles[driver_id].min_pay_cents_per_mile
    if floor and pay.cents_per_mile < floor:
        return None
    return Offer(
        trip_id=trip.id,
        driver_id=driver_id,
        is_broadcast=broadcast,
        currency=state.card.currency,
        expires_at=state.now + timedelta(seconds=state.card.offer_ttl_seconds),
        stops=_snapshot(plan, state),
        store_name=state.orders[plan.orders[0].id].store_name,
        pickup_km=round(pickup_km, 2),
        engaged_miles=pay.engaged_miles,
        estimated_minutes=pay.minutes,
        base_cents=pay.base_cents,
        distance_cents=pay.distance_cents,
        time_cents=pay.time_cents,
        extra_stops_cents=pay.extra_stops_cents,
        boost_cents=pay.boost_cents,
        tip_cents=pay.tip_cents,
        total_cents=pay.total_cents,
        cents_per_mile=pay.cents_per_mile,
        cents_per_hour=pay.cents_per_hour,
        contains_alcohol=plan.contains_alcohol,
        reason=reason,
    )


def _write_offers(
    result: engine.RoundResult, state: RoundState, market_id: int, round_row: DispatchRound
) -> list[Offer]:
    made = []
    trips_by_key = _trips_for([a.trip for a in result.assignments], state, market_id)
    for a in result.assignments:
        trip = trips_by_key[a.trip.key]
        reason = {
            "policy": round_row.policy,
            "rank": a.rank,
            "cost": round(a.cost, 1),
            "terms": {k: round(v, 1) for k, v in a.terms.items()},
            "pickup_km": round(a.pickup_km, 2),
            "round_id": round_row.id,
        }
        offer = _offer(
            trip,
            a.trip,
            a.driver_id,
            state,
            pickup_km=a.pickup_km,
            engaged_km=a.engaged_km,
            last_eta=a.dropoff_at[-1],
            reason=reason,
        )
        if offer is not None:
            offer.round = round_row
            made.append(offer)
    return made


def _broadcast(
    state: RoundState, taken: set[int], eta: GreatCircleEta, round_row: DispatchRound
) -> list[Offer]:
    """First come, first served: each long-waiting trip to every free, eligible driver nearby."""
    made = []
    for trip in state.broadcast:
        ins = tuple(_order_in(state.orders[i], state.card, eta) for i in trip.order_ids)
        plan = engine.plan_trip(
            engine.TripIn(orders=ins),
            now=state.now.timestamp(),
            config=state.config,
            eta=engine.HaversineEta.from_config(state.config),
        )
        store = Point(plan.pickup_lat, plan.pickup_lng)
        for driver in state.drivers.values():
            if driver.id in taken or not _may_carry(driver, plan):
                continue
            pickup_km = eta.road_km(Point(driver.lat, driver.lng), store)
            if pickup_km > (driver.max_pickup_km or state.config.max_pickup_km):
                continue
            pickup_s = eta.travel_seconds(Point(driver.lat, driver.lng), store)
            last_eta = state.now.timestamp() + pickup_s + plan.route_s
            offer = _offer(
                trip,
                plan,
                driver.id,
                state,
                pickup_km=pickup_km,
                engaged_km=pickup_km + plan.route_km,
                last_eta=last_eta,
                reason={
                    "policy": "broadcast",
                    "round_id": round_row.id,
                    "unaccepted_rounds": trip.unaccepted_rounds,
                },
                broadcast=True,
            )
            if offer is not None:
                offer.round = round_row
                made.append(offer)
    return made


def _may_carry(driver: engine.DriverIn, plan: engine.TripPlan) -> bool:
    if plan.contains_alcohol and (not driver.is_21_plus or driver.no_alcohol):
        return False
    return driver.capacity_units >= plan.size_units


def _commit_offers(made: list[Offer], state: RoundState) -> None:
    if not made:
        return
    lib_sql.insert(Offer, made, ids=True)
    trip_ids = sorted({o.trip_id for o in made})
    broadcast_ids = {o.trip_id for o in made if o.is_broadcast}
    locked = sql.lock_trips(trip_ids)
    # The trips' moves and the offers' events go out together (one round trip on PostgreSQL).
    writes = [
        statement
        for is_broadcast in (False, True)
        for statement in trips.trips_transition_statements(
            [t for t in locked if (t.id in broadcast_ids) == is_broadcast],
            to=Trip.Status.OFFERED,
            actor=ACTOR,
            fields={"is_broadcast": is_broadcast},
        )
    ]
    writes += lib_sql.insert_statements(
        DispatchEvent,
        [
            dispatch_event(
                entity=DispatchEvent.Entity.OFFER,
                entity_id=o.id,
                trip_id=o.trip_id,
                from_status="",
                to_status="open",
                actor=ACTOR,
                at=state.now,
                note=f"driver {o.driver_id}",
            )
            for o in made
        ],
    )
    lib_sql.run_later(writes)  # with the read below
    order_ids = sql.pending_order_ids(trip_ids)
    trips._move_orders(order_ids, to=trips.ORDER["offered"], actor=ACTOR)


_ROUND_FIELDS = (
    "finished_at",
    "orders",
    "drivers",
    "trips",
    "offers_made",
    "held_order_ids",
    "candidate_arcs",
    "solve_ms",
    "total_ms",
)


@dataclass(frozen=True)
class PairedPickup:
    """One round solved twice on the same state: the policy that made the offers and a shadow
    policy whose answer is only measured. Pickup km and orders of the assigned trips of each."""

    shadow_policy: str
    pickup_km: float
    orders: int
    shadow_pickup_km: float
    shadow_orders: int


def dispatch_round_run(
    *,
    market_id: int,
    policy: str = "optimal",
    batching: bool = True,
    shadow_policy: str | None = None,
) -> DispatchRound | None:
    """One round for one market; None when another round of the market is running.

    `batching=False` offers every order as a trip of its own (the simulator's baseline). With a
    `shadow_policy` the engine also solves the same round with it, offers nothing from that
    answer, and the returned row carries both answers' pickup km (`row.paired`, a
    PairedPickup): the two policies compared on identical inputs (P3 on a simulated day).
    """
    trips.trips_sync_assigned()
    offers.offers_expire_due(market_id=market_id)
    trips.trips_drop_cancelled_orders(market_id=market_id)
    with transaction.atomic():
        if not try_advisory_xact_lock(f"dispatch-round:{market_id}"):
            return None
        return _round(market_id, policy, batching, shadow_policy)


def _pickup(result: engine.RoundResult) -> tuple[float, int]:
    return (
        sum(a.pickup_km for a in result.assignments),
        sum(len(a.trip.orders) for a in result.assignments),
    )


def _round(
    market_id: int, policy: str, batching: bool, shadow_policy: str | None = None
) -> DispatchRound:
    started = time.perf_counter()
    now = clock.now()
    market = order_selectors.market_get(market_id=market_id)
    card = rate_card_for(market_id=market_id, at=now)
    config = engine.EngineConfig(
        speed_kmh=market.average_speed_kmh, detour_factor=market.detour_factor
    )
    eta = GreatCircleEta(speed_kmh=market.average_speed_kmh, detour_factor=market.detour_factor)
    state = RoundState(now=now, card=card, config=config)
    _read_orders(state, market_id, eta)
    _read_drivers(state, market_id)
    round_row = DispatchRound.objects.create(market_id=market_id, started_at=now, policy=policy)

    def solve(with_policy: str) -> engine.RoundResult:
        return engine.solve_round(
            state.new_orders,
            list(state.drivers.values()),
            config,
            policy=with_policy,
            batching=batching,
            now=now.timestamp(),
            trips=state.pooled_in,
            upcoming=state.upcoming,
        )

    result = solve(policy)
    round_row.paired = None
    if shadow_policy is not None:
        round_row.paired = PairedPickup(
            shadow_policy, *_pickup(result), *_pickup(solve(shadow_policy))
        )
    made = _write_offers(result, state, market_id, round_row)
    taken = {o.driver_id for o in made}
    made += _broadcast(state, taken, eta, round_row)
    _commit_offers(made, state)
    round_row.finished_at = clock.now()
    round_row.orders = len(state.new_orders) + sum(len(t.orders) for t in state.pooled_in)
    round_row.drivers = len(state.drivers)
    round_row.trips = result.stats.trips
    round_row.offers_made = len(made)
    round_row.held_order_ids = sorted(result.held)
    round_row.candidate_arcs = result.stats.candidate_arcs
    round_row.solve_ms = round(result.stats.total_ms, 2)
    round_row.total_ms = round((time.perf_counter() - started) * 1000, 2)
    lib_sql.update(DispatchRound, [round_row.id], {f: getattr(round_row, f) for f in _ROUND_FIELDS})
    return round_row

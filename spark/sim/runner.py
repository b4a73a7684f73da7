"""A simulated city day on the real services, in simulated time.

Everything happens through the apps' public services, exactly as the API, the driver portal and
the Celery beat would call them, with `spark.lib.clock` set to the simulated time:
the shop creates orders and marks them ready (orders.services), a dispatch round runs every
`round_seconds` (dispatch.services.dispatch_round_run, which also expires offers and syncs
accepted trips), simulated drivers answer offers (offer_accept / offer_decline), drive to the
store, check in, enter the pickup codes, drive to each door and deliver (the trip steps), and
ping their position while they wait. When the last order is final the week is settled
(payouts.services.payout_batch_settle: earnings, ledger and payouts).

No task leaves the process: Celery runs eagerly (the on-commit kicks run in place) and the
simulated shop has no webhook endpoints. Payouts go to the sandbox provider.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db import connection
from django.test import override_settings
from tqdm import tqdm

from dispatch import selectors as dispatch_selectors
from dispatch import services as dispatch_services
from orders import services as order_services
from payouts import services as payout_services
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import analyze, autovacuum_off
from spark.lib.errors import ApplicationError, InvalidTransition
from spark.lib.geo import Point
from spark.sim import setup, world
from spark.sim.state import CUSTOMER, NO_DRIVER, Agenda, SimDriver, SimOrder, driver_actor
from spark.sim.steps import TripSteps

DAY = date(2025, 6, 4)  # a Wednesday; any day works, a fixed one keeps runs comparable
PING_EVERY_S = 270.0  # waiting drivers' phones report often enough to stay under 5 minutes
IGNORE_SHARE = 0.04  # offers a driver never answers (they expire)
DRAIN_LIMIT_H = 6.0  # after the last order, the day must finish within this
ANALYZE_EVERY_S = 3600.0  # PostgreSQL without autovacuum: refresh the planner's statistics
# The tables a day's queries filter and join (rounds, trip steps): their statistics decide
# whether PostgreSQL plans a hash join or a nested loop over every online driver.
ANALYZED_MODELS = (
    "orders.Order",
    "orders.Store",
    "dispatch.Trip",
    "dispatch.TripStop",
    "dispatch.Offer",
    "dispatch.DriverAvailability",
    "dispatch.Block",
    "dispatch.BlockReservation",
    "drivers.Driver",
    "drivers.Document",
    "drivers.Vehicle",
)


@dataclass(frozen=True)
class Params:
    city: str = "nashville"
    orders: int = 5000
    drivers: int = 500
    hours: float = 12.0
    seed: int = 1
    policy: str = "optimal"
    batching: bool = True
    round_seconds: float = 60.0
    give_up_minutes: float = 45.0
    progress: bool = False
    # also solve every round with the greedy policy, offer nothing from it, and report the two
    # answers' pickup km on identical inputs (P3 on the day, paired)
    paired_greedy: bool = False


@dataclass
class Trace:
    """What only the simulator saw: round wall times, driving, answers, phases."""

    round_wall_ms: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    phases_s: dict[str, float] = field(default_factory=dict)
    step_s: Counter[str] = field(default_factory=Counter)  # wall time per kind of step
    step_n: Counter[str] = field(default_factory=Counter)
    end_s: float = 0.0
    settlement: dict[str, Any] = field(default_factory=dict)
    paired: list[Any] = field(default_factory=list)  # PairedPickup per round (paired_greedy)


class Simulation(TripSteps):
    def __init__(self, params: Params) -> None:
        started = time.perf_counter()
        self.p = params
        spec = setup.city_spec(params.city)
        store_points = [(lat, lng) for _, _, lat, lng in spec["stores"]]
        self.world = world.build(
            seed=params.seed,
            n_orders=params.orders,
            n_drivers=params.drivers,
            hours=params.hours,
            stores=store_points,
            centre=spec["centre"],
        )
        self.rows = setup.rows_create(city=params.city, drivers=self.world.drivers, day=DAY)
        self.market = self.rows.market
        self.tz = ZoneInfo(self.market.timezone)
        midnight = datetime.combine(DAY, datetime.min.time(), tzinfo=self.tz)
        self.day_start = midnight + timedelta(hours=self.world.start_hour)
        self.end_s = params.hours * 3600.0
        self.eta = order_services.eta_model_for(self.market)
        self.stores = [Point(s.lat, s.lng) for s in self.rows.stores]
        self.shop = Actor.merchant(self.rows.merchant)
        self.orders = [SimOrder(plan) for plan in self.world.orders]
        self.by_id: dict[int, SimOrder] = {}
        self.by_public: dict[str, SimOrder] = {}
        self.drivers = [
            SimDriver(plan=plan, id=driver_id, where=Point(plan.lat, plan.lng))
            for plan, driver_id in zip(self.world.drivers, self.rows.driver_ids, strict=True)
        ]
        self.driver_by_id = {d.id: d for d in self.drivers}
        self.agenda = Agenda()
        self.trace = Trace()
        self.t = 0.0
        self.open_orders = len(self.orders)
        self.waiting: set[int] = set()  # ready, not final, no driver yet: what rounds are for
        self.round_no = 0
        self.trace.phases_s["setup"] = time.perf_counter() - started

    # --- the loop ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.day_start + timedelta(seconds=self.t)

    def run(self) -> Trace:
        cpu = time.process_time()
        try:
            with clock.use_clock(self.now), _in_process():
                started = time.perf_counter()
                self._plan_day()
                self._loop()
                self.trace.phases_s["day"] = time.perf_counter() - started
                self.trace.end_s = self.t
                started = time.perf_counter()
                self._settle()
                self.trace.phases_s["settlement"] = time.perf_counter() - started
        finally:
            setup.market_close(self.market)  # even after a crash: no live beat dispatches it
        self.trace.phases_s["cpu"] = time.process_time() - cpu
        return self.trace

    def _plan_day(self) -> None:
        self._analyze()  # the day's drivers and stores were just bulk-loaded
        for o in self.orders:
            self.agenda.at(o.plan.created_s, self._order_create, o)
        for d in self.drivers:
            self.agenda.at(d.plan.start_s, self._shift_start, d)
            self.agenda.at(d.plan.end_s, self._shift_end, d)
        self.agenda.at(0.0, self._round)
        if autovacuum_off():
            self.agenda.at(ANALYZE_EVERY_S, self._autoanalyze)

    def _loop(self) -> None:
        limit = self.end_s + DRAIN_LIMIT_H * 3600.0
        with tqdm(
            total=round(self.end_s / 60),
            unit="min",
            desc=f"{self.market.slug} {self.p.policy}",
            disable=not self.p.progress,
            leave=False,
        ) as bar:
            while self.agenda:
                t, fn, args = self.agenda.pop()
                if t > limit:
                    raise RuntimeError(f"the day did not finish {DRAIN_LIMIT_H} h after closing")
                self.t = t
                started = time.perf_counter()
                fn(*args)
                self.trace.step_s[fn.__name__] += time.perf_counter() - started
                self.trace.step_n[fn.__name__] += 1
                minute = int(t // 60)
                if minute > bar.n:
                    bar.total = max(bar.total, minute)
                    bar.update(minute - bar.n)

    # --- the shop ----------------------------------------------------------------------------

    def _order_create(self, o: SimOrder) -> None:
        plan, store = o.plan, self.rows.stores[o.plan.store]
        data = order_services.OrderInput(
            external_order_id=f"SIM-{plan.index:06d}",
            customer_name=f"Customer {plan.index}",
            customer_phone="+16155550100",
            order_value_cents=plan.value_cents,
            store_id=store.public_id,
            dropoff_address=f"{100 + plan.index} Simulated Ave, {self.market.name}",
            dropoff_lat=plan.dropoff_lat,
            dropoff_lng=plan.dropoff_lng,
            items=({"name": "Groceries", "quantity": plan.quantity},),
            tip_cents=plan.tip_cents,
            signature_required=True,  # the customer signs on the driver's phone
            pin_required=plan.pin_required,
            contains_alcohol=plan.contains_alcohol,
            pickup_ready_at=self.now() + timedelta(seconds=plan.prep_s),
        )
        made = order_services.order_create(merchant=self.rows.merchant, data=data, actor=self.shop)
        order = made.order
        o.id, o.public_id = order.id, str(order.public_id)
        o.pickup_code, o.pin = order.pickup_code, order.dropoff_pin
        self.by_id[o.id], self.by_public[o.public_id] = o, o
        self.agenda.at(self.t + plan.prep_s, self._order_ready, o)
        if plan.cancel_after_s is not None:
            self.agenda.at(self.t + plan.cancel_after_s, self._order_cancel, o, CUSTOMER)
        give_up = plan.prep_s + self.p.give_up_minutes * 60.0
        self.agenda.at(self.t + give_up, self._order_cancel, o, NO_DRIVER)

    def _order_ready(self, o: SimOrder) -> None:
        if not o.final:
            order_services.order_mark_ready(
                merchant=self.rows.merchant, public_id=o.public_id, actor=self.shop
            )
            self.waiting.add(o.plan.index)

    def _order_cancel(self, o: SimOrder, reason: str) -> None:
        if o.final or o.picked_up or (reason == NO_DRIVER and o.assigned):
            return
        try:
            order_services.order_cancel_for_merchant(
                merchant=self.rows.merchant, public_id=o.public_id, actor=self.shop, reason=reason
            )
        except InvalidTransition:
            self.trace.counts["cancel_too_late"] += 1
            return
        self._final(o)

    def _final(self, o: SimOrder) -> None:
        if not o.final:
            o.final = True
            self.open_orders -= 1
            self.waiting.discard(o.plan.index)

    # --- dispatch ----------------------------------------------------------------------------

    def _analyze(self) -> None:
        """ANALYZE the day's tables on PostgreSQL (a no-op elsewhere), as after any bulk load."""
        started = time.perf_counter()
        analyze(*(apps.get_model(label) for label in ANALYZED_MODELS))
        self.trace.phases_s["analyze"] = self.trace.phases_s.get("analyze", 0.0) + (
            time.perf_counter() - started
        )

    def _autoanalyze(self) -> None:
        """Stands in for autovacuum's analyze on a server that has it switched off (a CI box):
        without it the statistics describe an empty day all day, and the rounds' reads of
        drivers and trips turn into nested loops (~30 ms a round instead of ~3 ms)."""
        if self.t + ANALYZE_EVERY_S < self.end_s:  # never what keeps the day going
            self.agenda.at(self.t + ANALYZE_EVERY_S, self._autoanalyze)
        self._analyze()

    def _round(self) -> None:
        if self.t < self.end_s or self.open_orders > 0:
            self.agenda.at(self.t + self.p.round_seconds, self._round)
        if not self.waiting and not any(self.t < d.offer_until for d in self.drivers):
            # Nothing ready waits for a driver and no offer is open: the round would find
            # nothing to do (a cancelled order still on a trip is dropped at the driver's
            # next step, by the same sweep).
            self.trace.counts["rounds_skipped"] += 1
            return
        self._pings()
        started = time.perf_counter()
        row = dispatch_services.dispatch_round_run(
            market_id=self.market.id,
            policy=self.p.policy,
            batching=self.p.batching,
            shadow_policy="greedy" if self.p.paired_greedy else None,
        )
        self.trace.round_wall_ms.append((time.perf_counter() - started) * 1000.0)
        if row is not None and row.paired is not None:
            self.trace.paired.append(row.paired)
        self.round_no += 1
        if row is not None and row.offers_made:
            self._offers_answer(row.id)

    def _offers_answer(self, round_id: int) -> None:
        """Each driver looks at what this round sent them (a broadcast may send several) and
        answers the best-paid one; the others are declined."""
        rows = dispatch_selectors.offer_queryset().filter(round_id=round_id)
        by_driver: dict[int, list[tuple]] = defaultdict(list)
        for public_id, driver_id, trip_id, cpm, stops, expires_at in rows.values_list(
            "public_id", "driver_id", "trip_id", "cents_per_mile", "stops", "expires_at"
        ):
            orders = [self.by_public[s["order_id"]] for s in stops]
            key = min(o.plan.index for o in orders)
            until = (expires_at - self.day_start).total_seconds()
            by_driver[driver_id].append((key, str(public_id), trip_id, cpm, until, orders))
        for driver_id in sorted(by_driver, key=lambda i: self.driver_by_id[i].plan.index):
            d = self.driver_by_id[driver_id]
            offers = sorted(by_driver[driver_id])
            best = max(offers, key=lambda x: (x[3], -x[0]))
            for offer in offers:
                self._offer_consider(d, offer, best=offer is best)

    def _offer_consider(self, d: SimDriver, offer: tuple, *, best: bool) -> None:
        key, public_id, trip_id, cpm, until, orders = offer
        self.trace.counts["offers_seen"] += 1
        decision = (d.plan.index, key, self.round_no)
        delay = 3.0 + 37.0 * world.chance(self.p.seed, "delay", *decision)
        d.offer_until = max(d.offer_until, until)
        if best and world.chance(self.p.seed, "ignore", *decision) < IGNORE_SHARE:
            self.trace.counts["offers_ignored"] += 1
            return
        p = world.accept_probability(cpm, d.plan.threshold_cpm)
        accept = best and world.chance(self.p.seed, "accept", *decision) < p
        self.agenda.at(self.t + delay, self._offer_respond, d, public_id, trip_id, orders, accept)

    def _offer_respond(
        self, d: SimDriver, public_id: str, trip_id: int, orders: list[SimOrder], accept: bool
    ) -> None:
        d.offer_until = self.t
        actor = driver_actor(d)
        if not accept or d.leaving or d.trip is not None or not d.online:
            try:
                dispatch_services.offer_decline(
                    offer_public_id=public_id, driver_id=d.id, actor=actor, reason="not for me"
                )
            except ApplicationError:  # withdrawn (a broadcast someone took) or expired
                self.trace.counts["decline_too_late"] += 1
            return
        try:
            dispatch_services.offer_accept(offer_public_id=public_id, driver_id=d.id, actor=actor)
        except ApplicationError:  # another driver won the broadcast, or it expired
            self.trace.counts["accept_lost"] += 1
            return
        # The accept's on-commit kick has run the sync in place (eager): orders assigned, the
        # trip's other offers withdrawn.
        for o in orders:
            o.assigned = True
            self.waiting.discard(o.plan.index)
        key = min(o.plan.index for o in orders)
        self._trip_start(d, trip_id=trip_id, store=orders[0].plan.store, key=key)

    def _pings(self) -> None:
        for d in self.drivers:
            if d.idle(self.t) and self.t - d.last_ping >= PING_EVERY_S:
                self._ping(d)

    def _ping(self, d: SimDriver) -> None:
        where = d.position(self.t)
        dispatch_services.driver_location_update(
            driver_id=d.id, market_id=self.market.id, lat=where.lat, lng=where.lng
        )
        d.last_ping = self.t
        self.trace.counts["pings"] += 1

    # --- shifts --------------------------------------------------------------------------------

    def _shift_start(self, d: SimDriver) -> None:
        dispatch_services.driver_go_online(driver_id=d.id, lat=d.where.lat, lng=d.where.lng)
        d.online, d.online_since, d.last_ping = True, self.t, self.t

    def _shift_end(self, d: SimDriver) -> None:
        d.leaving = True
        if d.trip is not None or not d.online:
            return  # off after the trip
        if self.t < d.offer_until:
            self.agenda.at(d.offer_until + 1.0, self._shift_end, d)
            return
        self._go_offline(d)

    def _go_offline(self, d: SimDriver) -> None:
        d.stop_moving(self.t)
        dispatch_services.driver_go_offline(driver_id=d.id)
        d.online = False
        d.online_s += self.t - d.online_since

    # --- the week's settlement -------------------------------------------------------------------

    def _settle(self) -> None:
        """Monday after the day: the weekly settlement pays the drivers (sandbox provider)."""
        monday = DAY - timedelta(days=DAY.weekday())
        next_monday = datetime.combine(monday + timedelta(days=7), datetime.min.time(), self.tz)
        self.t = (next_monday - self.day_start).total_seconds() + 1800.0
        batch = payout_services.payout_batch_settle(market_id=self.market.id, period_start=monday)
        self.trace.settlement = {
            "payouts": batch.payouts_count if batch else 0,
            "paid_cents": batch.total_cents if batch else 0,
            "status": batch.status if batch else "none",
        }


@contextmanager
def _in_process() -> Iterator[None]:
    """Tasks run in place (the on-commit kicks too); payouts go to the sandbox provider.

    The run's session does not wait for each commit to reach the disk (a simulated day needs no
    durability against a crash; every commit is still atomic and in order): on PostgreSQL no
    wait for the WAL flush, on SQLite no fsync when the WAL is checkpointed.
    """
    from spark.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    restore = _durability_off()
    try:
        with override_settings(
            CELERY_TASK_ALWAYS_EAGER=True,
            PAYOUTS_PROVIDER="sandbox",
            PAYOUTS_SANDBOX_FAIL_WITH="",
        ):
            yield
    finally:
        app.conf.task_always_eager = eager
        restore()


def _durability_off() -> Callable[[], None]:
    """Relax the session's commit durability; returns what puts it back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit TO OFF")
            return lambda: _session("RESET synchronous_commit")
        if connection.vendor == "sqlite" and not connection.in_atomic_block:
            # (SQLite cannot change it inside a transaction: a test's day keeps the default.)
            cursor.execute("PRAGMA synchronous")
            (previous,) = cursor.fetchone()
            cursor.execute("PRAGMA synchronous = OFF")
            return lambda: _session(f"PRAGMA synchronous = {int(previous)}")
    return lambda: None


def _session(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)

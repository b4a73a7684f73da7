"""Dispatch: who is online where, trips that batch orders, timed offers, rate cards, blocks.

Foreign keys to other apps are strings; other apps' types only under TYPE_CHECKING.
"""

import uuid
from datetime import datetime, timedelta
from typing import ClassVar

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q

from spark.lib.models import BaseModel


class RateCard(BaseModel):
    """A market's pay rules from `effective_from` on (the newest one in force applies).

    Offers are priced from it (base, distance, time, extra stops, boosts); payouts reads the
    same card for what happens after the offer (waits, returns, cancellations, floors, fees).
    """

    market = models.ForeignKey("orders.Market", on_delete=models.PROTECT, related_name="+")
    effective_from = models.DateTimeField()
    currency = models.CharField(max_length=3, default="USD")
    base_pay_cents = models.BigIntegerField(default=400)
    per_mile_cents = models.BigIntegerField(default=70)
    per_engaged_minute_cents = models.BigIntegerField(default=10)
    per_extra_stop_cents = models.BigIntegerField(default=200)
    wait_pay_after_minutes = models.PositiveIntegerField(default=10)
    wait_pay_per_minute_cents = models.BigIntegerField(default=15)
    return_to_store_cents = models.BigIntegerField(default=400)
    cancel_after_accept_cents = models.BigIntegerField(default=200)
    cancel_at_store_cents = models.BigIntegerField(default=400)
    cancel_at_door_cents = models.BigIntegerField(default=800)
    # Optional minimum per engaged hour (NYC or Seattle style), topped up weekly.
    hourly_floor_cents = models.BigIntegerField(null=True, blank=True)
    instant_pay_fee_cents = models.BigIntegerField(default=199)
    boost_step_cents = models.BigIntegerField(default=150)
    boost_max_cents = models.BigIntegerField(default=900)
    broadcast_after_rounds = models.PositiveSmallIntegerField(default=4)
    offer_ttl_seconds = models.PositiveIntegerField(default=60)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["market", "effective_from"], name="one_rate_card_per_market_instant"
            ),
            models.CheckConstraint(
                condition=Q(base_pay_cents__gte=0)
                & Q(per_mile_cents__gte=0)
                & Q(per_engaged_minute_cents__gte=0)
                & Q(boost_step_cents__gte=0)
                & Q(boost_max_cents__gte=0),
                name="rate_card_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} from {self.effective_from:%Y-%m-%d}"


class DriverAvailability(BaseModel):
    """A driver's online state and last known position (H3 cell for area queries).

    In production, pings go to Redis and are flushed here periodically; embedded, here directly.
    """

    driver = models.OneToOneField(
        "drivers.Driver", on_delete=models.CASCADE, related_name="availability"
    )
    market = models.ForeignKey("orders.Market", on_delete=models.PROTECT, related_name="+")
    is_online = models.BooleanField(default=False, db_index=True)
    online_since = models.DateTimeField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    h3_cell = models.CharField(max_length=16, blank=True, db_index=True)
    location_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "driver availability"

    def __str__(self) -> str:
        return f"driver {self.driver_id} {'online' if self.is_online else 'offline'}"


class DispatchRound(models.Model):
    """One matching round of one market: what it saw, what it decided, how long it took."""

    market = models.ForeignKey("orders.Market", on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    policy = models.CharField(max_length=16, default="optimal")
    orders = models.PositiveIntegerField(default=0)
    drivers = models.PositiveIntegerField(default=0)
    trips = models.PositiveIntegerField(default=0)
    offers_made = models.PositiveIntegerField(default=0)
    held_order_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="Ready orders held back to batch with an order of their store being packed.",
    )
    candidate_arcs = models.PositiveIntegerField(default=0)
    solve_ms = models.FloatField(default=0)
    total_ms = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"round {self.id} ({self.market_id})"


class TripStatus(models.TextChoices):
    POOLED = "pooled"  # waiting for a driver
    OFFERED = "offered"  # an offer (or a broadcast) is open
    ASSIGNED = "assigned"  # a driver accepted and is on the way to the store
    AT_STORE = "at_store"
    IN_PROGRESS = "in_progress"  # picked up, delivering
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Trip(BaseModel):
    Status = S = TripStatus
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        S.POOLED: frozenset({S.OFFERED, S.CANCELLED}),
        S.OFFERED: frozenset({S.POOLED, S.ASSIGNED, S.CANCELLED}),
        S.ASSIGNED: frozenset({S.AT_STORE, S.POOLED, S.CANCELLED}),
        S.AT_STORE: frozenset({S.IN_PROGRESS, S.POOLED, S.CANCELLED}),
        S.IN_PROGRESS: frozenset({S.COMPLETED}),
        S.COMPLETED: frozenset(),
        S.CANCELLED: frozenset(),
    }
    ACTIVE: ClassVar[frozenset[str]] = frozenset(
        {S.POOLED, S.OFFERED, S.ASSIGNED, S.AT_STORE, S.IN_PROGRESS}
    )
    WITH_DRIVER: ClassVar[frozenset[str]] = frozenset({S.ASSIGNED, S.AT_STORE, S.IN_PROGRESS})

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    market = models.ForeignKey("orders.Market", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("orders.Store", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.POOLED, db_index=True
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.PROTECT, null=True, blank=True, related_name="trips"
    )
    route_km = models.FloatField(default=0)
    route_minutes = models.FloatField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    base_pay_cents = models.BigIntegerField(default=0, help_text="Pay before boosts and tips.")
    boost_cents = models.BigIntegerField(default=0)
    unaccepted_rounds = models.PositiveSmallIntegerField(default=0)
    is_broadcast = models.BooleanField(default=False)
    block_reservation = models.ForeignKey(
        "BlockReservation", on_delete=models.SET_NULL, null=True, blank=True, related_name="trips"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    arrived_at_store_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=TripStatus.values), name="trip_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["assigned", "at_store", "in_progress"])
                | Q(driver__isnull=False),
                name="trip_with_driver_has_driver",
            ),
            # A driver carries one trip at a time, whatever the concurrency (C2's cap).
            models.UniqueConstraint(
                fields=["driver"],
                condition=Q(status__in=["assigned", "at_store", "in_progress"]),
                name="one_active_trip_per_driver",
            ),
        ]

    def __str__(self) -> str:
        return f"trip {self.public_id} ({self.status})"

    def can_transition_to(self, to: str) -> bool:
        return to in self.TRANSITIONS[self.status]


class TripStop(models.Model):
    """An order in a trip, in the order the driver drives them. Inactive once removed."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        UNDELIVERABLE = "undeliverable"  # being returned to the store
        RETURNED = "returned"
        REMOVED = "removed"  # cancelled by the shop, or moved to another trip

    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="stops")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    is_active = models.BooleanField(default=True)
    eta_at = models.DateTimeField(null=True, blank=True)
    leg_km = models.FloatField(default=0)
    # Proof of delivery
    delivered_at = models.DateTimeField(null=True, blank=True)
    pod_photo = models.FileField(upload_to="pod/%Y/%m/", blank=True, max_length=200)
    pod_signature_name = models.CharField(max_length=200, blank=True)
    pod_pin_ok = models.BooleanField(null=True, blank=True)
    pod_id_checked = models.BooleanField(null=True, blank=True)
    pod_lat = models.FloatField(null=True, blank=True)
    pod_lng = models.FloatField(null=True, blank=True)
    undeliverable_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("sequence",)
        constraints: ClassVar = [
            # An order is in at most one live trip at a time.
            models.UniqueConstraint(
                fields=["order"], condition=Q(is_active=True), name="order_in_one_active_trip"
            ),
        ]

    def __str__(self) -> str:
        return f"stop {self.sequence} of {self.trip_id}"


class OfferStatus(models.TextChoices):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the trip went to someone else or was cancelled


# Audit (A10): each insert and update leaves an OfferHistory row with its actor
# (spark.lib.audit). The promise's stops and reasons never change, so they are not copied.
@pghistory.track(
    pghistory.InsertEvent(trigger_name="history_insert"),
    pghistory.UpdateEvent(trigger_name="history_update"),
    exclude=["stops", "reason"],
    obj_field=pghistory.ObjForeignKey(related_name="history", db_index=True),
    model_name="OfferHistory",
)
class Offer(BaseModel):
    """An immutable snapshot of what a driver is promised for a trip, with an expiry.

    Only `status` and the response times change after creation. Accepting is a conditional
    UPDATE: exactly one driver can win a trip, however many try at once.
    """

    Status = S = OfferStatus
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        S.OPEN: frozenset({S.ACCEPTED, S.DECLINED, S.EXPIRED, S.WITHDRAWN}),
        S.ACCEPTED: frozenset(),
        S.DECLINED: frozenset(),
        S.EXPIRED: frozenset(),
        S.WITHDRAWN: frozenset(),
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="offers")
    driver = models.ForeignKey("drivers.Driver", on_delete=models.PROTECT, related_name="offers")
    round = models.ForeignKey(
        DispatchRound, on_delete=models.SET_NULL, null=True, blank=True, related_name="offers"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    is_broadcast = models.BooleanField(default=False)
    expires_at = models.DateTimeField(db_index=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    # --- the promise (snapshot) ---
    currency = models.CharField(max_length=3, default="USD")
    stops = models.JSONField(help_text="[{order_id, sequence, address, lat, lng, eta_at}]")
    store_name = models.CharField(max_length=200)
    pickup_km = models.FloatField()
    engaged_miles = models.FloatField(help_text="Including the drive to the store.")
    estimated_minutes = models.FloatField()
    base_cents = models.BigIntegerField()
    distance_cents = models.BigIntegerField()
    time_cents = models.BigIntegerField(default=0)
    extra_stops_cents = models.BigIntegerField(default=0)
    boost_cents = models.BigIntegerField(default=0)
    tip_cents = models.BigIntegerField()
    total_cents = models.BigIntegerField()
    cents_per_mile = models.BigIntegerField()
    cents_per_hour = models.BigIntegerField()
    contains_alcohol = models.BooleanField(default=False)
    # --- why this driver ---
    reason = models.JSONField(default=dict, help_text="cost terms, rank, policy")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["trip"], condition=Q(status="accepted"), name="one_accepted_offer_per_trip"
            ),
            models.UniqueConstraint(
                fields=["trip", "driver"],
                condition=Q(status="open"),
                name="one_open_offer_per_trip_and_driver",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OfferStatus.values), name="offer_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    total_cents=models.F("base_cents")
                    + models.F("distance_cents")
                    + models.F("time_cents")
                    + models.F("extra_stops_cents")
                    + models.F("boost_cents")
                    + models.F("tip_cents")
                ),
                name="offer_total_is_the_sum_of_its_lines",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["driver", "status"], name="offer_driver_status"),
        ]

    def __str__(self) -> str:
        return f"offer {self.public_id} ({self.status})"

    @property
    def pay_cents(self) -> int:
        """Driver pay before the tip (what the platform pays)."""
        return self.total_cents - self.tip_cents


class DispatchEvent(models.Model):
    """The audit row of every trip and offer transition (and block reservation changes)."""

    class Entity(models.TextChoices):
        TRIP = "trip"
        OFFER = "offer"
        RESERVATION = "reservation"
        BLOCK = "block"

    entity = models.CharField(max_length=16, choices=Entity.choices)
    entity_id = models.BigIntegerField()
    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, null=True, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=100)
    at = models.DateTimeField(db_index=True)
    note = models.TextField(blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["entity", "entity_id"], name="dispatch_event_ent")
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.entity_id}: {self.from_status} -> {self.to_status}"


class BlockStatus(models.TextChoices):
    SCHEDULED = "scheduled"  # published, reservations not open yet
    OPEN = "open"  # requests taken; the first minute's requests go to a lottery
    CANCELLED = "cancelled"


class Block(BaseModel):
    """A scheduled shift (Amazon Flex style) that drivers reserve ahead of time."""

    Status = BlockStatus
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        BlockStatus.SCHEDULED: frozenset({BlockStatus.OPEN, BlockStatus.CANCELLED}),
        BlockStatus.OPEN: frozenset({BlockStatus.CANCELLED}),
        BlockStatus.CANCELLED: frozenset(),
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    market = models.ForeignKey("orders.Market", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        "orders.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    guaranteed_pay_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    capacity = models.PositiveSmallIntegerField()
    opens_at = models.DateTimeField(help_text="When reservations open (announced ahead).")
    lottery_window_seconds = models.PositiveIntegerField(default=60)
    lottery_seed = models.BigIntegerField(default=0)
    lottery_drawn_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    forfeit_cutoff_minutes = models.PositiveIntegerField(
        default=45, help_text="Releasing later than this before the start counts as a forfeit."
    )

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="block_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="block_capacity_positive"),
            models.CheckConstraint(
                condition=Q(guaranteed_pay_cents__gte=0), name="block_pay_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("starts_at")), name="block_opens_before_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=BlockStatus.values), name="block_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"block {self.starts_at:%Y-%m-%d %H:%M} ({self.market_id})"

    @property
    def lottery_closes_at(self) -> datetime:
        """Requests before this instant (from opens_at on) go to the lottery."""
        return self.opens_at + timedelta(seconds=self.lottery_window_seconds)

    @property
    def forfeit_after(self) -> datetime:
        """Giving a reservation back from this instant on is a forfeit."""
        return self.starts_at - timedelta(minutes=self.forfeit_cutoff_minutes)

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


class BlockReservationStatus(models.TextChoices):
    REQUESTED = "requested"  # in the lottery window, waiting for the draw
    RESERVED = "reserved"
    LOST = "lost"  # not drawn (the block was full)
    RELEASED = "released"  # given back in time (or the block was cancelled)
    FORFEITED = "forfeited"  # given back late, or did not show
    COMPLETED = "completed"


class BlockReservation(BaseModel):
    Status = S = BlockReservationStatus
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        S.REQUESTED: frozenset({S.RESERVED, S.LOST, S.RELEASED}),
        S.RESERVED: frozenset({S.RELEASED, S.FORFEITED, S.COMPLETED}),
        # A place that opens after the draw goes first come, first served, losers included.
        S.LOST: frozenset({S.RESERVED}),
        S.RELEASED: frozenset({S.REQUESTED, S.RESERVED}),
        S.FORFEITED: frozenset(),
        S.COMPLETED: frozenset(),
    }
    # A driver holds at most one live row over any stretch of time (no overlapping blocks).
    LIVE: ClassVar[frozenset[str]] = frozenset({S.REQUESTED, S.RESERVED})

    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="reservations")
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.PROTECT, related_name="block_reservations"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    lottery_weight = models.FloatField(default=1.0)
    decided_at = models.DateTimeField(null=True, blank=True)
    # First seen online (or on a trip) during the block: no-show and completion read it.
    checked_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["block", "driver"], name="one_request_per_block"),
            models.CheckConstraint(
                condition=Q(status__in=BlockReservationStatus.values),
                name="block_reservation_status_valid",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["driver", "status"], name="block_reservation_driver"),
        ]

    def __str__(self) -> str:
        return f"{self.driver_id} on {self.block_id} ({self.status})"

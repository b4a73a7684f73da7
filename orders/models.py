"""Markets, stores, merchants and their API keys, orders and their events, quotes, idempotency
keys and the webhook outbox."""

import secrets
import uuid
from typing import ClassVar

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q

from spark.lib.models import BaseModel


def _token() -> str:
    return secrets.token_urlsafe(24)


def _pickup_code() -> str:
    return f"{secrets.randbelow(10**4):04d}"


class Market(BaseModel):
    """A city. Fees and the speed model are the market's own; driver pay lives in payouts."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    timezone = models.CharField(max_length=64, default="America/Chicago")
    currency = models.CharField(max_length=3, default="USD")
    centre_lat = models.FloatField()
    centre_lng = models.FloatField()
    is_active = models.BooleanField(default=True)
    # Fees charged to the merchant per delivery.
    delivery_fee_base_cents = models.BigIntegerField(default=599)
    delivery_fee_per_km_cents = models.BigIntegerField(default=60)
    delivery_fee_max_cents = models.BigIntegerField(default=1999)
    # The ETA model: great-circle distance x detour factor at a constant speed.
    average_speed_kmh = models.FloatField(default=32.0)
    detour_factor = models.FloatField(default=1.3)
    driver_arrival_minutes = models.PositiveIntegerField(
        default=12, help_text="Typical time for a driver to reach a store once a trip is offered."
    )
    handoff_minutes = models.PositiveIntegerField(default=4)
    dropoff_window_minutes = models.PositiveIntegerField(default=60)
    quote_ttl_minutes = models.PositiveIntegerField(default=15)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(delivery_fee_base_cents__gte=0)
                & Q(delivery_fee_per_km_cents__gte=0)
                & Q(delivery_fee_max_cents__gte=0),
                name="market_fees_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(average_speed_kmh__gt=0) & Q(detour_factor__gte=1),
                name="market_speed_model_sane",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Merchant(BaseModel):
    """A retailer whose shop front-end uses the API. Owns stores, API keys and webhooks."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Store(BaseModel):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="stores")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="stores")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300)
    lat = models.FloatField()
    lng = models.FloatField()
    phone = models.CharField(max_length=32, blank=True)
    delivery_radius_km = models.FloatField(default=12.0)
    # {"mon": [["07:00", "22:00"]], ...} in the market's local time; a missing day is closed.
    opening_hours = models.JSONField(default=dict, blank=True)
    pickup_instructions = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(delivery_radius_km__gt=0), name="store_radius_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApiKey(BaseModel):
    """`spk_<prefix>_<secret>`; only the SHA-256 of the whole key is stored, and shown once."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"spk_{self.prefix}_… ({self.merchant})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class StoreMembership(BaseModel):
    class Role(models.TextChoices):
        MANAGER = "manager"
        STAFF = "staff"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships"
    )
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "store"], name="one_membership_per_store"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store} ({self.role})"


class Quote(BaseModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="quotes")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="quotes")
    dropoff_address = models.CharField(max_length=300)
    dropoff_lat = models.FloatField()
    dropoff_lng = models.FloatField()
    order_value_cents = models.BigIntegerField()
    fee_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    distance_m = models.PositiveIntegerField()
    pickup_eta = models.DateTimeField()
    dropoff_eta = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"quote {self.public_id}"


class OrderStatus(models.TextChoices):
    CREATED = "created"
    READY_FOR_PICKUP = "ready_for_pickup"
    OFFERED = "offered"
    DRIVER_ASSIGNED = "driver_assigned"
    DRIVER_AT_STORE = "driver_at_store"
    PICKED_UP = "picked_up"
    DRIVER_AT_DROPOFF = "driver_at_dropoff"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    UNDELIVERABLE = "undeliverable"
    RETURNING = "returning"
    RETURNED_TO_STORE = "returned_to_store"


# Audit (A10): every insert and update, QuerySet.update() included, leaves an OrderHistory row
# with its actor (spark.lib.audit). Not copied: the courier's position and ETAs (telemetry
# refreshed every few seconds, so they alone add no row) and the secrets set once at creation.
@pghistory.track(
    pghistory.InsertEvent(trigger_name="history_insert"),
    pghistory.UpdateEvent(trigger_name="history_update"),
    exclude=[
        *("courier_lat", "courier_lng", "courier_located_at", "pickup_eta", "dropoff_eta"),
        *("tracking_token", "pickup_code", "dropoff_pin"),
    ],
    obj_field=pghistory.ObjForeignKey(related_name="history", db_index=True),
    model_name="OrderHistory",
)
class Order(BaseModel):
    Status = S = OrderStatus
    # DESIGN.md's lifecycle. Dispatch may send an order back to the pool (offer expired or
    # declined, driver unassigned) until it is picked up.
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        S.CREATED: frozenset({S.READY_FOR_PICKUP, S.CANCELLED}),
        S.READY_FOR_PICKUP: frozenset({S.OFFERED, S.DRIVER_ASSIGNED, S.CANCELLED}),
        S.OFFERED: frozenset({S.READY_FOR_PICKUP, S.DRIVER_ASSIGNED, S.CANCELLED}),
        S.DRIVER_ASSIGNED: frozenset({S.READY_FOR_PICKUP, S.DRIVER_AT_STORE, S.CANCELLED}),
        S.DRIVER_AT_STORE: frozenset({S.READY_FOR_PICKUP, S.PICKED_UP, S.CANCELLED}),
        S.PICKED_UP: frozenset({S.DRIVER_AT_DROPOFF, S.UNDELIVERABLE}),
        S.DRIVER_AT_DROPOFF: frozenset({S.DELIVERED, S.UNDELIVERABLE}),
        S.UNDELIVERABLE: frozenset({S.RETURNING}),
        S.RETURNING: frozenset({S.RETURNED_TO_STORE}),
        S.DELIVERED: frozenset(),
        S.CANCELLED: frozenset(),
        S.RETURNED_TO_STORE: frozenset(),
    }
    FINAL: ClassVar[frozenset[str]] = frozenset({S.DELIVERED, S.CANCELLED, S.RETURNED_TO_STORE})
    # Until the driver has the goods, the shop may cancel.
    CANCELLABLE: ClassVar[frozenset[str]] = frozenset(
        {S.CREATED, S.READY_FOR_PICKUP, S.OFFERED, S.DRIVER_ASSIGNED, S.DRIVER_AT_STORE}
    )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of their own: order_merchant_recent (merchant, -id), order_store_status (store,
    # status) and the (store, external_order_id) key lead with them. Every status change of an
    # order is a non-HOT update that writes into each of the table's indexes (P6, P11).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    quote = models.OneToOneField(
        Quote, on_delete=models.SET_NULL, null=True, blank=True, related_name="order"
    )
    external_order_id = models.CharField(max_length=64)
    # SHA-256 of the canonical creation payload: a retry with the same external id and the
    # same payload returns this order; another payload is a conflict.
    request_hash = models.CharField(max_length=64)

    customer_name = models.CharField(max_length=200)
    customer_phone = models.CharField(max_length=32)
    dropoff_address = models.CharField(max_length=300)
    dropoff_lat = models.FloatField()
    dropoff_lng = models.FloatField()
    dropoff_instructions = models.TextField(blank=True)
    items = models.JSONField(default=list)

    order_value_cents = models.BigIntegerField()
    fee_cents = models.BigIntegerField()
    tip_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    distance_m = models.PositiveIntegerField(default=0)

    pickup_ready_at = models.DateTimeField()
    dropoff_window_start = models.DateTimeField()
    dropoff_window_end = models.DateTimeField()

    contactless = models.BooleanField(default=False)
    signature_required = models.BooleanField(default=False)
    pin_required = models.BooleanField(default=False)
    contains_alcohol = models.BooleanField(
        default=False, help_text="Needs an ID check at the door and a driver aged 21 or over."
    )
    dropoff_pin = models.CharField(max_length=4, blank=True)
    pickup_code = models.CharField(max_length=4, default=_pickup_code)

    # Who is bringing it, as dispatch last told us (for the store board and the tracking page).
    courier_name = models.CharField(max_length=60, blank=True)
    courier_vehicle = models.CharField(max_length=80, blank=True)
    courier_lat = models.FloatField(null=True, blank=True)
    courier_lng = models.FloatField(null=True, blank=True)
    courier_located_at = models.DateTimeField(null=True, blank=True)
    pickup_eta = models.DateTimeField(null=True, blank=True)
    dropoff_eta = models.DateTimeField(null=True, blank=True)

    # Read by store (order_store_status) or by market through its stores; never alone.
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.CREATED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    tracking_token = models.CharField(max_length=64, unique=True, default=_token)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["store", "external_order_id"], name="external_order_id_unique_per_store"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(order_value_cents__gte=0) & Q(fee_cents__gte=0) & Q(tip_cents__gte=0),
                name="order_money_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(dropoff_window_end__gte=models.F("dropoff_window_start")),
                name="order_window_ordered",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["merchant", "-id"], name="order_merchant_recent"),
            models.Index(fields=["store", "status"], name="order_store_status"),
        ]

    def __str__(self) -> str:
        return f"order {self.public_id} ({self.status})"

    def can_transition_to(self, to: str) -> bool:
        return to in self.TRANSITIONS[self.status]

    def can_cancel(self) -> bool:
        return self.status in self.CANCELLABLE

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class OrderEvent(models.Model):
    """The audit row of every order transition (and of tip changes, with from == to)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    kind = models.CharField(max_length=32, default="status_changed")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=100, help_text="merchant:<slug>, driver:<id>, …")
    at = models.DateTimeField(db_index=True)
    note = models.TextField(blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} -> {self.to_status}"


class IdempotencyKey(models.Model):
    """Stripe's rules: the first response is stored and replayed to every retry.

    A row exists only for a finished request: it is written in the same transaction as the work
    it records, under an advisory lock on the key (see services/idempotency.py).
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.BinaryField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_per_client"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.key}"


class WebhookEndpoint(BaseModel):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Kept in clear: we must sign with it. Shown to the merchant once, at creation or rotation.
    secret = models.CharField(max_length=80)
    previous_secret = models.CharField(max_length=80, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """The outbox: written in the same transaction as the change it reports."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="events")
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_events"
    )
    type = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: claimed by the relay, retried with backoff, then dead."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        DEAD = "dead"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Copied from the event so the "earlier pending delivery for this order" check is one index.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint"),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(
                fields=["endpoint", "order", "id"],
                condition=Q(status="pending"),
                name="webhook_delivery_order_seq",
            ),
            # The relay claims pending rows in id order: without this, ORDER BY id LIMIT walks
            # the primary key through every finished row first (P10: ~0.6 s a claim with 1 M
            # finished rows; with it, under a millisecond). Migration 0004 also sets fillfactor.
            models.Index(
                fields=["id"], condition=Q(status="pending"), name="webhook_delivery_pending_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"attempt {self.id} of {self.delivery_id}"

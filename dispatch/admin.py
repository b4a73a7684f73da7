"""Ops back office for dispatch: rate cards, who is online, rounds, trips (reassign or cancel
with a reason), offers with the reasons each driver got them, and the audit trail.

Everything but rate cards is read-only: trips and offers change only through the services,
which the two trip actions call after asking for a reason on an intermediate page.
"""

import importlib.util
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from dispatch import selectors, services
from dispatch.forms import TripReasonForm
from dispatch.models import (
    DispatchEvent,
    DispatchRound,
    DriverAvailability,
    Offer,
    RateCard,
    Trip,
    TripStop,
)
from dispatch.views.present import money, reason_sentences, reason_short
from spark.lib import admin as admin_kit
from spark.lib import clock
from spark.lib.actors import Actor

ReadOnlyAdmin = admin_kit.ReadOnlyAdmin
ReadOnlyInline = admin_kit.ReadOnlyInline


def order_offers_url(order_public_id: Any) -> str:
    return f"{reverse('admin:dispatch_offer_changelist')}?order={order_public_id}"


# --- rate cards and availability ------------------------------------------------------------


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    list_display = (
        "market",
        "effective_from",
        "base_pay_cents",
        "per_mile_cents",
        "per_engaged_minute_cents",
        "per_extra_stop_cents",
        "boost_step_cents",
        "offer_ttl_seconds",
    )
    list_filter = ("market",)
    date_hierarchy = "effective_from"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Offers and earnings point at the card in force when they were made: once a card is
        # in force it is history, and a change is a new card from a later instant.
        if obj is not None and obj.effective_from <= clock.now():
            return [f.name for f in RateCard._meta.fields]
        return []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.effective_from > clock.now()


@admin.register(DriverAvailability)
class DriverAvailabilityAdmin(ReadOnlyAdmin):
    list_display = ("driver", "market", "is_online", "online_since", "lat", "lng", "location_at")
    list_filter = ("is_online", "market")
    search_fields = ("driver__user__username", "driver__user__last_name")
    list_select_related = ("driver__user", "market")
    actions = ("take_offline",)

    @admin.action(description="Take the selected drivers offline")
    def take_offline(self, request: HttpRequest, queryset: QuerySet[DriverAvailability]) -> None:
        for row in queryset:
            services.driver_go_offline(driver_id=row.driver_id)
        self.message_user(request, f"{queryset.count()} driver(s) offline.", messages.SUCCESS)


@admin.register(DispatchRound)
class DispatchRoundAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "market",
        "started_at",
        "policy",
        "orders",
        "drivers",
        "trips",
        "offers_made",
        "orders_held",
        "candidate_arcs",
        "solve_ms",
        "total_ms",
    )
    list_filter = ("market", "policy")
    date_hierarchy = "started_at"

    @admin.display(description="held")
    def orders_held(self, obj: DispatchRound) -> int:
        return len(obj.held_order_ids or [])


# --- trips ----------------------------------------------------------------------------------


class TripStopInline(ReadOnlyInline):
    model = TripStop
    fields = (
        "sequence",
        "order_link",
        "status",
        "is_active",
        "eta_at",
        "delivered_at",
        "proof",
        "undeliverable_reason",
        "offer_history",
    )
    readonly_fields = fields

    @admin.display(description="order")
    def order_link(self, stop: TripStop) -> str:
        url = reverse("admin:orders_order_change", args=[stop.order_id])
        return format_html('<a href="{}">{}</a>', url, stop.order)

    @admin.display(description="proof of delivery")
    def proof(self, stop: TripStop) -> str:
        parts = []
        if stop.pod_photo:
            parts.append("photo")
        if stop.pod_signature_name:
            parts.append(f"signed by {stop.pod_signature_name}")
        if stop.pod_pin_ok:
            parts.append("PIN ok")
        if stop.pod_id_checked:
            parts.append("ID checked")
        return ", ".join(parts) or "—"

    @admin.display(description="offers")
    def offer_history(self, stop: TripStop) -> str:
        return format_html('<a href="{}">offer history</a>', order_offers_url(stop.order.public_id))


class TripOfferInline(ReadOnlyInline):
    model = Offer
    fields = ("driver", "status", "is_broadcast", "total", "rank", "why", "expires_at")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="total")
    def total(self, offer: Offer) -> str:
        return money(offer.total_cents, offer.currency)

    @admin.display(description="rank")
    def rank(self, offer: Offer) -> Any:
        return (offer.reason or {}).get("rank", "—")

    @admin.display(description="why")
    def why(self, offer: Offer) -> str:
        return reason_short(offer.reason)


class DispatchEventInline(ReadOnlyInline):
    model = DispatchEvent
    fields = ("at", "entity", "entity_id", "from_status", "to_status", "actor_label", "note")
    readonly_fields = fields
    ordering = ("at", "id")


Apply = Callable[[int, Actor, str], object]


def trip_reason_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Trip],
    *,
    title: str,
    apply: Apply,
    done: str,
) -> TemplateResponse | None:
    """Ask for the reason on an intermediate page, then call the service for each trip."""
    return admin_kit.reason_action(
        modeladmin,
        request,
        queryset,
        title=title,
        done=done,
        form=TripReasonForm(request.POST if "apply" in request.POST else None),
        apply=lambda trip, actor, data: apply(trip.id, actor, data["reason"]),
    )


@admin.register(Trip)
class TripAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "market",
        "store",
        "status",
        "driver",
        "stop_count",
        "boost_cents",
        "unaccepted_rounds",
        "is_broadcast",
        "created_at",
    )
    list_filter = ("status", "market", "is_broadcast")
    search_fields = ("public_id", "driver__user__username", "stops__order__public_id")
    list_select_related = ("market", "store", "driver__user")
    date_hierarchy = "created_at"
    inlines = (TripStopInline, TripOfferInline, DispatchEventInline)
    actions = ("reassign", "cancel")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's actions need the change permission; a trip's own page stays read-only.
        return obj is None and request.user.has_perm("dispatch.change_trip")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, term: str) -> Any:
        results, _ = super().get_search_results(request, queryset, term)
        return results.distinct(), False

    @admin.display(description="stops")
    def stop_count(self, trip: Trip) -> int:
        return trip.stops.filter(is_active=True).count()

    @admin.action(
        description="Reassign: take off the driver, back to the pool (asks a reason)",
        permissions=["change"],
    )
    def reassign(self, request: HttpRequest, queryset: QuerySet[Trip]) -> Any:
        return trip_reason_action(
            self,
            request,
            queryset,
            title="Reassign trips",
            apply=lambda trip_id, actor, reason: services.trip_reassign(
                trip_id=trip_id, actor=actor, reason=reason
            ),
            done="Back in the pool",
        )

    @admin.action(
        description="Cancel the trips and their orders (asks a reason)", permissions=["change"]
    )
    def cancel(self, request: HttpRequest, queryset: QuerySet[Trip]) -> Any:
        return trip_reason_action(
            self,
            request,
            queryset,
            title="Cancel trips",
            apply=lambda trip_id, actor, reason: services.trip_cancel(
                trip_id=trip_id, actor=actor, reason=reason
            ),
            done="Cancelled",
        )


# --- offers ---------------------------------------------------------------------------------


class OrderFilter(admin.SimpleListFilter):
    """?order=<order public id>: every offer made for the trips that carried the order."""

    title = "order"
    parameter_name = "order"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, f"Order {value}")] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Offer]) -> QuerySet[Offer]:
        value = self.value()
        if not value:
            return queryset
        try:
            public_id = UUID(value)
        except ValueError:
            return queryset.none()
        ids = selectors.offer_list_for_order_public_id(public_id=public_id).values("id")
        return queryset.filter(id__in=ids)


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "driver",
        "status",
        "total",
        "rank",
        "why",
        "store_name",
        "trip_link",
        "is_broadcast",
    )
    list_filter = (OrderFilter, "status", "is_broadcast", "trip__market")
    search_fields = ("public_id", "trip__public_id", "driver__user__username")
    list_select_related = ("driver__user", "trip")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = ("orders", "why_in_words")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(f.name for f in Offer._meta.fields), "orders", "why_in_words"]

    @admin.display(description="total", ordering="total_cents")
    def total(self, offer: Offer) -> str:
        return money(offer.total_cents, offer.currency)

    @admin.display(description="rank")
    def rank(self, offer: Offer) -> Any:
        return (offer.reason or {}).get("rank", "—")

    @admin.display(description="reason")
    def why(self, offer: Offer) -> str:
        return reason_short(offer.reason)

    @admin.display(description="trip")
    def trip_link(self, offer: Offer) -> str:
        url = reverse("admin:dispatch_trip_change", args=[offer.trip_id])
        return format_html('<a href="{}">{}</a>', url, offer.trip.get_status_display())

    @admin.display(description="orders (offer history of each)")
    def orders(self, offer: Offer) -> str:
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((order_offers_url(s["order_id"]), s["address"]) for s in offer.stops or []),
        )

    @admin.display(description="why this driver, in the driver's words")
    def why_in_words(self, offer: Offer) -> str:
        return format_html_join("", "<p>{}</p>", ((s,) for s in reason_sentences(offer.reason)))


@admin.register(DispatchEvent)
class DispatchEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "entity", "entity_id", "trip", "from_status", "to_status", "actor_label")
    list_filter = ("entity", "to_status")
    search_fields = ("actor_label", "note", "trip__public_id")
    date_hierarchy = "at"


# Block and reservation admin belong to the blocks work (dispatch/admin_blocks.py).
if importlib.util.find_spec("dispatch.admin_blocks") is not None:
    from dispatch import admin_blocks  # noqa: F401

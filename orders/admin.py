from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from orders import services
from orders.models import (
    ApiKey,
    IdempotencyKey,
    Market,
    Merchant,
    Order,
    OrderEvent,
    Quote,
    Store,
    StoreMembership,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "currency", "delivery_fee_base_cents", "is_active")
    list_filter = ("is_active", "timezone")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}  # noqa: RUF012


class StoreInline(admin.TabularInline):
    model = Store
    fields = ("name", "market", "address", "is_active")
    extra = 0
    show_change_link = True


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_active", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("is_active",)
    inlines = (StoreInline,)


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("name", "merchant", "market", "delivery_radius_km", "is_active")
    list_filter = ("market", "merchant", "is_active")
    search_fields = ("name", "address", "public_id")
    readonly_fields = ("public_id",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "merchant", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("merchant",)
    search_fields = ("prefix", "merchant__name")
    readonly_fields = ("prefix", "secret_hash", "last_used_at", "created_at")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made by `manage.py create_api_key`, which shows the key once

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            services.api_key_revoke(api_key_id=key.id)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(StoreMembership)
class StoreMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "store", "role")
    list_filter = ("role", "store__market")
    search_fields = ("user__username", "store__name")
    autocomplete_fields = ("user", "store")


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ("at", "kind", "from_status", "to_status", "actor_label", "note", "lat", "lng")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "external_order_id",
        "store",
        "status",
        "order_value_cents",
        "fee_cents",
        "tip_cents",
        "created_at",
    )
    list_filter = ("status", "store__market", "store", "contains_alcohol")
    search_fields = ("public_id", "external_order_id", "customer_name", "customer_phone")
    date_hierarchy = "created_at"
    inlines = (OrderEventInline,)
    list_select_related = ("store",)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        # Status and money move only through services; the admin shows them.
        return [*(f.name for f in Order._meta.fields), "dispatch_offers"]

    @admin.display(description="Offers and why each driver was chosen")
    def dispatch_offers(self, obj: Order) -> str:
        # A link by URL name: orders does not import dispatch (the layers run one way).
        url = reverse("admin:dispatch_offer_changelist") + f"?order={obj.public_id}"
        return format_html('<a href="{}">See the offers of this order</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ("order", "kind", "from_status", "to_status", "actor_label", "at")
    list_filter = ("kind", "to_status")
    search_fields = ("order__public_id", "actor_label")
    readonly_fields = [f.name for f in OrderEvent._meta.fields]


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = ("public_id", "merchant", "store", "fee_cents", "expires_at")
    list_filter = ("store__market",)
    search_fields = ("public_id",)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "merchant", "path", "response_status", "created_at")
    list_filter = ("response_status", "merchant")
    search_fields = ("key",)
    exclude = ("response_body",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "merchant", "is_active", "created_at")
    list_filter = ("is_active", "merchant")
    search_fields = ("url",)
    exclude = ("secret", "previous_secret")


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("public_id", "type", "merchant", "order", "created_at")
    list_filter = ("type", "merchant")
    search_fields = ("public_id", "order__public_id")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("at", "status_code", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "endpoint__merchant")
    search_fields = ("event__public_id",)
    inlines = (WebhookAttemptInline,)
    actions = ("replay",)

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            services.webhook_delivery_replay(delivery_id=delivery.id)
        self.message_user(request, f"Queued {queryset.count()} for replay.", messages.SUCCESS)

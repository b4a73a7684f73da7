"""The shop REST API v1. Views are thin: parse, call one service or selector, serialize."""

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import selectors, services
from orders.auth import MerchantPrincipal
from orders.models import Order
from orders.representations import order_to_dict
from spark.lib.actors import Actor
from spark.lib.api import Pagination, error_body, validated

EXTERNAL_ID_REGEX = r"^[a-zA-Z0-9\-._~]+$"
PHONE_REGEX = r"^\+?[0-9 ().\-]{7,24}$"
MAX_CENTS = 10**9


class IsMerchant(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, MerchantPrincipal)


class MerchantApi(APIView):
    permission_classes = (IsMerchant,)

    @property
    def merchant(self) -> Any:
        return self.request.user.merchant

    @property
    def actor(self) -> Actor:
        return Actor.merchant(self.merchant)


ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(),
            },
        )
    },
)
ERRORS = {400: ERROR, 401: ERROR, 404: ERROR, 409: ERROR, 415: ERROR, 422: ERROR}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Up to 255 characters. A retry with the same key and body replays the first "
    "response; the same key with another body is 422 idempotency_key_mismatch.",
)


def _canonical_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(handler: Callable[..., Response]) -> Callable[..., HttpResponse]:
    """Stripe's Idempotency-Key rules around a POST handler (see services/idempotency.py)."""

    @wraps(handler)
    def wrapper(view: MerchantApi, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not key or len(key) > 255:
            raise serializers.ValidationError({"Idempotency-Key": ["1 to 255 characters."]})
        idem = services.IdempotentRequest(
            merchant=view.merchant,
            key=key,
            method=request.method,
            path=request.path,
            request_hash=_canonical_hash(request.data),
        )

        def work() -> tuple[int, bytes]:
            response = handler(view, request, *args, **kwargs)
            return response.status_code, JSONRenderer().render(response.data)

        try:
            outcome, replayed = services.idempotent_run(idem, work)
        except services.WorkFailed as failed:
            exc = failed.error
            body = JSONRenderer().render(error_body(exc.code, exc.message, **exc.extra))
            outcome = services.idempotency_store_failure(idem, exc.status_code, body)
            replayed = outcome.body != body
        return _json_bytes(outcome.body, outcome.status, replayed=replayed)

    return wrapper


def _json_bytes(body: bytes, status: int, *, replayed: bool) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Idempotent-Replayed"] = "true" if replayed else "false"
    return response


# --- serializers ----------------------------------------------------------------------------


class DropoffFields(serializers.Serializer):
    dropoff_address = serializers.CharField(max_length=300)
    dropoff_lat = serializers.FloatField(min_value=-90, max_value=90)
    dropoff_lng = serializers.FloatField(min_value=-180, max_value=180)


class QuoteInput(DropoffFields):
    store_id = serializers.UUIDField()
    order_value_cents = serializers.IntegerField(min_value=0, max_value=MAX_CENTS)


class QuoteOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    store_id = serializers.UUIDField(source="store.public_id")
    fee_cents = serializers.IntegerField()
    currency = serializers.CharField()
    distance_m = serializers.IntegerField()
    pickup_eta = serializers.DateTimeField()
    dropoff_eta = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class ItemSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, max_value=999)


class RequirementsSerializer(serializers.Serializer):
    contactless = serializers.BooleanField(default=False)
    signature = serializers.BooleanField(default=False)
    pin = serializers.BooleanField(default=False)
    contains_alcohol = serializers.BooleanField(default=False)


class OrderInputSerializer(serializers.Serializer):
    quote_id = serializers.UUIDField(required=False)
    store_id = serializers.UUIDField(required=False)
    external_order_id = serializers.RegexField(EXTERNAL_ID_REGEX, max_length=64)
    customer_name = serializers.CharField(max_length=200)
    customer_phone = serializers.RegexField(PHONE_REGEX)
    dropoff_address = serializers.CharField(max_length=300, required=False)
    dropoff_lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    dropoff_lng = serializers.FloatField(min_value=-180, max_value=180, required=False)
    dropoff_instructions = serializers.CharField(max_length=1000, required=False, default="")
    items = ItemSerializer(many=True, required=False, max_length=200)
    order_value_cents = serializers.IntegerField(min_value=0, max_value=MAX_CENTS)
    tip_cents = serializers.IntegerField(min_value=0, max_value=MAX_CENTS, default=0)
    requirements = RequirementsSerializer(required=False)
    pickup_ready_at = serializers.DateTimeField(required=False)
    dropoff_window_start = serializers.DateTimeField(required=False)
    dropoff_window_end = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict) -> dict:
        if "quote_id" not in attrs:
            missing = [
                f
                for f in ("store_id", "dropoff_address", "dropoff_lat", "dropoff_lng")
                if f not in attrs
            ]
            if missing:
                raise serializers.ValidationError(
                    {f: ["Required unless quote_id is given."] for f in missing}
                )
        if ("dropoff_lat" in attrs) != ("dropoff_lng" in attrs):
            raise serializers.ValidationError("Give both dropoff_lat and dropoff_lng, or neither.")
        return attrs

    @staticmethod
    def to_input(validated_data: dict) -> services.OrderInput:
        data = dict(validated_data)
        return _order_input(data, data.pop("requirements", None) or {})


def _order_input(data: dict, req: dict) -> services.OrderInput:
    items = tuple(dict(i) for i in data.pop("items", []))
    return services.OrderInput(
        **data,
        items=items,
        contactless=req.get("contactless", False),
        signature_required=req.get("signature", False),
        pin_required=req.get("pin", False),
        contains_alcohol=req.get("contains_alcohol", False),
    )


class EventOutput(serializers.Serializer):
    kind = serializers.CharField()
    from_status = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    at = serializers.DateTimeField()
    note = serializers.CharField()
    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)


class OrderOutput(serializers.Serializer):
    id = serializers.UUIDField()
    external_order_id = serializers.CharField()
    store_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    customer_name = serializers.CharField()
    customer_phone = serializers.CharField()
    dropoff_address = serializers.CharField()
    dropoff_lat = serializers.FloatField()
    dropoff_lng = serializers.FloatField()
    dropoff_instructions = serializers.CharField()
    items = ItemSerializer(many=True)
    order_value_cents = serializers.IntegerField()
    fee_cents = serializers.IntegerField()
    tip_cents = serializers.IntegerField()
    currency = serializers.CharField()
    distance_m = serializers.IntegerField()
    pickup_ready_at = serializers.DateTimeField()
    dropoff_window_start = serializers.DateTimeField()
    dropoff_window_end = serializers.DateTimeField()
    requirements = RequirementsSerializer()
    dropoff_pin = serializers.CharField(allow_null=True)
    cancel_reason = serializers.CharField(allow_null=True)
    tracking_url = serializers.URLField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    events = EventOutput(many=True)


class OrderListFilter(serializers.Serializer):
    status = serializers.CharField(required=False, help_text="Comma-separated statuses.")
    store_id = serializers.UUIDField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    def validate_status(self, value: str) -> list[str]:
        statuses = [s.strip() for s in value.split(",") if s.strip()]
        unknown = sorted(set(statuses) - set(Order.Status.values))
        if unknown:
            raise serializers.ValidationError(f"Unknown status: {', '.join(unknown)}.")
        return statuses


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class TipInput(serializers.Serializer):
    tip_cents = serializers.IntegerField(min_value=0, max_value=MAX_CENTS)


class StoreOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    address = serializers.CharField()
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    market = serializers.SlugField(source="market.slug")
    timezone = serializers.CharField(source="market.timezone")
    currency = serializers.CharField(source="market.currency")
    delivery_radius_km = serializers.FloatField()
    opening_hours = serializers.DictField()
    pickup_instructions = serializers.CharField()
    is_active = serializers.BooleanField()


class WebhookInput(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, default="")


class WebhookOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    url = serializers.URLField()
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookWithSecretOutput(WebhookOutput):
    secret = serializers.CharField(help_text="Shown only in this response. Keep it safe.")


# --- views ----------------------------------------------------------------------------------


class QuoteCreateApi(MerchantApi):
    @extend_schema(request=QuoteInput, responses={201: QuoteOutput, **ERRORS}, tags=["quotes"])
    def post(self, request: Request) -> Response:
        data = QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = services.quote_create(
            merchant=self.merchant,
            store_public_id=data.validated_data.pop("store_id"),
            **data.validated_data,
        )
        return Response(QuoteOutput(quote).data, status=201)


class OrderListCreateApi(MerchantApi):
    # Read by drf-spectacular only: the list is documented as the cursor page it is (F1).
    pagination_class = Pagination

    @extend_schema(
        parameters=[OrderListFilter],
        responses={200: OrderOutput(many=True), **ERRORS},
        tags=["orders"],
    )
    def get(self, request: Request) -> Response:
        filters = OrderListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = selectors.order_list_for_merchant(
            merchant=self.merchant,
            status=f.get("status"),
            store_public_id=f.get("store_id"),
            created_from=f.get("created_after"),
            created_to=f.get("created_before"),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([order_to_dict(o) for o in page])

    @extend_schema(
        request=OrderInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: OrderOutput, 200: OrderOutput, **ERRORS},
        tags=["orders"],
        description="Create a delivery from a quote or from full details. Retrying with the "
        "same external_order_id and payload returns the existing order with 200.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = OrderInputSerializer.to_input(validated(OrderInputSerializer, request.data))
        result = services.order_create(merchant=self.merchant, data=data, actor=self.actor)
        return Response(result.body, status=201 if result.created else 200)


class OrderDetailApi(MerchantApi):
    @extend_schema(responses={200: OrderOutput, **ERRORS}, tags=["orders"])
    def get(self, request: Request, public_id: str) -> Response:
        order = selectors.order_get_for_merchant(merchant=self.merchant, public_id=public_id)
        return Response(order_to_dict(order))


class OrderReadyApi(MerchantApi):
    @extend_schema(request=None, responses={200: OrderOutput, **ERRORS}, tags=["orders"])
    def post(self, request: Request, public_id: str) -> Response:
        order = services.order_mark_ready(
            merchant=self.merchant, public_id=public_id, actor=self.actor
        )
        return Response(order_to_dict(order))


class OrderCancelApi(MerchantApi):
    @extend_schema(request=CancelInput, responses={200: OrderOutput, **ERRORS}, tags=["orders"])
    def post(self, request: Request, public_id: str) -> Response:
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_cancel_for_merchant(
            merchant=self.merchant,
            public_id=public_id,
            actor=self.actor,
            reason=data.validated_data["reason"],
        )
        return Response(order_to_dict(order))


class OrderTipApi(MerchantApi):
    @extend_schema(request=TipInput, responses={200: OrderOutput, **ERRORS}, tags=["orders"])
    def post(self, request: Request, public_id: str) -> Response:
        data = TipInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_tip_raise(
            merchant=self.merchant,
            public_id=public_id,
            actor=self.actor,
            tip_cents=data.validated_data["tip_cents"],
        )
        return Response(order_to_dict(order))


class StoreListApi(MerchantApi):
    @extend_schema(responses={200: StoreOutput(many=True), **ERRORS}, tags=["stores"])
    def get(self, request: Request) -> Response:
        stores = selectors.store_list_for_merchant(merchant=self.merchant)
        return Response(StoreOutput(stores, many=True).data)


class WebhookListCreateApi(MerchantApi):
    @extend_schema(responses={200: WebhookOutput(many=True), **ERRORS}, tags=["webhooks"])
    def get(self, request: Request) -> Response:
        endpoints = selectors.webhook_endpoint_list(merchant=self.merchant)
        return Response(WebhookOutput(endpoints, many=True).data)

    @extend_schema(
        request=WebhookInput,
        responses={201: WebhookWithSecretOutput, **ERRORS},
        tags=["webhooks"],
    )
    def post(self, request: Request) -> Response:
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(merchant=self.merchant, **data.validated_data)
        return Response(WebhookWithSecretOutput(endpoint).data, status=201)


class WebhookDetailApi(MerchantApi):
    @extend_schema(responses={204: None, **ERRORS}, tags=["webhooks"])
    def delete(self, request: Request, public_id: str) -> Response:
        services.webhook_endpoint_delete(merchant=self.merchant, public_id=public_id)
        return Response(status=204)


class WebhookRotateSecretApi(MerchantApi):
    @extend_schema(
        request=None,
        responses={200: WebhookWithSecretOutput, **ERRORS},
        tags=["webhooks"],
        description="A new signing secret. The old one keeps signing beside it for 24 hours.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        endpoint = services.webhook_endpoint_rotate_secret(
            merchant=self.merchant, public_id=public_id
        )
        return Response(WebhookWithSecretOutput(endpoint).data)

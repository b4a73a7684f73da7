"""Baselines measured in the same run as the real endpoints (PERFORMANCE.md, design item 4):
a bare Django JSON view, and a bare DRF ModelSerializer create into the same orders table
(no quote, no idempotency key, no events, no outbox)."""

import uuid

from django.http import JsonResponse
from django.urls import include, path
from django.utils import timezone
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.models import Order


def bare_json(request):
    return JsonResponse({"ok": True, "at": timezone.now().isoformat()})


class BareOrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = (
            "merchant",
            "store",
            "external_order_id",
            "request_hash",
            "customer_name",
            "customer_phone",
            "dropoff_address",
            "dropoff_lat",
            "dropoff_lng",
            "items",
            "order_value_cents",
            "fee_cents",
            "tip_cents",
            "currency",
            "pickup_ready_at",
            "dropoff_window_start",
            "dropoff_window_end",
        )


class BareOrderCreate(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = (AllowAny,)

    def post(self, request):
        data = dict(request.data)
        data["request_hash"] = uuid.uuid4().hex
        serializer = BareOrderSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        order = serializer.save()
        return Response({"id": str(order.public_id)}, status=201)


class BareDrfJson(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = (AllowAny,)

    def post(self, request):
        return Response({"ok": True, "lat": request.data.get("lat")})


# Under one prefix, as the API sits under its own: a baseline resolves two levels deep like the
# endpoints it is compared with, and they pay one failed prefix check for it, not three.
bench_patterns = [
    path("bare-drf-json", BareDrfJson.as_view()),
    path("bare-json", bare_json),
    path("bare-create", BareOrderCreate.as_view()),
]

urlpatterns = [
    path("bench/", include(bench_patterns)),
    path("", include("spark.urls")),
]

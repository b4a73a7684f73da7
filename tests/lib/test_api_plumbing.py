"""The cheaper paths of spark.lib give what the library paths they replace give: validated()
against DRF's is_valid, the cached CSP header against django-csp's own."""

import pytest
from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory
from rest_framework import serializers

from orders.api import OrderInputSerializer
from spark.lib.api import validated
from spark.lib.middleware import CSPMiddleware

STORE = "0b0e7c1e-8d2c-4b8e-9a53-0c2d8d0b2f11"
VALID = {
    "store_id": STORE,
    "external_order_id": "A-1",
    "customer_name": "Ann",
    "customer_phone": "+16155550100",
    "dropoff_address": "600 Main St",
    "dropoff_lat": 36.178,
    "dropoff_lng": -86.75,
    "items": [{"name": "Milk", "quantity": 2}],
    "order_value_cents": 4599,
    "tip_cents": 300,
}


@pytest.mark.parametrize(
    "data",
    [
        VALID,
        {**VALID, "requirements": {"pin": True}, "pickup_ready_at": "2030-01-01T12:00:00Z"},
        {k: v for k, v in VALID.items() if k not in ("items", "tip_cents")},
        {**VALID, "quote_id": STORE, "store_id": None},
    ],
)
def test_validated_gives_what_is_valid_gives(data):
    data = {k: v for k, v in data.items() if v is not None}
    serializer = OrderInputSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert validated(OrderInputSerializer, data) == serializer.validated_data


@pytest.mark.parametrize(
    "data",
    [
        {},
        None,
        [VALID],
        {**VALID, "items": [{"name": "Milk", "quantity": 0}]},
        {**VALID, "items": "milk"},
        {**VALID, "dropoff_lat": 91, "customer_phone": "call me"},
        {k: v for k, v in VALID.items() if k != "dropoff_lng"},
        {**VALID, "requirements": {"pin": "maybe"}},
    ],
)
def test_validated_raises_the_errors_is_valid_finds(data):
    serializer = OrderInputSerializer(data=data)
    assert not serializer.is_valid()
    with pytest.raises(serializers.ValidationError) as raised:
        validated(OrderInputSerializer, data)
    assert raised.value.detail == serializer.errors


def test_validated_keeps_no_state_between_calls():
    with pytest.raises(serializers.ValidationError):
        validated(OrderInputSerializer, {**VALID, "items": "milk"})
    assert validated(OrderInputSerializer, VALID)["items"] == [{"name": "Milk", "quantity": 2}]


def headers_from(middleware_class, request, response) -> dict[str, str]:
    middleware = middleware_class(lambda r: response)
    middleware.process_request(request)
    out = middleware.process_response(request, response)
    return {k: v for k, v in out.items() if k.startswith("Content-Security-Policy")}


def responses():
    yield JsonResponse({"ok": True})
    yield HttpResponse("<p>page</p>")
    updated = HttpResponse("<p>map</p>")
    updated._csp_update = {"img-src": ["https://tiles.example.com"]}
    yield updated
    exempt = HttpResponse("<p>no policy</p>")
    exempt._csp_exempt = True
    yield exempt


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("path", ["/api/v1/orders", "/driver/login/"])
def test_cached_csp_header_is_django_csps(settings, index, path):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "EXCLUDE_URL_PREFIXES": ["/api/"],
        "DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"},
    }
    ours = headers_from(CSPMiddleware, RequestFactory().get(path), list(responses())[index])
    theirs = headers_from(DjangoCSPMiddleware, RequestFactory().get(path), list(responses())[index])
    assert ours == theirs
    assert ("Content-Security-Policy" in ours) is (index != 3)


def test_cached_csp_header_follows_the_settings(settings):
    before = headers_from(CSPMiddleware, RequestFactory().get("/"), HttpResponse())
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    after = headers_from(CSPMiddleware, RequestFactory().get("/"), HttpResponse())
    assert "script-src 'self'" in before["Content-Security-Policy"]
    assert after == {"Content-Security-Policy": "default-src 'none'"}


def test_a_nonce_takes_django_csps_path(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": [SELF, NONCE]}}
    request = RequestFactory().get("/")
    middleware = CSPMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    nonce = str(request.csp_nonce)  # a template asked for one
    response = middleware.process_response(request, HttpResponse())
    assert f"script-src 'self' 'nonce-{nonce}'" in response["Content-Security-Policy"]


@csp_update({"img-src": ["https://tiles.example.com"]})
def _decorated(request):
    return HttpResponse("<p>map</p>")


def test_a_decorated_view_keeps_its_policy_change():
    request = RequestFactory().get("/")
    middleware = CSPMiddleware(_decorated)
    middleware.process_request(request)
    response = middleware.process_response(request, _decorated(request))
    assert "https://tiles.example.com" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "data",
    [
        {"lat": 36.16, "lng": -86.78},
        {"lat": 36, "lng": -86},
        {"lat": -85.05112878, "lng": 180},
        {"lat": "36.16", "lng": "-86.78"},
        {"lat": True, "lng": 0},
        {"lat": 85.06, "lng": 0},
        {"lat": 0, "lng": -180.5},
        {"lat": 10**400, "lng": 0},
        {"lat": None, "lng": 1},
        {"lng": 1},
        {"lat": "north", "lng": 1},
    ],
)
def test_a_pings_point_is_what_its_fields_make_of_it(data):
    from dispatch.api import Location

    fields = Location(data=data)
    if fields.is_valid():
        point, valid = Location.point(data), fields.validated_data
        assert (point.lat, point.lng) == (valid["lat"], valid["lng"])
        assert type(point.lat) is float
    else:
        with pytest.raises(serializers.ValidationError) as raised:
            Location.point(data)
        assert raised.value.detail == fields.errors

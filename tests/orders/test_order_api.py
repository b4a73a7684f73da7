import uuid

import pytest
from rest_framework.test import APIClient

from orders.models import Order, OrderEvent
from tests.conftest import api_client_for
from tests.factories import MerchantFactory, StoreFactory
from tests.orders.helpers import DROPOFF, make_order, order_payload

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "fields"} <= set(body["error"])
    return body["error"]


# --- create -------------------------------------------------------------------------------


def test_order_create_returns_201_with_the_order(api, store):
    response = api.post("/api/v1/orders", order_payload(store), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "created"
    assert body["fee_cents"] > 0
    assert body["tip_cents"] == 300
    assert body["currency"] == "USD"
    assert body["tracking_url"].startswith("http://")
    assert "/t/" in body["tracking_url"]
    assert [e["status"] for e in body["events"]] == ["created"]
    order = Order.objects.get(public_id=body["id"])
    assert order.items == [{"name": "Milk", "quantity": 2}, {"name": "Bread", "quantity": 1}]
    assert order.dropoff_window_end > order.dropoff_window_start


def test_order_create_from_a_quote_uses_the_quoted_fee(api, store):
    quote = api.post(
        "/api/v1/quotes",
        {"store_id": str(store.public_id), **DROPOFF, "order_value_cents": 4599},
        format="json",
    ).json()
    payload = order_payload(store)
    for key in ("store_id", "dropoff_lat", "dropoff_lng"):
        payload.pop(key)
    response = api.post("/api/v1/orders", {**payload, "quote_id": quote["id"]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["fee_cents"] == quote["fee_cents"]
    # a quote is good for one order
    again = api.post(
        "/api/v1/orders",
        {**payload, "quote_id": quote["id"], "external_order_id": "EXT-2"},
        format="json",
    )
    assert again.status_code == 409
    assert _error(again)["code"] == "quote_used"


def test_order_create_with_requirements_sets_a_pin(api, store):
    payload = order_payload(store, requirements={"pin": True, "contains_alcohol": True})
    body = api.post("/api/v1/orders", payload, format="json").json()
    assert body["requirements"] == {
        "contactless": False,
        "signature": False,
        "pin": True,
        "contains_alcohol": True,
    }
    assert len(body["dropoff_pin"]) == 4


def test_order_create_requires_store_or_quote(api, store):
    payload = order_payload(store)
    payload.pop("store_id")
    response = api.post("/api/v1/orders", payload, format="json")
    assert response.status_code == 400
    assert "store_id" in _error(response)["fields"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tip_cents", -1),
        ("order_value_cents", -5),
        ("order_value_cents", "lots"),
        ("dropoff_lat", 91),
        ("dropoff_lng", -181),
        ("dropoff_lat", "north"),
        ("customer_phone", "call me"),
        ("external_order_id", "has spaces"),
        ("external_order_id", "x" * 65),
        ("items", [{"name": "Milk", "quantity": 0}]),
        ("items", "milk"),
        ("store_id", "not-a-uuid"),
        ("requirements", {"pin": "maybe"}),
        ("pickup_ready_at", "yesterday"),
        ("customer_name", ""),
    ],
)
def test_order_create_rejects_bad_field(api, store, field, value):
    response = api.post("/api/v1/orders", order_payload(store, **{field: value}), format="json")
    assert response.status_code == 400
    assert field in _error(response)["fields"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b"null", b'{"store_id": ', b"\xff\xfe"])
def test_order_create_rejects_malformed_bodies_with_400(api, body):
    response = api.generic("POST", "/api/v1/orders", body, content_type="application/json")
    assert response.status_code == 400
    _error(response)


def test_order_create_rejects_other_content_types(api, store):
    response = api.post("/api/v1/orders", order_payload(store))  # multipart
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


def test_order_create_outside_service_area_is_422(api, store):
    payload = order_payload(store, dropoff_lat=40.7128, dropoff_lng=-74.0060)
    response = api.post("/api/v1/orders", payload, format="json")
    assert response.status_code == 422
    assert _error(response)["code"] == "outside_service_area"
    assert Order.objects.count() == 0


def test_order_create_with_past_window_is_422(api, store):
    payload = order_payload(
        store,
        dropoff_window_start="2020-01-01T10:00:00Z",
        dropoff_window_end="2020-01-01T11:00:00Z",
    )
    response = api.post("/api/v1/orders", payload, format="json")
    assert response.status_code == 422
    assert _error(response)["code"] == "invalid_dropoff_window"


# --- external_order_id (I4) ---------------------------------------------------------------


def test_repeated_external_order_id_with_same_payload_returns_the_order(api, store):
    first = api.post("/api/v1/orders", order_payload(store), format="json")
    second = api.post("/api/v1/orders", order_payload(store), format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Order.objects.count() == 1


def test_repeated_external_order_id_with_other_payload_is_409(api, store):
    api.post("/api/v1/orders", order_payload(store), format="json")
    response = api.post("/api/v1/orders", order_payload(store, tip_cents=999), format="json")
    assert response.status_code == 409
    assert _error(response)["code"] == "duplicate_external_order_id"
    assert Order.objects.count() == 1


def test_same_external_order_id_at_another_store_is_an_independent_order(api, store):
    other = StoreFactory(market=store.market, merchant=store.merchant)
    a = api.post("/api/v1/orders", order_payload(store), format="json")
    b = api.post("/api/v1/orders", order_payload(other), format="json")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


# --- read ---------------------------------------------------------------------------------


def test_order_detail_returns_the_order_with_events(api, store):
    order = make_order(store, Order.Status.READY_FOR_PICKUP)
    body = api.get(f"/api/v1/orders/{order.public_id}").json()
    assert body["status"] == "ready_for_pickup"
    assert [e["status"] for e in body["events"]] == ["created", "ready_for_pickup"]


def test_order_list_filters_and_paginates(api, store):
    for i in range(5):
        make_order(store, external_order_id=f"L-{i}")
    make_order(store, Order.Status.CANCELLED, external_order_id="L-c")
    page = api.get("/api/v1/orders?page_size=2").json()
    assert len(page["results"]) == 2
    assert page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 2
    cancelled = api.get("/api/v1/orders?status=cancelled").json()["results"]
    assert [o["external_order_id"] for o in cancelled] == ["L-c"]
    by_store = api.get(f"/api/v1/orders?store_id={store.public_id}").json()["results"]
    assert len(by_store) == 6
    assert api.get("/api/v1/orders?created_after=2999-01-01T00:00:00Z").json()["results"] == []


@pytest.mark.parametrize(
    "query", ["status=flying", "store_id=nope", "created_after=soon", "cursor=bogus"]
)
def test_order_list_rejects_bad_filters(api, query):
    response = api.get(f"/api/v1/orders?{query}")
    assert 400 <= response.status_code < 500


# --- actions ------------------------------------------------------------------------------


def test_ready_moves_the_order_and_repeating_it_is_409(api, store):
    order = make_order(store)
    assert (
        api.post(f"/api/v1/orders/{order.public_id}/ready").json()["status"] == "ready_for_pickup"
    )
    again = api.post(f"/api/v1/orders/{order.public_id}/ready")
    assert again.status_code == 409
    err = _error(again)
    assert err["code"] == "invalid_transition"
    assert err["current_status"] == "ready_for_pickup"


def test_cancel_needs_a_reason_and_works_before_pickup(api, store):
    order = make_order(store, Order.Status.DRIVER_ASSIGNED)
    missing = api.post(f"/api/v1/orders/{order.public_id}/cancel", {}, format="json")
    assert missing.status_code == 400
    blank = api.post(f"/api/v1/orders/{order.public_id}/cancel", {"reason": "  "}, format="json")
    assert blank.status_code == 400
    ok = api.post(
        f"/api/v1/orders/{order.public_id}/cancel",
        {"reason": "Customer changed mind"},
        format="json",
    )
    assert ok.status_code == 200
    assert ok.json()["status"] == "cancelled"
    assert ok.json()["cancel_reason"] == "Customer changed mind"


def test_cancel_after_pickup_is_409_with_current_status(api, store):
    order = make_order(store, Order.Status.PICKED_UP)
    response = api.post(
        f"/api/v1/orders/{order.public_id}/cancel", {"reason": "late"}, format="json"
    )
    assert response.status_code == 409
    assert _error(response)["current_status"] == "picked_up"


def test_tip_can_be_raised_but_not_lowered(api, store):
    order = make_order(store, tip_cents=300)
    url = f"/api/v1/orders/{order.public_id}/tip"
    raised = api.post(url, {"tip_cents": 500}, format="json")
    assert raised.status_code == 200
    assert raised.json()["tip_cents"] == 500
    assert OrderEvent.objects.filter(order=order, kind="tip_changed").count() == 1
    lowered = api.post(url, {"tip_cents": 100}, format="json")
    assert lowered.status_code == 422
    assert _error(lowered)["code"] == "tip_decrease_not_allowed"
    negative = api.post(url, {"tip_cents": -5}, format="json")
    assert negative.status_code == 400
    same = api.post(url, {"tip_cents": 500}, format="json")
    assert same.status_code == 200
    assert OrderEvent.objects.filter(order=order, kind="tip_changed").count() == 1


def test_tip_on_cancelled_order_is_409(api, store):
    order = make_order(store, Order.Status.CANCELLED)
    response = api.post(f"/api/v1/orders/{order.public_id}/tip", {"tip_cents": 900}, format="json")
    assert response.status_code == 409


def test_store_list_shows_only_the_merchants_stores(api, store):
    StoreFactory()  # another merchant's store
    body = api.get("/api/v1/stores").json()
    assert [s["id"] for s in body] == [str(store.public_id)]


# --- A1 / A3: merchants are isolated; anonymous gets 401 ---------------------------------


@pytest.fixture
def foreign_order(db):
    other_store = StoreFactory(merchant=MerchantFactory())
    return make_order(other_store, external_order_id="FOREIGN-1")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("post", "/ready", None),
        ("post", "/cancel", {"reason": "x"}),
        ("post", "/tip", {"tip_cents": 1000}),
    ],
)
def test_another_merchants_order_is_404(api, store, foreign_order, method, suffix, body):
    response = getattr(api, method)(
        f"/api/v1/orders/{foreign_order.public_id}{suffix}", body, format="json"
    )
    assert response.status_code == 404
    foreign_order.refresh_from_db()
    assert foreign_order.status == Order.Status.CREATED
    assert foreign_order.tip_cents == 0


def test_order_list_never_contains_foreign_orders(api, store, foreign_order):
    make_order(store)
    ids = {o["id"] for o in api.get("/api/v1/orders").json()["results"]}
    assert str(foreign_order.public_id) not in ids
    assert len(ids) == 1


def test_creating_an_order_at_another_merchants_store_is_404(api, foreign_order):
    response = api.post("/api/v1/orders", order_payload(foreign_order.store), format="json")
    assert response.status_code == 404


def test_unknown_order_is_404(api):
    assert api.get(f"/api/v1/orders/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/quotes"),
        ("post", "/api/v1/orders"),
        ("get", "/api/v1/orders"),
        ("get", f"/api/v1/orders/{uuid.uuid4()}"),
        ("post", f"/api/v1/orders/{uuid.uuid4()}/ready"),
        ("post", f"/api/v1/orders/{uuid.uuid4()}/cancel"),
        ("post", f"/api/v1/orders/{uuid.uuid4()}/tip"),
        ("get", "/api/v1/stores"),
        ("get", "/api/v1/webhooks"),
        ("post", "/api/v1/webhooks"),
        ("delete", f"/api/v1/webhooks/{uuid.uuid4()}"),
    ],
)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer spk_nope_nope", "Bearer garbage", "Basic dXNlcjpwdw=="]
)
def test_requests_without_a_valid_key_are_401(db, method, path, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == 401
    assert _error(response)["code"] == "authentication_required"


def test_revoked_key_is_401(store):
    from orders.models import ApiKey
    from orders.services import api_key_create, api_key_revoke

    key, raw = api_key_create(merchant=store.merchant)
    api_key_revoke(api_key_id=key.id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/stores").status_code == 401
    assert ApiKey.objects.get(id=key.id).revoked_at is not None


def test_protected_fields_in_the_body_are_ignored(api, store):
    """A3: status, fees, ids and ownership cannot be set by the client."""
    other = MerchantFactory()
    payload = order_payload(
        store,
        status="delivered",
        fee_cents=1,
        id=str(uuid.uuid4()),
        merchant=other.id,
        tracking_token="mine",
        dropoff_pin="0000",
        pickup_code="1111",
    )
    body = api.post("/api/v1/orders", payload, format="json").json()
    order = Order.objects.get(public_id=body["id"])
    assert order.status == "created"
    assert order.fee_cents > 1
    assert order.merchant_id == store.merchant_id
    assert order.tracking_token != "mine"
    assert order.pickup_code != "1111"
    assert str(order.public_id) != payload["id"]


def test_merchants_with_keys_see_their_own_orders_only(store):
    other_store = StoreFactory(merchant=MerchantFactory())
    a, b = api_client_for(store.merchant), api_client_for(other_store.merchant)
    order_a = a.post("/api/v1/orders", order_payload(store), format="json").json()
    assert b.get(f"/api/v1/orders/{order_a['id']}").status_code == 404
    assert b.get("/api/v1/orders").json()["results"] == []


def test_retrying_a_quote_based_order_returns_it(api, store):
    quote = api.post(
        "/api/v1/quotes",
        {"store_id": str(store.public_id), **DROPOFF, "order_value_cents": 4599},
        format="json",
    ).json()
    payload = {
        "quote_id": quote["id"],
        "external_order_id": "Q-RETRY",
        "customer_name": "Ann",
        "customer_phone": "+16155550100",
        "order_value_cents": 4599,
        "dropoff_address": "x",
    }
    first = api.post("/api/v1/orders", payload, format="json")
    second = api.post("/api/v1/orders", payload, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_external_id_make_one_order(store):
    """I4 under concurrency, without an Idempotency-Key: the unique index decides."""
    import threading

    from django.db import connection

    raw = api_client_for(store.merchant)._credentials["HTTP_AUTHORIZATION"]
    barrier = threading.Barrier(12)
    codes: list[int] = []

    def worker():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=raw)
        barrier.wait()
        try:
            codes.append(
                client.post("/api/v1/orders", order_payload(store), format="json").status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Order.objects.count() == 1
    assert codes.count(201) == 1
    assert set(codes) <= {200, 201, 409}

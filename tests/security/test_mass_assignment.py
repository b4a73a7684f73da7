"""A3: mass assignment. Every writable operation of docs/openapi.yaml is called by the owner of
its objects with a valid body plus every protected field it does not take (status, owner,
money, ids, flags), set to values that no legal request could produce. The answer is the
normal one or 400, never 5xx; the response does not echo a forged value; and in the database
no row changes owner or id, no money field moves (tips only through the tip operation), no flag
flips, and nothing takes a forged value. The portal's sign-up and profile forms get the same.
"""

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from dispatch.models import DriverAvailability, Offer, Trip
from drivers.models import Driver
from orders.models import Order, Store, WebhookEndpoint
from tests.security.conftest import api_client, page_client
from tests.security.matrix import OPERATIONS, load_schema, resolve, schema_operations

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's
FORGED_ID = "00000000-0000-4000-8000-00000000dead"
FORGED = {
    "id": FORGED_ID,
    "public_id": FORGED_ID,
    "status": "delivered",
    "driver": 999_999,
    "driver_id": 999_999,
    "merchant": 999_999,
    "merchant_id": 999_999,
    "store": FORGED_ID,
    "store_id": FORGED_ID,
    "trip_id": FORGED_ID,
    "amount_cents": 1,
    "total_cents": 77_777_777,
    "fee_cents": 1,
    "tip_cents": 77_777_777,
    "base_cents": 77_777_777,
    "boost_cents": 77_777_777,
    "currency": "EUR",
    "tracking_token": "forged-token",
    "tracking_url": "https://evil.example/t/",
    "secret": "whsec_forged",
    "is_active": False,
    "is_staff": True,
    "is_superuser": True,
    "background_check_status": "clear",
    "expires_at": "2099-01-01T00:00:00Z",
    "created_at": "2000-01-01T00:00:00Z",
    "events": [{"status": "delivered"}],
}


def _forged(field: str, value: Any) -> bool:
    """Whether a column holds a value only a forged request could have put there."""
    if field in FORGED and value == FORGED[field] and not isinstance(value, bool):
        return True
    return str(value) == FORGED_ID or (field.endswith("_id") and value == FORGED["driver_id"])


# What is watched: (model, fields). Ownership and ids never change; money never moves (but a
# tip through the tip operation); flags never flip; nothing takes a forged value.
WATCHED = {
    Order: ("public_id", "store_id", "merchant_id", "status", "fee_cents", "tip_cents",
            "order_value_cents", "currency", "tracking_token"),
    Store: ("public_id", "merchant_id", "is_active"),
    WebhookEndpoint: ("public_id", "merchant_id", "secret", "is_active"),
    Offer: ("public_id", "driver_id", "trip_id", "status", "total_cents", "tip_cents",
            "base_cents", "boost_cents", "currency"),
    Trip: ("public_id", "driver_id", "store_id", "status"),
    Driver: ("user_id", "status", "home_market_id"),
    DriverAvailability: ("driver_id", "market_id"),
    get_user_model(): ("username", "is_staff", "is_superuser", "is_active"),
}  # fmt: skip
FIXED = {"public_id", "store_id", "merchant_id", "user_id", "trip_id", "username", "is_staff",
         "is_superuser", "fee_cents", "total_cents", "base_cents", "boost_cents", "currency",
         "order_value_cents", "tracking_token", "home_market_id", "market_id"}  # fmt: skip


def _snapshot() -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (model.__name__, row["pk"]): row
        for model, fields in WATCHED.items()
        for row in model.objects.values("pk", *fields)
    }


def _writable() -> list[str]:
    return sorted(op for op, (method, _) in schema_operations().items() if method != "get")


def _accepted_fields(op_id: str) -> set[str]:
    """The fields the operation's request schema takes (those are not forged)."""
    method, path = schema_operations()[op_id]
    schema = load_schema()
    content = schema["paths"][path][method].get("requestBody", {}).get("content", {})
    fields: set[str] = set()
    for media in content.values():
        ref = media["schema"].get("$ref", "")
        component = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else {}
        fields |= set(component.get("properties", {}))
    return fields


def _caller(op_id: str) -> tuple[str, str]:
    """(role, side): the owner of the objects; B's open offer for accept and decline; driver A
    logging in on the open log-in operation."""
    route = OPERATIONS[op_id]
    side = "b" if "offers" in op_id else "a"
    surface = "driver" if route.surface == "open_api" else route.surface
    return f"{surface}_{side}", side


def _valid_body(world, op_id: str, side: str) -> dict[str, Any]:
    if OPERATIONS[op_id].surface == "open_api":  # the driver app's log-in: real credentials
        return {"username": world.roles["driver_a"].user.username, "password": PASSWORD}
    return resolve(world, OPERATIONS[op_id].body or {}, side)


def _changes(before: dict, after: dict, *, op_id: str, driver_id: int | None) -> list[str]:
    problems = []
    for key, row in after.items():
        old = before.get(key)
        for field, value in row.items():
            if old is None or old[field] == value:
                if old is None and _forged(field, value):
                    problems.append(f"new {key} has forged {field}={value!r}")
                continue
            if _forged(field, value):
                problems.append(f"{key}.{field} took the forged {value!r}")
            elif field in FIXED:
                problems.append(f"{key}.{field} changed {old[field]!r} -> {value!r}")
            elif field == "tip_cents" and op_id != "v1_orders_tip_create":
                problems.append(f"{key}.tip_cents moved outside the tip operation")
            elif field == "driver_id" and value not in (None, driver_id):
                problems.append(f"{key}.driver_id moved to another driver ({value})")
            elif field in ("is_active", "secret") and "rotate" not in op_id:
                problems.append(f"{key}.{field} changed")
    return problems


def _echoed(response) -> list[str]:
    if not response.content:
        return []
    data = response.json()
    rows = data if isinstance(data, list) else [data]
    return [
        f"response echoes forged {k}"
        for row in rows
        if isinstance(row, dict)
        for k, v in row.items()
        if k in FORGED and v == FORGED[k] and k not in ("is_active",)
    ]


@pytest.mark.parametrize("op_id", _writable())
def test_protected_fields_are_ignored_or_400(world, op_id):
    method, path = schema_operations()[op_id]
    route = OPERATIONS[op_id]
    role, side = _caller(op_id)
    accepted = _accepted_fields(op_id)
    body = {k: v for k, v in FORGED.items() if k not in accepted}
    body.update(_valid_body(world, op_id, side))
    url = path.format(**resolve(world, route.params, side))
    driver = world.roles[role].user.driver if role.startswith("driver") else None
    before = _snapshot()
    response = getattr(api_client(world, role), method)(url, body, format="json")
    problems = _changes(before, _snapshot(), op_id=op_id, driver_id=driver and driver.id)
    problems += _echoed(response)
    assert response.status_code < 500, response.content[:300]
    assert response.status_code not in (401, 403, 404), "the owner was refused"
    assert problems == [], (response.status_code, response.content[:300])


def test_every_writable_operation_is_tried():
    assert len(_writable()) >= 15
    assert all(op in OPERATIONS for op in _writable())


PORTAL_FORGED = {
    "is_staff": "on",
    "is_superuser": "on",
    "status": "approved",
    "background_check_status": "clear",
    "user": "1",
    "user_id": "1",
    "driver": "1",
    "id": "1",
}


def test_signup_form_ignores_protected_fields(world, client):
    data = {
        "first_name": "Mal",
        "last_name": "Icious",
        "email": "mal@example.com",
        "phone": "+16155550199",
        "home_market": str(world.market.id),
        "password1": "a-long-pass-phrase-42",
        "password2": "a-long-pass-phrase-42",
        **PORTAL_FORGED,
    }
    assert client.post("/driver/signup/", data).status_code == 302
    driver = Driver.objects.select_related("user").get(user__email="mal@example.com")
    assert driver.status == Driver.Status.APPLIED
    assert not driver.user.is_staff
    assert not driver.user.is_superuser


def test_profile_form_ignores_protected_fields(world):
    client = page_client(world, "driver_a")
    driver = world.roles["driver_a"].user.driver
    before = _snapshot()
    data = {"phone": "+16155550123", "home_market": str(world.market.id), **PORTAL_FORGED}
    assert client.post("/driver/profile/", {**data, "age_bracket": "21+"}).status_code < 500
    after = _snapshot()
    assert _changes(before, after, op_id="profile", driver_id=driver.id) == []
    driver.refresh_from_db()
    assert driver.status == Driver.Status.APPROVED

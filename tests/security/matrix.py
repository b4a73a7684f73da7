"""The A1 authorization matrix: every API operation of docs/openapi.yaml and every page route
of the URL conf, each with the surface it belongs to and the objects it names. The outcome a
role must get follows from two rules: may the role use the surface at all (else 401 on the API,
the surface's log-in page for anonymous visitors, 403 or 404 for a logged-in user of another
kind), and may it see every object the request names (else 404, never 403).

A new operation or route that is not classified here fails
test_every_operation_and_route_is_classified (test_authz_matrix.py).
"""

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.urls import URLPattern, URLResolver, get_resolver

from tests.security.world import World

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
DRIVERS = frozenset({"driver_a", "driver_b"})
MERCHANTS = frozenset({"merchant_a", "merchant_b"})
STAFF = frozenset({"staff_1", "staff_2"})
SESSION_USERS = frozenset({"staff_1", "staff_2", "ops"})  # log in; no driver or merchant
HERE = {"lat": 36.2, "lng": -86.76}
LOGIN = {"driver": "/driver/login/", "store": "/store/login/", "ops": "/admin/login/"}
LOGIN_OF = {"ops": "ops", "staff_step": "ops", "store": "store", "store_index": "store"}


@dataclass(frozen=True)
class Route:
    """`surface` decides who may use it; `params` and `body` name objects as "@name.attr",
    where "{s}" is the side (a or b) the row is tried with; `sides=()` names no object."""

    surface: str
    params: dict[str, str] = field(default_factory=dict)
    method: str = "get"
    body: dict[str, Any] | None = None
    sides: tuple[str, ...] = ("a", "b")
    lists: tuple[str, ...] = ()  # objects a list must show their owner (lists are not empty)
    own_client: bool = False  # log-out: on a client of its own, so the role stays logged in


def _self(
    surface: str, method: str = "get", body: dict | None = None, lists: tuple[str, ...] = ()
) -> Route:
    return Route(surface, method=method, body=body, sides=(), lists=lists)


ORDER = {"public_id": "@order_{s}_new.public_id"}
WEBHOOK = {"public_id": "@webhook_{s}.public_id"}
TRIP = {"public_id": "@trip_{s}_mine.public_id"}
STOP = {**TRIP, "order_id": "@order_{s}_mine.public_id"}
OFFER = {"public_id": "@offer_{s}.public_id"}
ORDER_BODY = {
    "store_id": "@store_{s}.public_id",
    "external_order_id": "MATRIX-1",
    "customer_name": "Ann Customer",
    "customer_phone": "+16155550100",
    "dropoff_address": "600 Main St, Nashville",
    "dropoff_lat": 36.178,
    "dropoff_lng": -86.75,
    "order_value_cents": 4599,
}
QUOTE_BODY = {k: ORDER_BODY[k] for k in ("store_id", "dropoff_address", "dropoff_lat")} | {
    "dropoff_lng": -86.75,
    "order_value_cents": 4599,
}

# Every operation of docs/openapi.yaml, by operationId.
OPERATIONS: dict[str, Route] = {
    # The shop API: a merchant's API key; objects are the merchant's.
    "v1_orders_list": _self("merchant", lists=("order_a_new", "order_b_new")),
    "v1_orders_create": Route("merchant", method="post", body=ORDER_BODY),
    "v1_orders_retrieve": Route("merchant", ORDER),
    "v1_orders_ready_create": Route("merchant", ORDER, method="post"),
    "v1_orders_tip_create": Route("merchant", ORDER, method="post", body={"tip_cents": 900}),
    "v1_orders_cancel_create": Route("merchant", ORDER, method="post", body={"reason": "Test"}),
    "v1_quotes_create": Route("merchant", method="post", body=QUOTE_BODY),
    "v1_stores_list": _self("merchant", lists=("store_a", "store_b")),
    "v1_webhooks_list": _self("merchant", lists=("webhook_a", "webhook_b")),
    "v1_webhooks_create": _self("merchant", "post", {"url": "http://127.0.0.1:9/new"}),
    "v1_webhooks_rotate_secret_create": Route("merchant", WEBHOOK, method="post"),
    "v1_webhooks_destroy": Route(
        "merchant", {"public_id": "@webhook_{s}_spare.public_id"}, "delete"
    ),
    # The driver app's log-in: open to anyone (an empty body is 400, whoever sends it).
    "v1_driver_token_create": _self("open_api", "post", {}),
    # The driver API: a driver's token (or session); objects are the driver's own.
    "v1_driver_me_retrieve": _self("driver"),
    "v1_driver_online_create": _self("driver", "post", HERE),
    "v1_driver_offline_create": _self("driver", "post"),
    "v1_driver_location_create": _self("driver", "post", HERE),
    # A accepted offer_a (no longer open): B's open offer is the one listed.
    "v1_driver_offers_list": _self("driver", lists=("offer_b",)),
    "v1_driver_offers_accept_create": Route("driver", OFFER, method="post"),
    "v1_driver_offers_decline_create": Route("driver", OFFER, method="post", body={}),
    "v1_driver_trips_current_retrieve": _self("driver"),
    "v1_driver_trips_retrieve": Route("driver", TRIP),
    "v1_driver_trips_arrive_at_store_create": Route("driver", TRIP, method="post", body=HERE),
    "v1_driver_trips_pickup_create": Route(
        "driver", TRIP, method="post", body={**HERE, "codes": {}}
    ),
    "v1_driver_trips_stops_arrive_create": Route("driver", STOP, method="post", body=HERE),
    "v1_driver_trips_stops_deliver_create": Route("driver", STOP, method="post", body=HERE),
    "v1_driver_trips_stops_undeliverable_create": Route(
        "driver", STOP, method="post", body={**HERE, "reason": "Gate locked"}
    ),
    "v1_driver_trips_stops_return_create": Route("driver", STOP, method="post", body=HERE),
}

STORE = {"store_id": "@store_{s}.public_id"}
STORE_ORDER = {**STORE, "order_id": "@order_{s}.public_id"}
STORE_DONE = {**STORE, "order_id": "@order_{s}_done.public_id"}
W_TRIP = {"public_id": "@trip_{s}_mine.public_id"}
W_STOP = {**W_TRIP, "order_id": "@order_{s}_mine.public_id"}
FORM = {"lat": "36.2", "lng": "-86.76", "reason": "Other"}


def _page(surface: str, method: str = "get", **params: str) -> Route:
    return Route(surface, params, method=method, sides=("a", "b") if params else ())


# Every page route (and non-schema API route) of the URL conf, by namespaced name. Admin
# routes are A4's (test_ops_admin_denied.py).
PAGES: dict[str, Route] = {
    "home": _page("public"),
    "healthz": _page("public"),
    "schema": _page("public"),
    "api-docs": _page("public"),
    # The ops two-factor step: log-in first; a user with no second factor is sent on.
    "otp_verify": _page("staff_step"),
    "otp_setup": _page("staff_step"),
    "screening_webhook": Route("signed", {"provider": "sandbox"}, method="post", sides=()),
    "tracking:page": Route("tracking", {"token": "@order_{s}.tracking_token"}),
    "driver:signup": _page("public"),
    "driver:login": _page("public"),
    "driver:logout": Route("public", method="post", sides=(), own_client=True),
    "driver:password_reset": _page("public"),
    "driver:password_reset_done": _page("public"),
    "driver:password_reset_confirm": Route("public", {"uidb64": "MQ", "token": "x-y"}, sides=()),
    "driver:password_reset_complete": _page("public"),
    "store:login": _page("public"),
    "store:logout": Route("public", method="post", sides=(), own_client=True),
    # The driver portal: its own log-in; another user's rows are 404.
    "driver:home": _page("portal"),
    "driver:profile": _page("portal"),
    "driver:vehicle": _page("portal"),
    "driver:documents": _page("portal"),
    "driver:document_upload": Route("portal", {"kind": "insurance"}, "post", sides=()),
    "driver:document_file": _page("portal_document", public_id="@document_{s}.public_id"),
    "driver:screening": _page("portal"),
    "driver:screening_status": _page("portal"),
    "driver:screening_sandbox": _page("portal", invitation_id="@check_{s}.invitation_id"),
    "driver:activity": _page("portal"),
    "driver:appeals": _page("portal"),
    "driver:appeal_new": Route("portal", {"event_id": "@event_c.id"}, sides=("c",)),
    "driver:appeal_detail": _page("portal", appeal_id="@appeal_{s}.id"),
    "work:home": _page("portal"),
    "work:online": Route("portal", method="post", body=FORM, sides=()),
    "work:offline": _page("portal", "post"),
    "work:offers": Route("portal", sides=(), lists=("offer_b",)),
    "work:offer-accept": _page("portal", "post", public_id="@offer_{s}.public_id"),
    "work:offer-decline": _page("portal", "post", public_id="@offer_{s}.public_id"),
    "work:trips": Route("portal", sides=(), lists=("trip_a", "trip_b_done")),
    "work:trip": Route("portal", W_TRIP),
    "work:arrive-at-store": Route("portal", W_TRIP, method="post", body=FORM),
    "work:pickup": Route("portal", W_TRIP, method="post", body=FORM),
    "work:stop-arrive": Route("portal", W_STOP, method="post", body=FORM),
    "work:stop-deliver": Route("portal", W_STOP, method="post", body=FORM),
    "work:stop-undeliverable": Route("portal", W_STOP, method="post", body=FORM),
    "work:stop-return": Route("portal", W_STOP, method="post", body=FORM),
    "blocks:list": _page("portal"),
    "blocks:mine": _page("portal"),
    "blocks:detail": Route("portal", {"public_id": "@block.public_id"}, sides=("-",)),
    "blocks:request": Route("portal", {"public_id": "@block.public_id"}, "post", sides=("-",)),
    "blocks:reservation": _page("portal", reservation_id="@reservation_{s}.id"),
    "blocks:release": _page("portal", "post", reservation_id="@reservation_{s}.id"),
    "payouts:home": _page("portal"),
    "payouts:trip": _page("portal", trip_public_id="@trip_{s}_done.public_id"),
    "payouts:statements": _page("portal"),
    "payouts:statement": Route("portal", {"week": "2026-01-05"}, sides=()),
    "payouts:statement_csv": Route("portal", {"week": "2026-01-05"}, sides=()),
    "payouts:payouts": _page("portal"),
    "payouts:instant_pay": _page("portal", "post"),
    # The store dashboard: members of the store only; anyone else 404.
    "store:index": _page("store_index"),
    "store:board": Route("store", STORE, lists=("order_a", "order_b")),
    "store:proofs": Route("store", STORE),
    "store:proofs_csv": Route("store", STORE),
    "store:order": Route("store", STORE_ORDER),
    "store:order_ready": Route("store", STORE_ORDER, method="post"),
    "store:order_handoff": Route("store", STORE_ORDER, method="post"),
    "store:order_return": Route("store", STORE_ORDER, method="post"),
    "store:order_cancel": Route("store", STORE_ORDER, method="post", body={"reason": "Test"}),
    "store:order_pod": Route("store", STORE_DONE),
    "store:order_pod_photo": Route("store", STORE_DONE),
    # The ops console: staff only, 403 for every other user.
    "ops:index": _page("ops"),
    "ops:market": Route("ops", {"slug": "nashville"}, sides=()),
    "ops:market_metrics": Route("ops", {"slug": "nashville"}, sides=()),
    "ops:queues": _page("ops"),
    "ops:orders": _page("ops"),
    "ops:order": _page("ops", public_id="@order_{s}.public_id"),
}


# Cells that fail for a reason reported to the owner of the code, each with its reason. The
# matrix checks every other cell of these rows (401/403 at the door still must hold) and
# test_known_bugs_are_still_there fails as soon as one is fixed, so the entry goes.
KNOWN_BUGS: dict[str, str] = {}


# --- the inventory ---------------------------------------------------------------------------


@cache
def load_schema() -> dict[str, Any]:
    """The committed schema, parsed once (PyYAML's C loader when it is there)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA_PATH.read_text(), Loader=loader)  # noqa: S506 (a safe loader)


def schema_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) for every operation of the committed schema."""
    schema = load_schema()
    return {
        op["operationId"]: (method, path)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def url_routes() -> list[tuple[str, str]]:
    """(route, namespaced name) for every URL pattern, by walking get_resolver()."""

    def walk(patterns: list, prefix: str, namespace: str) -> list[tuple[str, str]]:
        found = []
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = ":".join(filter(None, [namespace, p.namespace or ""]))
                found += walk(p.url_patterns, prefix + str(p.pattern), inner)
            elif isinstance(p, URLPattern):
                name = ":".join(filter(None, [namespace, p.name or "?"]))
                found.append((prefix + str(p.pattern), name))
        return found

    return walk(get_resolver().url_patterns, "/", "")


def openapi_path(route: str) -> str:
    """/api/v1/orders/<uuid:public_id> -> /api/v1/orders/{public_id}"""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


# --- expectations ----------------------------------------------------------------------------


def objects_of(route: Route, side: str) -> list[str]:
    refs = [*route.params.values(), *(route.body or {}).values()]
    return [
        v[1:].split(".")[0].replace("{s}", side)
        for v in refs
        if isinstance(v, str) and v.startswith("@")
    ]


def expected(world: World, route: Route, side: str, role: str) -> str:
    """ "ok", "401", "403", "404", "400" or "login:<url>" for `role` on `route` at `side`."""
    s = route.surface
    if s in ("public", "tracking"):
        return "ok"
    if s in ("signed", "open_api"):
        return "400"  # no signature, or no credentials in the body: whoever asks
    if s in ("merchant", "driver"):
        return _expected_api(world, route, side, role)
    anonymous = role == "anon" or role in MERCHANTS  # pages ignore API keys
    login = LOGIN[LOGIN_OF.get(s, "driver")]
    if anonymous:
        return f"login:{login}"
    if s == "staff_step":
        return "ok"
    if s == "ops":
        return "ok" if role == "ops" else "403"
    if s == "store_index":
        return "ok" if role in STAFF else "403"
    members = {
        "store": STAFF,
        "portal": DRIVERS,
        "portal_document": DRIVERS | {"ops"},  # ops with the view_document permission
    }[s]
    return _by_object(world, route, side, role) if role in members else "404"


def _expected_api(world: World, route: Route, side: str, role: str) -> str:
    members = MERCHANTS if route.surface == "merchant" else DRIVERS
    if role in members:
        return _by_object(world, route, side, role)
    if route.surface == "driver" and role in SESSION_USERS:
        return "403"  # logged in, but not a driver
    return "401"


def _by_object(world: World, route: Route, side: str, role: str) -> str:
    if role == "ops":
        return "ok"
    names = objects_of(route, side)
    return "ok" if all(role in world.visible_to[n] for n in names) else "404"


def resolve(world: World, template: Any, side: str) -> Any:
    if isinstance(template, dict):
        return {k: resolve(world, v, side) for k, v in template.items()}
    if not (isinstance(template, str) and template.startswith("@")):
        return template
    name, attr = template[1:].replace("{s}", side).split(".")
    return str(getattr(world.objects[name], attr))

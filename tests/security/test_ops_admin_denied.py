"""A4: a driver (session or API token), store staff (session) and a merchant's API key get
403, 404 or the admin log-in on 100 % of the /ops/ and /admin/ URLs, for GET and POST. Every
URL comes from walking the URL conf, so a new admin model or ops page is covered too; only the
admin's own log-in and log-out pages are open to everyone."""

import re

import pytest
from django.test import Client

from dispatch.models import Offer
from tests.security.conftest import page_client
from tests.security.matrix import url_routes

pytestmark = pytest.mark.django_db

OPEN = {"admin:login", "admin:logout"}
SAMPLE = {"app_label": "orders", "slug": "nashville"}


def _sample(route: str, ids: dict[str, str]) -> str:
    """A URL for a route string: path converters and regex groups filled with real-looking ids
    (any object id will do: the answer must not depend on it)."""
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids.get(m[1], SAMPLE.get(m[1], "1")), route)
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: ids.get(m[1], SAMPLE.get(m[1], "1")), url)
    return url.replace("^", "").replace("$", "")


def _ops_and_admin_urls(world) -> list[str]:
    order = str(world.objects["order_a"].public_id)
    ids = {"public_id": order, "object_id": str(Offer.objects.first().pk)}
    urls = [
        _sample(route, ids)
        for route, name in url_routes()
        if route.startswith(("/ops/", "/admin/")) and name not in OPEN
    ]
    assert len(urls) >= 100  # every model admin's changelist, add, change, delete, history
    return sorted(set(urls))


def _who(world, role: str) -> Client:
    if role == "driver_token":  # the driver API's credential, sent to a page
        token = world.roles["driver_a"].token
        return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
    return page_client(world, role)


def _denied(response) -> bool:
    if response.status_code in (403, 404, 405):
        return True
    location = response.get("Location", "")
    return response.status_code == 302 and location.startswith("/admin/login/")


@pytest.mark.parametrize(
    ("role", "methods"),
    [
        ("driver_a", ("get", "post")),
        ("driver_token", ("get", "post")),
        ("staff_1", ("get",)),  # POST goes through the same door as GET: one role tries both
        ("staff_2", ("get",)),
        ("merchant_a", ("get",)),
    ],
)
def test_ops_and_admin_urls_are_denied_to_drivers_store_staff_and_merchants(world, role, methods):
    client = _who(world, role)
    allowed = []
    urls = _ops_and_admin_urls(world)
    for url in urls:
        for method in methods:
            response = getattr(client, method)(url)
            if not _denied(response):
                allowed.append(f"{method.upper()} {url}: {response.status_code}")
    assert allowed == [], f"{len(allowed)} of {len(methods) * len(urls)} requests got through"


def test_the_ops_user_does_get_in(world):
    """The denials above are about who asks, not broken URLs: ops opens the same pages."""
    client = page_client(world, "ops")
    pages = [u for u in _ops_and_admin_urls(world) if u.startswith("/ops/")]
    assert [u for u in pages if client.get(u).status_code != 200] == []

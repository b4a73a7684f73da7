"""A1: the authorization matrix, generated from docs/openapi.yaml (every operation) and the URL
conf (every page route) x {driver A, driver B, staff of store 1, staff of store 2, merchant A's
API key, merchant B's API key, ops, anonymous}. Each row is tried with side A's and side B's
objects, so every role meets both its own objects and foreign ones. Foreign objects are 404,
anonymous callers 401 (API) or the log-in page, and no response to a role carries the public id
of an object it may not see (lists included)."""

import pytest

from tests.security.checks import body_of, error_shape, leaks, verdict
from tests.security.conftest import api_client, page_client
from tests.security.matrix import (
    KNOWN_BUGS,
    OPERATIONS,
    PAGES,
    Route,
    expected,
    openapi_path,
    resolve,
    schema_operations,
    url_routes,
)
from tests.security.world import ROLES, World

pytestmark = pytest.mark.django_db


def test_every_operation_and_route_is_classified():
    """A new endpoint or page cannot slip in without a row in the matrix."""
    operations = schema_operations()
    assert sorted(set(operations) - set(OPERATIONS)) == [], "unclassified API operations"
    assert sorted(set(OPERATIONS) - set(operations)) == [], "matrix rows for no operation"
    schema_paths = {path for _, path in operations.values()}
    routes = url_routes()
    unclassified = [
        f"{route} ({name})"
        for route, name in routes
        if not name.startswith("admin:")
        and openapi_path(route) not in schema_paths
        and name not in PAGES
    ]
    assert unclassified == [], "unclassified page routes"
    assert sorted(set(PAGES) - {name for _, name in routes}) == [], "matrix rows for no route"
    assert len(operations) >= 28
    assert len(PAGES) >= 70


def test_the_leak_check_sees_a_foreign_id_in_a_body(world):
    """The matrix's leak check is not vacuous: each role has foreign ids to look for."""
    foreign = {
        "driver_a": "offer_b",
        "driver_b": "trip_a",
        "staff_1": "store_b",
        "staff_2": "order_a",
        "merchant_a": "webhook_b",
        "merchant_b": "order_a_new",
        "anon": "document_a",
    }
    for role, name in foreign.items():
        public_id = str(world.objects[name].public_id)
        found = leaks(f'<a href="/x/{public_id}/">'.encode(), world.secrets_for(role))
        assert len(found) == 1, (role, name)
    assert world.secrets_for("ops") == {}


def _api_call(client, method: str, url: str, body):
    if body is None or method == "get":
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


def _check_list(world: World, route: Route, role: str, response, body=None) -> str | None:
    """A list shows the role its own rows (so the leak check is not vacuous)."""
    if response.status_code != 200:
        return None
    text = (response.content if body is None else body).decode(errors="replace")
    missing = [
        name
        for name in route.lists
        if (role == "ops" or role in world.visible_to[name])
        and str(world.objects[name].public_id) not in text
    ]
    return f"own rows missing from the list: {missing}" if missing else None


@pytest.mark.parametrize("role", ROLES)
def test_api_operations_answer_each_role_by_ownership(world, role):
    client = api_client(world, role)
    secrets = world.secrets_for(role)
    failures, cells = [], 0
    for op_id, (method, path) in schema_operations().items():
        route = OPERATIONS[op_id]
        for side in route.sides or ("",):
            want = expected(world, route, side, role)
            if op_id in KNOWN_BUGS and want not in ("401", "403"):
                continue  # past the door: test_known_bugs_are_still_there
            url = path.format(**resolve(world, route.params, side))
            response = _api_call(client, method, url, resolve(world, route.body, side))
            cells += 1
            problems = [
                verdict(response, want),
                error_shape(response) if response.status_code in (401, 403, 404) else None,
                _check_list(world, route, role, response),
                *(f"leaks {name}" for name in leaks(response.content, secrets)),
            ]
            failures += [f"{method.upper()} {url} [{op_id}/{side}]: {p}" for p in problems if p]
    assert not failures, "\n".join(failures)
    assert cells >= 40


def _page_call(client, world: World, role: str, route: Route, url: str, body):
    if route.own_client:
        client = page_client(world, role)
    if route.method == "post":
        return client.post(url, body or {})
    return client.get(url)


@pytest.mark.parametrize("role", ROLES)
def test_pages_answer_each_role_by_ownership(world, role):
    from django.urls import reverse

    client = page_client(world, role)
    secrets = world.secrets_for(role)
    failures, cells = [], 0
    for name, route in PAGES.items():
        for side in route.sides or ("",):
            url = reverse(name, kwargs=resolve(world, route.params, side))
            response = _page_call(client, world, role, route, url, resolve(world, route.body, side))
            want = expected(world, route, side, role)
            cells += 1
            body = body_of(response)
            problems = [
                verdict(response, want, public=route.surface == "public"),
                _check_list(world, route, role, response, body),
                *(f"leaks {n}" for n in leaks(body, secrets)),
            ]
            failures += [
                f"{route.method.upper()} {url} [{name}/{side}]: {p}" for p in problems if p
            ]
    assert not failures, "\n".join(failures)
    assert cells >= 90


@pytest.mark.xfail(strict=True, reason="KNOWN_BUGS: remove an entry once its bug is fixed")
@pytest.mark.parametrize("op_id", sorted(KNOWN_BUGS))
def test_known_bugs_are_still_there(world, op_id):
    method, path = schema_operations()[op_id]
    route = OPERATIONS[op_id]
    url = path.format(**resolve(world, route.params, "a"))
    response = _api_call(api_client(world, "driver_a"), method, url, None)
    assert response.status_code < 500, KNOWN_BUGS[op_id]

"""Driver tokens: a native app's log-in, and the hot paths (accept, pings) they make cheap."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from dispatch import services
from dispatch.auth import driver_token_for
from dispatch.models import DispatchEvent, Offer, Trip
from orders.models import Order
from spark.lib import sql as lib_sql
from tests.dispatch.conftest import online_driver
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"
AUDIT_PREFIX = re.compile(r"^SELECT set_config\(.*?\);\s*", re.S)


@pytest.fixture
def offered(city):
    market, store = city
    driver = online_driver(market)
    driver.user.set_password(PASSWORD)
    driver.user.save()
    make_order(store, Order.Status.READY_FOR_PICKUP)
    services.dispatch_round_run(market_id=market.id)
    return driver, Offer.objects.get(driver=driver)


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Driver {token}")
    return client


def log_in(username: str, password: str):
    return APIClient().post(
        "/api/v1/driver/token", {"username": username, "password": password}, format="json"
    )


def test_a_driver_logs_in_for_a_token_that_works_on_the_driver_api(offered):
    driver, _ = offered
    response = log_in(driver.user.username, PASSWORD)
    assert response.status_code == 200
    assert response.json()["expires_in"] == 12 * 3600
    me = token_client(response.json()["token"]).get("/api/v1/driver/me")
    assert me.status_code == 200
    assert me.json()["id"] == driver.id


def test_token_log_in_refuses_a_wrong_password_and_a_non_driver(offered):
    from tests.factories import UserFactory

    driver, _ = offered
    assert log_in(driver.user.username, "wrong").status_code == 401
    staff = UserFactory()
    staff.set_password(PASSWORD)
    staff.save()
    response = log_in(staff.username, PASSWORD)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This account is not a driver's."


def test_token_log_in_locks_out_after_three_failures_even_with_the_right_password(offered):
    driver, _ = offered
    codes = [log_in(driver.user.username, "wrong").status_code for _ in range(3)]
    assert codes[:2] == [401, 401]
    assert log_in(driver.user.username, PASSWORD).status_code == 429


def test_a_forged_or_foreign_salted_token_is_refused(offered):
    from django.core import signing

    driver, _ = offered
    good = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
    other_salt = signing.TimestampSigner(salt="something.else").sign(
        f"{driver.id}:{driver.home_market_id}"
    )
    for token in (good[:-2] + "xx", other_salt, "not-a-token"):
        assert token_client(token).get("/api/v1/driver/me").status_code == 401


def test_accept_with_a_driver_token_is_one_statement(offered):
    """P7: no auth query, no select before the conditional UPDATEs; the two UPDATEs and the
    events' INSERT go as one statement (PostgreSQL's data-modifying WITH)."""
    driver, offer = offered
    client = token_client(driver_token_for(driver_id=driver.id, market_id=driver.home_market_id))
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/api/v1/driver/offers/{offer.public_id}/accept")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted"
    assert body["total_cents"] == offer.total_cents
    assert body["trip_id"] == str(offer.trip.public_id)
    # The audit history (pghistory) prefixes each statement with its context, in the same
    # round trip; savepoints are the test's transaction.
    statements = [
        AUDIT_PREFIX.sub("", lib_sql.readable(q["sql"])).split()[0]
        for q in queries.captured_queries
        if "SAVEPOINT" not in q["sql"]
    ]
    one_by_one = ["UPDATE", "UPDATE", "INSERT"]  # SQLite: no UPDATE inside WITH
    assert statements == (["WITH"] if connection.vendor == "postgresql" else one_by_one)
    trip = Trip.objects.get(id=offer.trip_id)
    assert (trip.status, trip.driver_id) == (Trip.Status.ASSIGNED, driver.id)
    events = DispatchEvent.objects.filter(trip=trip).values_list(
        "entity", "to_status", "actor_label"
    )
    assert ("offer", "accepted", f"driver:{driver.id}") in set(events)
    assert ("trip", "assigned", f"driver:{driver.id}") in set(events)


def test_accept_of_an_unknown_offer_is_404_and_of_a_taken_one_409(offered, city):
    driver, offer = offered
    client = token_client(driver_token_for(driver_id=driver.id, market_id=driver.home_market_id))
    assert client.post(f"/api/v1/driver/offers/{Trip().public_id}/accept").status_code == 404
    Trip.objects.filter(id=offer.trip_id).update(status=Trip.Status.CANCELLED)
    response = client.post(f"/api/v1/driver/offers/{offer.public_id}/accept")
    assert response.status_code == 409
    assert Offer.objects.get(id=offer.id).status == Offer.Status.OPEN


def test_accept_of_an_expired_offer_rolls_the_trip_back(offered):
    driver, offer = offered
    Offer.objects.filter(id=offer.id).update(expires_at=offer.created_at)
    client = token_client(driver_token_for(driver_id=driver.id, market_id=driver.home_market_id))
    response = client.post(f"/api/v1/driver/offers/{offer.public_id}/accept")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "offer_expired"
    assert Trip.objects.get(id=offer.trip_id).status == Trip.Status.OFFERED


def test_a_burst_of_accepts_kicks_one_sync_task_per_second(offered, monkeypatch):
    from dispatch.services import offers

    sent = []
    task = offers.tasks.trip_assigned_sync
    task.app.conf.task_always_eager = False  # a worker's app (the autouse fixture restores it)
    monkeypatch.setattr(task, "apply_async", lambda **kw: sent.append(kw))
    for _ in range(5):
        offers._kick_sync()
    assert sent == [{"countdown": offers.SYNC_KICK_SECONDS}]

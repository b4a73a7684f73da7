"""spark.lib.redis: a command sent without waiting for its reply (a location ping's write, P8)
takes effect in order, and its reply is read before the next other command, or with others."""

import logging

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from dispatch.auth import driver_token_for
from spark.lib import redis as redis_lib
from tests.factories import MarketFactory

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")
KEY = "spark:test:send_later"


@pytest.fixture
def client():
    redis_lib.client.cache_clear()
    conn = redis_lib.client()
    conn.delete(KEY)
    yield conn
    conn.delete(KEY)


def _unread() -> int:
    return redis_lib.client._local.unread


def test_a_command_sent_later_is_seen_by_the_next_one(client):
    assert redis_lib.client.send_later("HSET", KEY, "a", "1")
    assert redis_lib.client.send_later("HSET", KEY, "b", "2")
    assert _unread() == 2
    # the next use of the client reads the two replies first, then answers its own command
    assert redis_lib.client().hgetall(KEY) == {b"a": b"1", b"b": b"2"}
    assert _unread() == 0


def test_a_refused_command_is_logged_and_the_connection_goes_on(client, caplog):
    client.set(KEY, "a string, not a hash")
    redis_lib.client.send_later("HSET", KEY, "a", "1")  # WRONGTYPE
    with caplog.at_level(logging.WARNING, logger="spark.lib.redis"):
        redis_lib.client.read_replies()
    assert "refused" in caplog.text
    assert "WRONGTYPE" in caplog.text
    assert redis_lib.client().get(KEY) == b"a string, not a hash"


def test_a_failed_send_forgets_the_replies_its_connection_owed(client, monkeypatch):
    redis_lib.client.send_later("HSET", KEY, "a", "1")
    connection = client.connection

    def gone(*command, **kwargs):
        connection.disconnect()  # as redis-py does when the socket fails
        raise redis.ConnectionError("Connection reset by peer")

    monkeypatch.setattr(connection, "send_command", gone)
    with pytest.raises(redis.ConnectionError):
        redis_lib.client.send_later("HSET", KEY, "b", "2")
    monkeypatch.undo()
    assert _unread() == 0  # no reply is waited for on the new connection
    assert redis_lib.client().hgetall(KEY) == {b"a": b"1"}


def test_replies_are_read_together_once_enough_are_waiting(client):
    for i in range(redis_lib.UNREAD_MAX):
        redis_lib.client.send_later("HSET", KEY, f"f{i}", "1")
    assert _unread() == redis_lib.UNREAD_MAX
    redis_lib.client.send_later("HSET", KEY, "last", "1")
    assert _unread() == 1  # the waiting ones were read before it went out
    assert redis_lib.client().hlen(KEY) == redis_lib.UNREAD_MAX + 1


@pytest.mark.django_db
def test_a_ping_is_stored_without_waiting_for_redis(client):
    market = MarketFactory()
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Driver {driver_token_for(driver_id=7, market_id=market.id)}"
    )
    response = api.post("/api/v1/driver/location", {"lat": 36.16, "lng": -86.78}, format="json")
    assert response.status_code == 200
    assert _unread() == 1  # its reply is still to be read
    stored = redis_lib.client().hget(f"spark:locations:{market.id}", "7")
    assert stored.decode().startswith("36.160000,-86.780000,")
    assert _unread() == 0

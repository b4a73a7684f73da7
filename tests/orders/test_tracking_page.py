"""The customer's tracking page: no log-in, an unguessable token, one order and nothing else."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import services
from orders.models import Order
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db


def _page(client, order, **headers):
    response = client.get(f"/t/{order.tracking_token}/", **headers)
    assert response.status_code == 200
    return response, response.content.decode()


def _courier(order, *, minutes_ago=1, **fields):
    located = timezone.now() - timedelta(minutes=minutes_ago)
    courier = services.Courier(
        name="Dana",
        vehicle="Toyota Corolla",
        lat=36.171234,
        lng=-86.765432,
        located_at=located,
        pickup_eta=timezone.now() + timedelta(minutes=5),
        dropoff_eta=timezone.now() + timedelta(minutes=25),
        **fields,
    )
    services.order_courier_update(order_ids=[order.id], courier=courier)
    order.refresh_from_db()
    return order


def test_tracking_page_shows_the_order_without_login(client, store):
    order = make_order(store, Order.Status.DRIVER_ASSIGNED)
    response, html = _page(client, order)
    assert store.name in html
    assert order.dropoff_address in html
    assert "Driver on the way to the store" in html
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    assert order.customer_phone not in html


def test_tracking_page_with_an_unknown_token_is_404(client, store):
    make_order(store)
    assert client.get("/t/not-a-real-token/").status_code == 404
    assert client.get("/t/" + "a" * 500 + "/").status_code == 404


def test_tracking_tokens_are_long_and_distinct(store):
    tokens = {make_order(store, external_order_id=f"T-{i}").tracking_token for i in range(20)}
    assert len(tokens) == 20
    assert all(len(t) >= 32 for t in tokens)


def test_tracking_page_shows_the_driver_eta_and_map(client, store):
    order = _courier(make_order(store, Order.Status.PICKED_UP))
    _, html = _page(client, order)
    assert "<strong>Dana</strong> is your driver" in html
    assert "Toyota Corolla" in html
    assert "Arriving around" in html
    assert '<svg class="smap track-map"' in html
    assert 'class="mk store"' in html
    assert 'class="mk home"' in html
    assert 'class="mk driver-busy"' in html


def test_tracking_page_shows_the_delivery_instructions(client, store):
    order = make_order(store, dropoff_instructions="Ring twice, dog is friendly")
    _, html = _page(client, order)
    assert "Ring twice, dog is friendly" in html


def test_the_drivers_position_is_rounded_and_hidden_when_stale(client, store):
    order = _courier(make_order(store, Order.Status.PICKED_UP))
    _, html = _page(client, order)
    assert "36.171234" not in html
    assert "86.765432" not in html
    stale = _courier(make_order(store, Order.Status.PICKED_UP), minutes_ago=30)
    _, html = _page(client, stale)
    assert 'class="mk driver-busy"' not in html


def test_no_driver_on_the_page_once_delivered(client, store):
    order = _courier(make_order(store, Order.Status.PICKED_UP))
    services.order_transition(order_id=order.id, to="driver_at_dropoff", actor=_system())
    services.order_transition(order_id=order.id, to="delivered", actor=_system())
    _, html = _page(client, order)
    assert "is your driver" not in html
    assert 'class="mk driver-busy"' not in html
    assert "Delivered" in html
    assert "hx-trigger" not in html  # a final order stops polling


def _system():
    from spark.lib.actors import Actor

    return Actor.system("test")


def test_tracking_page_shows_nothing_of_other_orders(client, store):
    mine = make_order(store, external_order_id="MINE-1")
    other = make_order(
        store,
        external_order_id="OTHER-1",
        customer_name="Zed Neighbour",
        dropoff_address="1 Secret Lane",
        dropoff_instructions="Key under the mat",
    )
    _, html = _page(client, mine)
    for leak in (
        "OTHER-1",
        "Zed Neighbour",
        "1 Secret Lane",
        "Key under the mat",
        other.tracking_token,
        str(other.public_id),
    ):
        assert leak not in html
    # Nor this order's secrets: the store's pickup code, the door PIN, its ids.
    Order.objects.filter(id=mine.id).update(pickup_code="9753", dropoff_pin="8642")
    _, html = _page(client, mine)
    assert "9753" not in html
    assert "8642" not in html
    assert str(mine.public_id) not in html


def test_tracking_page_polls_and_htmx_gets_the_live_part(client, store):
    order = make_order(store)
    _, html = _page(client, order)
    assert 'hx-trigger="every 20s"' in html
    _, partial = _page(client, order, HTTP_HX_REQUEST="true")
    assert partial.lstrip().startswith('<div id="tracking-live"')


def test_cancelled_order_says_why(client, store):
    order = make_order(store)
    services.order_cancel(order_id=order.id, actor=_system(), reason="Out of stock")
    _, html = _page(client, order)
    assert "Cancelled" in html
    assert "Out of stock" in html

import pytest

from orders.models import Order
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db


def test_tracking_page_shows_the_order_without_login(client, store):
    order = make_order(store, Order.Status.DRIVER_ASSIGNED)
    response = client.get(f"/t/{order.tracking_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert store.name in html
    assert order.dropoff_address in html
    assert "Driver on the way to the store" in html
    assert response["Cache-Control"] == "no-store"
    assert order.customer_phone not in html


def test_tracking_page_with_an_unknown_token_is_404(client, store):
    make_order(store)
    assert client.get("/t/not-a-real-token/").status_code == 404


def test_tracking_tokens_are_long_and_distinct(store):
    tokens = {make_order(store, external_order_id=f"T-{i}").tracking_token for i in range(20)}
    assert len(tokens) == 20
    assert all(len(t) >= 32 for t in tokens)

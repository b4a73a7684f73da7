"""A1 for the store dashboard: every page and action x {staff of the store, staff of another
store, a driver, ops without a membership, anonymous}. Foreign store or order -> 404; anonymous
-> the store log-in; nobody but the store's own staff sees a store page."""

import pytest
from django.urls import URLPattern, reverse

from orders.models import Order
from spark.store import urls as store_urls
from tests.store.helpers import delivered_order

pytestmark = pytest.mark.django_db

POSTS = {"order_ready", "order_handoff", "order_return", "order_cancel"}
PUBLIC = {"login", "logout"}


def _urls(store, order):
    """Every store route that names a store, with real ids filled in (new routes are covered
    too): (GET pages, POST actions)."""
    values = {"store_id": store.public_id, "order_id": order.public_id}
    gets, posts = [], []
    for pattern in store_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in PUBLIC or not pattern.pattern.converters:
            continue
        kwargs = {name: values[name] for name in pattern.pattern.converters}
        url = reverse(f"store:{pattern.name}", kwargs=kwargs)
        (posts if pattern.name in POSTS else gets).append(url)
    assert len(gets) >= 6
    assert len(posts) == len(POSTS)
    return gets, posts


@pytest.fixture
def delivered(city):
    order, _ = delivered_order(city)
    return order


def _unchanged(order):
    before = order.status
    order.refresh_from_db()
    return order.status == before


def test_store_pages_need_a_log_in(client, city, delivered):
    gets, posts = _urls(city.store_a, delivered)
    for url in [reverse("store:index"), *gets]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/store/login/"), url
    for url in posts:
        assert client.post(url, {"reason": "x"}).status_code == 302, url
    assert _unchanged(delivered)


@pytest.mark.parametrize("who", ["staff_b", "driver", "ops"])
def test_store_pages_of_another_store_are_404(client, city, delivered, who):
    user = city.driver.user if who == "driver" else getattr(city, who)
    client.force_login(user)
    gets, posts = _urls(city.store_a, delivered)
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, {"reason": "x", "checked": "on"}).status_code == 404
    assert _unchanged(delivered)


def test_store_staff_see_their_own_store(client, city, delivered):
    client.force_login(city.staff_a)
    gets, _ = _urls(city.store_a, delivered)
    for url in gets:
        assert client.get(url).status_code == 200, url


def test_an_order_of_another_store_under_my_store_is_404(client, city):
    """BOLA: my store's id with another store's order id."""
    theirs = Order.objects.get(pk=_order_b(city).pk)
    client.force_login(city.staff_a)
    gets, posts = _urls(city.store_a, theirs)
    for url in gets:
        if "/orders/" in url:
            assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, {"reason": "nope", "checked": "on"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Order.Status.CREATED


def _order_b(city):
    from tests.store.helpers import order_in

    return order_in(city.store_b, external_order_id="B-1")


def test_index_sends_a_member_to_the_board_and_refuses_others(client, city):
    client.force_login(city.staff_a)
    response = client.get(reverse("store:index"))
    assert response.status_code == 302
    assert response["Location"] == reverse("store:board", args=[city.store_a.public_id])
    client.force_login(city.driver.user)
    response = client.get(reverse("store:index"))
    assert response.status_code == 403
    assert "not a member of any store" in response.content.decode()


def test_a_member_of_several_stores_picks_one(client, city):
    from orders.models import StoreMembership

    StoreMembership.objects.create(user=city.staff_a, store=city.store_b)
    client.force_login(city.staff_a)
    response = client.get(reverse("store:index"))
    assert response.status_code == 200
    assert "Store A" in response.content.decode()
    assert "Store B" in response.content.decode()


def test_store_pages_are_not_cached(client, city):
    client.force_login(city.staff_a)
    response = client.get(reverse("store:board", args=[city.store_a.public_id]))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_store_log_in_page_logs_staff_in(client, city):
    response = client.get(reverse("store:login"))
    assert response.status_code == 200
    response = client.post(
        reverse("store:login"), {"username": "staff-a", "password": "pw-for-tests-1"}
    )
    assert response.status_code == 302
    assert client.get(reverse("store:index")).status_code == 302


def test_store_log_in_with_a_wrong_password_is_400(client, city):
    response = client.post(reverse("store:login"), {"username": "staff-a", "password": "wrong"})
    assert response.status_code == 400

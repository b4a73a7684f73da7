"""A4: a driver's or store staff's session on /ops/* gets 403 on 100 % of the ops pages, for
every method; anonymous visitors are sent to the admin log-in; staff get the pages."""

import pytest
from django.urls import URLPattern, reverse

from spark.ops import urls as ops_urls
from tests.store.helpers import order_in

pytestmark = pytest.mark.django_db


def _every_ops_url(city):
    """Every route of the ops console, with real ids filled in (new routes are covered too)."""
    order = order_in(city.store_a)
    values = {"slug": city.market.slug, "public_id": order.public_id}
    urls = []
    for pattern in ops_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {name: values[name] for name in pattern.pattern.converters}
        urls.append(reverse(f"ops:{pattern.name}", kwargs=kwargs))
    assert len(urls) == len(ops_urls.urlpatterns) >= 6
    return urls


@pytest.mark.parametrize("who", ["driver", "staff_a", "staff_b"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_ops_pages_are_403_for_drivers_and_store_staff(client, city, who, method):
    user = city.driver.user if who == "driver" else getattr(city, who)
    client.force_login(user)
    for url in _every_ops_url(city):
        response = getattr(client, method)(url)
        assert response.status_code in (403, 404), (method, url, response.status_code)


def test_ops_pages_send_anonymous_visitors_to_the_admin_log_in(client, city):
    for url in _every_ops_url(city):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login")), url


def test_ops_pages_open_for_staff(ops_client, city):
    for url in _every_ops_url(city):
        response = ops_client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"]


def test_an_inactive_staff_user_is_refused(client, city):
    city.ops.is_active = False
    city.ops.save(update_fields=["is_active"])
    client.force_login(city.ops)
    response = client.get(reverse("ops:index"))
    assert response.status_code in (302, 403)

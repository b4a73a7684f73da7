"""The ops console through the HTTP client: markets live, the day's metrics, the queues with
their ages, and an order's offers with why each driver was chosen."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from drivers.models import Appeal, Document, DriverEvent
from orders.models import Order, WebhookDelivery, WebhookEndpoint, WebhookEvent
from spark.ops import maps, metrics
from tests.drivers.factories import DocumentFactory, approved_driver, driver_in
from tests.store.helpers import assigned_order, delivered_order, order_in

pytestmark = pytest.mark.django_db


def test_index_shows_every_market_and_the_queues(ops_client, city):
    html = ops_client.get(reverse("ops:index")).content.decode()
    assert "Nashville" in html
    for title in ("Documents to review", "Appeals", "Dead webhooks", "Failed payouts"):
        assert title in html


def test_market_page_shows_supply_demand_and_the_map(ops_client, city):
    order_in(city.store_a, Order.Status.READY_FOR_PICKUP, external_order_id="MAP-1")
    html = ops_client.get(reverse("ops:market", args=[city.market.slug])).content.decode()
    assert "Supply and demand now" in html
    assert '<svg class="smap market-map"' in html
    assert html.count('class="mk store"') == 2
    assert html.count("mk driver-free") == 1
    assert "Order MAP-1 (ready for pickup)" in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert 'id="metrics-data"' in html
    assert "https://" not in html.split("<main>")[1]  # no CDN, no tiles


def test_market_page_polls_its_live_part(ops_client, city):
    url = reverse("ops:market", args=[city.market.slug])
    partial = ops_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="market-live"')


def test_unknown_market_is_404(ops_client):
    assert ops_client.get(reverse("ops:market", args=["atlantis"])).status_code == 404


def test_market_now_counts_free_and_busy_drivers(city):
    from spark.ops import selectors

    order_in(city.store_a, Order.Status.READY_FOR_PICKUP)
    now = selectors.market_now(market=city.market, now=timezone.now())
    assert (now.online, now.free, now.busy, now.waiting) == (1, 1, 0, 1)
    assert now.drivers_per_waiting_order == 1.0
    assigned_order(city)  # the driver takes it: busy, no order waiting
    now = selectors.market_now(market=city.market, now=timezone.now())
    assert (now.online, now.free, now.busy, now.waiting) == (1, 0, 1, 0)


def test_metrics_of_the_day(ops_client, city):
    delivered_order(city)
    response = ops_client.get(reverse("ops:market_metrics", args=[city.market.slug]))
    assert response.status_code == 200
    data = json.loads(response.content)
    hours = len(data["labels"])
    assert hours >= 1
    for key in ("time_to_assign_min", "on_time_pct", "acceptance_pct", "boosts_usd"):
        assert len(data[key]) == hours
    assert data["stages"]["keys"] == [
        "created",
        "ready",
        "assigned",
        "picked_up",
        "delivered",
        "problem",
    ]
    assert sum(data["stages"]["delivered"]) == 1
    totals = data["totals"]
    assert totals["delivered"] == 1
    assert totals["on_time_pct"] == 100.0
    assert totals["acceptance_pct"] == 100.0
    assert totals["median_time_to_assign_min"] is not None
    assert totals["boosts_usd"] == 0


def test_stage_series_counts_each_order_once_per_stage(city):
    from orders import services
    from spark.lib.actors import Actor

    ready = order_in(city.store_a, Order.Status.READY_FOR_PICKUP)
    order_in(city.store_a)
    system = Actor.system("test")  # offered and back to ready: still one "ready" for the order
    services.order_transition(order_id=ready.id, to="offered", actor=system)
    services.order_transition(order_id=ready.id, to="ready_for_pickup", actor=system)
    data = metrics.day_metrics(market=city.market, now=timezone.now())
    assert data["stages"]["created"][-1] == 2
    assert data["stages"]["ready"][-1] == 1
    assert sum(data["stages"]["delivered"]) == 0


def test_offer_acceptance_ignores_open_and_withdrawn_offers(city):
    from dispatch.models import Offer

    order_in(city.store_a, Order.Status.READY_FOR_PICKUP)
    from dispatch import services

    services.dispatch_round_run(market_id=city.market.id)
    assert Offer.objects.filter(status="open").count() == 1
    data = metrics.day_metrics(market=city.market, now=timezone.now())
    assert data["totals"]["acceptance_pct"] is None
    assert data["totals"]["offers_answered"] == 0


def test_queues_list_what_waits_on_ops_with_ages(ops_client, city):
    waiting = driver_in("documents_pending", home_market=city.market)
    doc = DocumentFactory(driver=waiting, status=Document.Status.PENDING)
    Document.objects.filter(id=doc.id).update(created_at=timezone.now() - timedelta(hours=30))
    _dead_webhook(city)
    _open_appeal(city)
    html = ops_client.get(reverse("ops:queues")).content.decode()
    assert waiting.user.get_full_name() in html
    assert "30 h" in html or "1 d 6 h" in html
    assert 'class="age old"' in html  # a day or more
    assert "order.delivered" in html
    assert "https://shop.example/hooks" in html
    assert "Please look again" in html
    assert reverse("admin:drivers_document_change", args=[doc.id]) in html


def test_failed_payouts_queue(ops_client, city):
    from payouts.models import Account, Payout

    account = Account.objects.create(
        kind="driver_payable", driver=city.driver, market=city.market, currency="USD"
    )
    Payout.objects.create(
        driver=city.driver,
        account=account,
        kind="weekly",
        period="weekly:2026-11-16",
        amount_cents=12345,
        currency="USD",
        status="failed",
        failure_reason="account_closed",
        failed_at=timezone.now() - timedelta(hours=2),
    )
    html = ops_client.get(reverse("ops:queues")).content.decode()
    assert "$123.45" in html
    assert "account_closed" in html


def _dead_webhook(city):
    endpoint = WebhookEndpoint.objects.create(
        merchant=city.store_a.merchant, url="https://shop.example/hooks", secret="s"
    )
    event = WebhookEvent.objects.create(
        public_id="evt_dead_1",
        merchant=city.store_a.merchant,
        type="order.delivered",
        payload={},
        created_at=timezone.now() - timedelta(hours=3),
    )
    WebhookDelivery.objects.create(
        event=event,
        endpoint=endpoint,
        status=WebhookDelivery.Status.DEAD,
        attempts=12,
        last_status_code=500,
        next_attempt_at=timezone.now(),
        created_at=timezone.now() - timedelta(hours=3),
    )


def _open_appeal(city):
    driver = driver_in("suspended", home_market=city.market)
    event = DriverEvent.objects.filter(driver=driver).last()
    Appeal.objects.create(
        driver=driver, event=event, text="Please look again", filed_at=timezone.now()
    )


def test_order_search_by_external_id_goes_to_the_order(ops_client, city):
    order = order_in(city.store_a, external_order_id="FIND-ME")
    response = ops_client.get(reverse("ops:orders"), {"q": "find-me"})
    assert response.status_code == 302
    assert response["Location"] == reverse("ops:order", args=[order.public_id])
    response = ops_client.get(reverse("ops:orders"), {"q": str(order.public_id)})
    assert response["Location"] == reverse("ops:order", args=[order.public_id])


def test_order_search_lists_several_matches_and_says_when_none(ops_client, city):
    order_in(city.store_a, external_order_id="SAME")
    order_in(city.store_b, external_order_id="SAME")
    html = ops_client.get(reverse("ops:orders"), {"q": "SAME"}).content.decode()
    assert "Store A" in html
    assert "Store B" in html
    html = ops_client.get(reverse("ops:orders"), {"q": "nothing"}).content.decode()
    assert "No order has that id" in html


def test_order_page_explains_why_each_driver_was_chosen(ops_client, city):
    other = approved_driver(home_market=city.market)
    from dispatch import services

    services.driver_go_online(driver_id=other.id, lat=36.30, lng=-86.70)
    order, _ = assigned_order(city)
    html = ops_client.get(reverse("ops:order", args=[order.public_id])).content.decode()
    assert "Offers and why each driver was chosen" in html
    assert "optimal" in html  # the policy
    assert "Rank</dt><dd>#1" in html
    for term in ("pickup_eta_s", "lateness_risk", "fairness", "block_bonus"):
        assert term in html
    assert "accepted" in html
    assert "Timeline" in html


def test_order_page_of_an_order_without_offers(ops_client, city):
    order = order_in(city.store_a)
    html = ops_client.get(reverse("ops:order", args=[order.public_id])).content.decode()
    assert "No offer was made for this order yet" in html


def test_map_projection_fits_the_box_and_keeps_the_aspect():
    markers = [
        maps.Marker("store", 36.0, -87.0, "SW"),
        maps.Marker("store", 36.2, -86.6, "NE"),
    ]
    result = maps.build(markers, centre=(36.1, -86.8), width=600, height=400, pad=20)
    sw, ne = result.markers
    for m in result.markers:
        assert 20 - 0.5 <= m.x <= 580.5
        assert 20 - 0.5 <= m.y <= 380.5
    assert sw.x < ne.x
    assert sw.y > ne.y
    # 0.4 deg of longitude at 36.1 N is cos(36.1) * 0.4 / 0.2 times 0.2 deg of latitude.
    ratio = (ne.x - sw.x) / (sw.y - ne.y)
    assert ratio == pytest.approx(0.8080 * 2, rel=0.01)
    assert result.scale_km in maps.NICE_KM
    assert result.grid_px > 0


def test_map_of_an_empty_market_is_centred():
    result = maps.build([], centre=(36.1, -86.8))
    assert result.markers == []
    assert result.grid_x
    assert result.grid_y

"""The blocks pages of the driver portal over HTTP (render, request, release, BOLA) and the ops
admin (publish form, counts, draw now, cancel with a reason)."""

from datetime import timedelta

import pytest
from django.contrib.admin import AdminSite
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import include, path, reverse

from dispatch import admin_blocks
from dispatch.models import Block, BlockReservation, DispatchEvent
from drivers.models import Driver
from spark.lib import clock
from tests.dispatch.block_helpers import FakeClock, _wednesday_noon, draw, make_block
from tests.dispatch.test_block_services import request as block_request
from tests.drivers.factories import DriverUserFactory, approved_driver, driver_in
from tests.factories import MarketFactory

pytestmark = pytest.mark.django_db

R = BlockReservation.Status

# The admin is registered by dispatch/admin.py (another module); these tests mount a site of
# their own with the same ModelAdmins, next to the portal's URLs.
ops_site = AdminSite(name="admin")
ops_site.register(Block, admin_blocks.BlockAdmin)
ops_site.register(BlockReservation, admin_blocks.BlockReservationAdmin)
urlpatterns = [
    path("admin/", ops_site.urls),
    path("driver/blocks/", include(("dispatch.urls_blocks", "blocks"))),
    path("driver/", include("drivers.urls")),
]
with_admin = pytest.mark.urls(__name__)


@pytest.fixture
def now():
    fake = FakeClock(_wednesday_noon())
    with clock.use_clock(fake):
        yield fake


@pytest.fixture
def driver(city):
    return approved_driver(home_market=city[0])


@pytest.fixture
def me(client, driver):
    client.force_login(driver.user)
    return client


def _pages(block, row) -> list[str]:
    return [
        reverse("blocks:list"),
        reverse("blocks:mine"),
        reverse("blocks:detail", kwargs={"public_id": block.public_id}),
        reverse("blocks:reservation", kwargs={"reservation_id": row.id}),
        reverse("blocks:release", kwargs={"reservation_id": row.id}),
    ]


# --- auth and BOLA --------------------------------------------------------------------------


def test_pages_need_a_logged_in_driver(client, city, now, driver):
    block = make_block(city[0], now.at)
    row = block_request(block, driver)
    for url in _pages(block, row):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("driver:login"))
    staff = DriverUserFactory(is_staff=True)
    client.force_login(staff)
    for url in _pages(block, row):
        assert client.get(url).status_code == 404  # not a driver


def test_another_drivers_reservation_is_404_everywhere(client, city, now, driver):
    block = make_block(city[0], now.at)
    row = block_request(block, driver)
    intruder = approved_driver(home_market=city[0])
    client.force_login(intruder.user)
    for name in ("blocks:reservation", "blocks:release"):
        url = reverse(name, kwargs={"reservation_id": row.id})
        assert client.get(url).status_code == 404
    release = reverse("blocks:release", kwargs={"reservation_id": row.id})
    assert client.post(release).status_code == 404
    row.refresh_from_db()
    assert row.status == R.REQUESTED
    mine = client.get(reverse("blocks:mine")).content.decode()
    assert reverse("blocks:reservation", kwargs={"reservation_id": row.id}) not in mine


def test_another_markets_block_is_404(client, now):
    elsewhere = make_block(MarketFactory(), now.at)
    outsider = approved_driver(home_market=MarketFactory())
    client.force_login(outsider.user)
    detail = reverse("blocks:detail", kwargs={"public_id": elsewhere.public_id})
    assert client.get(detail).status_code == 404
    post = reverse("blocks:request", kwargs={"public_id": elsewhere.public_id})
    assert client.post(post).status_code == 404
    assert not BlockReservation.objects.exists()
    assert str(elsewhere.public_id) not in client.get(reverse("blocks:list")).content.decode()


def test_request_is_post_only(me, city, now):
    block = make_block(city[0], now.at)
    url = reverse("blocks:request", kwargs={"public_id": block.public_id})
    assert me.get(url).status_code == 405


# --- pages ----------------------------------------------------------------------------------


def test_list_shows_upcoming_blocks_with_pay_rate_and_phase(me, city, now):
    market, store = city
    make_block(market, now.at, store=store, capacity=3)  # lottery now
    make_block(market, now.at, opens_in=timedelta(minutes=-10), starts_in=timedelta(days=1))
    make_block(market, now.at, opens_in=timedelta(hours=20), starts_in=timedelta(days=2))
    body = me.get(reverse("blocks:list")).content.decode()
    assert body.count('class="card block-card') == 3
    assert "$90.00" in body
    assert "$30.00/h" in body
    assert "Lottery · drawn" in body
    assert "2 of 2 left" in body
    assert "Opens " in body
    assert store.name in body
    assert "Your lottery weight" in body
    assert "driver.css" in body  # the portal's look


def test_list_explains_why_an_unapproved_driver_cannot_reserve(client, city, now):
    pending = driver_in(Driver.Status.DOCUMENTS_PENDING, home_market=city[0])
    make_block(city[0], now.at)
    client.force_login(pending.user)
    body = client.get(reverse("blocks:list")).content.decode()
    assert "Blocks are for approved drivers" in body


def test_request_in_the_lottery_window_then_detail_shows_the_draw(me, city, now, driver):
    block = make_block(city[0], now.at)
    detail = reverse("blocks:detail", kwargs={"public_id": block.public_id})
    assert "Enter the lottery" in me.get(detail).content.decode()
    response = me.post(reverse("blocks:request", kwargs={"public_id": block.public_id}))
    assert response.status_code == 302
    assert response["Location"] == detail
    body = me.get(detail).content.decode()
    assert "In the lottery" in body
    assert "The draw is at" in body
    assert "Withdraw request" in body
    assert BlockReservation.objects.get().status == R.REQUESTED


def test_request_first_come_reserves(me, city, now, driver):
    block = make_block(city[0], now.at, opens_in=timedelta(minutes=-10))
    response = me.post(
        reverse("blocks:request", kwargs={"public_id": block.public_id}), follow=True
    )
    body = response.content.decode()
    assert "The block is yours" in body
    assert "Release block" in body
    assert BlockReservation.objects.get(driver=driver).status == R.RESERVED


@pytest.mark.parametrize(
    ("setup", "status", "text"),
    [
        ("not_open", 409, "not open yet"),
        ("full", 409, "This block is full."),
        ("overlap", 409, "already have a block"),
    ],
)
def test_request_errors_are_shown_with_their_status(me, city, now, driver, setup, status, text):
    market, _ = city
    if setup == "not_open":
        block = make_block(market, now.at, opens_in=timedelta(hours=1))
    else:
        block = make_block(market, now.at, opens_in=timedelta(minutes=-10), capacity=1)
        if setup == "full":
            block_request(block, approved_driver(home_market=market))
        else:
            other = make_block(
                market, now.at, opens_in=timedelta(minutes=-10), starts_in=timedelta(hours=5)
            )
            block_request(other, driver)
    response = me.post(reverse("blocks:request", kwargs={"public_id": block.public_id}))
    assert response.status_code == status
    assert text in response.content.decode()


def test_request_by_an_unapproved_driver_is_403_with_the_reason(client, city, now):
    suspended = driver_in(Driver.Status.SUSPENDED, home_market=city[0])
    block = make_block(city[0], now.at)
    client.force_login(suspended.user)
    response = client.post(reverse("blocks:request", kwargs={"public_id": block.public_id}))
    assert response.status_code == 403
    assert "Only approved drivers" in response.content.decode()


def test_my_blocks_shows_statuses_and_why(me, city, now, driver):
    market, _ = city
    lost_block = make_block(market, now.at, capacity=1, seed=1)
    rival = approved_driver(home_market=market)
    block_request(lost_block, driver)
    block_request(lost_block, rival)
    draw(lost_block, now)
    body = me.get(reverse("blocks:mine")).content.decode()
    mine = BlockReservation.objects.get(driver=driver)
    if mine.status == R.LOST:
        assert "Not drawn" in body
        assert "Not drawn in the lottery (2 requests for 1 place)" in body
    else:
        assert "Reserved" in body
        assert "Drawn in the lottery" in body
    page = me.get(reverse("blocks:reservation", kwargs={"reservation_id": mine.id}))
    assert page.status_code == 200
    assert "History" in page.content.decode()


def test_release_page_warns_of_a_forfeit_after_the_cutoff_and_releasing_forfeits(
    me, city, now, driver
):
    block = make_block(city[0], now.at, opens_in=timedelta(minutes=-10), cutoff=45)
    row = block_request(block, driver)
    url = reverse("blocks:release", kwargs={"reservation_id": row.id})
    assert "Releasing now is free" in me.get(url).content.decode()
    now.at = block.starts_at - timedelta(minutes=30)
    body = me.get(url).content.decode()
    assert "This counts as a forfeit." in body
    assert "Forfeit this block" in body
    response = me.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("blocks:mine")
    row.refresh_from_db()
    assert row.status == R.FORFEITED
    body = response.content.decode()
    assert "Forfeited" in body
    assert "later than the 45-minute cutoff" in body


def test_release_in_time_is_released(me, city, now, driver):
    block = make_block(city[0], now.at, opens_in=timedelta(minutes=-10))
    row = block_request(block, driver)
    url = reverse("blocks:release", kwargs={"reservation_id": row.id})
    assert me.post(url).status_code == 302
    row.refresh_from_db()
    assert row.status == R.RELEASED
    again = me.post(url)
    assert again.status_code == 409  # nothing left to release


# --- admin ----------------------------------------------------------------------------------


@pytest.fixture
def ops(client, db):
    client.force_login(DriverUserFactory(is_staff=True, is_superuser=True, username="ops-blocks"))
    return client


def _publish_data(market, store, start, **overrides):
    data = {
        "market": market.id,
        "store": store.id,
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": (start + timedelta(hours=3)).strftime("%Y-%m-%d"),
        "ends_at_1": (start + timedelta(hours=3)).strftime("%H:%M:%S"),
        "opens_at_0": "",
        "opens_at_1": "",
        "guaranteed_pay_cents": "9000",
        "capacity": "4",
        "lottery_window_seconds": "60",
        "forfeit_cutoff_minutes": "45",
        "reservations-TOTAL_FORMS": "0",
        "reservations-INITIAL_FORMS": "0",
    }
    return {**data, **overrides}


@with_admin
def test_admin_publishes_through_the_service(ops, city):
    market, store = city
    start = (clock.now() + timedelta(days=2)).astimezone(clock.now().tzinfo)
    url = reverse("admin:dispatch_block_add")
    response = ops.post(url, _publish_data(market, store, start))
    assert response.status_code == 302, response.content.decode()[:3000]
    block = Block.objects.get()
    assert block.status == Block.Status.OPEN  # no opening time: opens now
    assert block.lottery_seed != 0
    assert DispatchEvent.objects.filter(entity="block", entity_id=block.id).count() == 2


@with_admin
def test_admin_publish_form_shows_the_rules_as_errors(ops, city):
    market, store = city
    start = clock.now() + timedelta(days=2)
    end_first = _publish_data(
        market,
        store,
        start,
        ends_at_0=(start - timedelta(hours=1)).strftime("%Y-%m-%d"),
        ends_at_1=(start - timedelta(hours=1)).strftime("%H:%M:%S"),
    )
    response = ops.post(reverse("admin:dispatch_block_add"), end_first)
    assert response.status_code == 200
    assert "A block must end after it starts." in response.content.decode()
    other_store = _publish_data(MarketFactory(), store, start)
    response = ops.post(reverse("admin:dispatch_block_add"), other_store)
    assert "That store is not in this market." in response.content.decode()
    assert not Block.objects.exists()


@with_admin
def test_admin_list_shows_counts_and_draws_due_lotteries(ops, city, now):
    market, _ = city
    block = make_block(market, now.at, capacity=1)
    for _ in range(3):
        block_request(block, approved_driver(home_market=market))
    changelist = reverse("admin:dispatch_block_changelist")
    body = ops.get(changelist).content.decode()
    assert "window open until" in body
    assert '<td class="field-requested">3</td>' in body
    early = ops.post(
        changelist, {"action": "draw_lottery_now", ACTION_CHECKBOX_NAME: [block.id]}, follow=True
    )
    assert "not due until" in early.content.decode()
    now.advance(minutes=2)
    ops.post(changelist, {"action": "draw_lottery_now", ACTION_CHECKBOX_NAME: [block.id]})
    block.refresh_from_db()
    assert block.lottery_drawn_at is not None
    body = ops.get(changelist).content.decode()
    assert '<td class="field-reserved">1</td>' in body
    detail = ops.get(reverse("admin:dispatch_block_change", args=[block.id])).content.decode()
    assert str(block.lottery_seed) in detail  # published after the draw
    reservations = ops.get(reverse("admin:dispatch_blockreservation_changelist"))
    assert reservations.status_code == 200


@with_admin
def test_admin_cancel_asks_for_a_reason_then_releases(ops, city, now):
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10), capacity=2)
    driver = approved_driver(home_market=market)
    block_request(block, driver)
    changelist = reverse("admin:dispatch_block_changelist")
    ask = ops.post(changelist, {"action": "cancel_blocks", ACTION_CHECKBOX_NAME: [block.id]})
    assert ask.status_code == 200
    assert 'name="reason"' in ask.content.decode()
    empty = {"action": "cancel_blocks", ACTION_CHECKBOX_NAME: [block.id], "apply": "1"}
    assert ops.post(changelist, {**empty, "reason": ""}).status_code == 200
    block.refresh_from_db()
    assert block.status == Block.Status.OPEN
    done = ops.post(changelist, {**empty, "reason": "Store closed"})
    assert done.status_code == 302
    block.refresh_from_db()
    assert block.status == Block.Status.CANCELLED
    assert BlockReservation.objects.get().status == R.RELEASED

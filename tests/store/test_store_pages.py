"""The store dashboard through the HTTP client: the board, an order's actions (ready, hand-off
to the driver, return, cancel), the timeline, and proof of delivery (page, photo, CSV)."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from dispatch import services as dispatch_services
from dispatch.models import Trip
from orders.models import Order
from spark.store import selectors
from tests.store.helpers import (
    assigned_order,
    delivered_order,
    order_in,
    picked_up_order,
    returning_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, city):
    client.force_login(city.staff_a)
    return client


def _url(name, city, order=None):
    args = [city.store_a.public_id] + ([order.public_id] if order else [])
    return reverse(f"store:{name}", args=args)


def test_board_groups_todays_orders_by_stage(staff, city):
    new = order_in(city.store_a, external_order_id="NEW-1")
    ready = order_in(city.store_a, Order.Status.READY_FOR_PICKUP, external_order_id="RDY-1")
    foreign = order_in(city.store_b, external_order_id="THEIRS-1")
    html = staff.get(_url("board", city)).content.decode()
    assert "#NEW-1" in html
    assert "#RDY-1" in html
    assert foreign.external_order_id not in html  # 0 foreign rows
    board = selectors.board_for_store(store=city.store_a, now=timezone.now())
    stages = {s.key: [c.order.id for c in s.cards] for s in board.stages}
    assert stages["new"] == [new.id]
    assert stages["ready"] == [ready.id]


def test_board_shows_the_driver_and_eta_of_an_assigned_order(staff, city):
    order, _ = assigned_order(city, external_order_id="ASG-1")
    assert order.status == Order.Status.DRIVER_ASSIGNED
    assert order.pickup_eta
    html = staff.get(_url("board", city)).content.decode()
    assert "Dana" in html  # the driver's first name (factory)
    assert "Arrives" in html


def test_board_says_when_dispatch_holds_a_ready_order_to_batch_it(staff, city):
    held = order_in(city.store_a, Order.Status.READY_FOR_PICKUP, external_order_id="RDY-1")
    order_in(  # same drop-off, packed in two minutes: worth one trip with RDY-1
        city.store_a,
        external_order_id="NEW-1",
        pickup_ready_at=timezone.now() + timedelta(minutes=2),
    )
    dispatch_services.dispatch_round_run(market_id=city.market.id)

    board = selectors.board_for_store(store=city.store_a, now=timezone.now())
    assert [c.order.id for s in board.stages for c in s.cards if c.held] == [held.id]
    html = staff.get(_url("board", city)).content.decode()
    assert html.count("Held a few minutes to go with another order of this store") == 1


def test_board_polls_and_htmx_gets_only_the_board(staff, city):
    html = staff.get(_url("board", city)).content.decode()
    assert 'hx-trigger="every 5s"' in html
    partial = staff.get(_url("board", city), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="board"')
    assert "<html" not in partial


def test_board_flags_orders_waiting_too_long_and_late(city):
    order = order_in(city.store_a, Order.Status.READY_FOR_PICKUP)
    with freeze_time(timezone.now() + timedelta(minutes=20)):
        board = selectors.board_for_store(store=city.store_a, now=timezone.now())
        assert [c.flags for c in board.exceptions] == [["unassigned"]]
    with freeze_time(order.dropoff_window_end + timedelta(minutes=1)):
        board = selectors.board_for_store(store=city.store_a, now=timezone.now())
        assert "late" in board.exceptions[0].flags


def test_board_lists_undeliverable_orders_as_exceptions(staff, city):
    order, _ = returning_order(city, external_order_id="RET-1")
    board = selectors.board_for_store(store=city.store_a, now=timezone.now())
    assert [c.order.id for c in board.exceptions] == [order.id]
    assert "Confirm return" in staff.get(_url("board", city)).content.decode()


def test_mark_ready_moves_the_order_and_records_who(staff, city):
    order = order_in(city.store_a)
    response = staff.post(_url("order_ready", city, order), {"from": "board"})
    assert response.status_code == 302
    assert response["Location"] == _url("board", city)
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP
    event = order.events.last()
    assert event.actor_label == "store:staff-a"
    assert event.actor_id == city.staff_a.id


def test_mark_ready_from_the_board_with_htmx_returns_the_board(staff, city):
    order = order_in(city.store_a, external_order_id="HX-1")
    response = staff.post(
        _url("order_ready", city, order), {"from": "board"}, HTTP_HX_REQUEST="true", follow=True
    )
    assert response.status_code == 200
    assert "is ready for pickup" in response.content.decode()


def test_mark_ready_twice_shows_an_error_and_changes_nothing(staff, city):
    order = order_in(city.store_a, Order.Status.READY_FOR_PICKUP)
    response = staff.post(_url("order_ready", city, order), follow=True)
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP
    assert 'class="error"' in response.content.decode()


def test_order_page_and_board_show_the_pickup_code_to_give_the_driver(staff, city):
    order, _ = assigned_order(city)
    page = staff.get(_url("order", city, order)).content.decode()
    assert "Hand over to the driver" in page
    assert f'<strong id="pickup-code">{order.pickup_code}</strong>' in page
    assert (
        f"Pickup code <strong>{order.pickup_code}</strong>"
        in staff.get(_url("board", city)).content.decode()
    )


def test_pickup_codes_are_not_shown_before_a_driver_has_the_order(staff, city):
    order = order_in(city.store_a, Order.Status.READY_FOR_PICKUP)
    Order.objects.filter(id=order.id).update(pickup_code="9753")
    assert "9753" not in staff.get(_url("order", city, order)).content.decode()
    assert "9753" not in staff.get(_url("board", city)).content.decode()


def test_staff_confirm_the_handoff(staff, city):
    order, trip = assigned_order(city)
    response = staff.post(_url("order_handoff", city, order), {"checked": "on"})
    assert response.status_code == 302
    order.refresh_from_db()
    trip.refresh_from_db()
    assert order.status == Order.Status.PICKED_UP
    assert trip.status == Trip.Status.IN_PROGRESS
    assert order.events.filter(to_status="picked_up", actor_label="store:staff-a").exists()


def test_handoff_needs_the_driver_check(staff, city):
    order, _ = assigned_order(city)
    response = staff.post(_url("order_handoff", city, order), {})
    assert response.status_code == 422
    assert "Check the driver" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.DRIVER_ASSIGNED


def test_handoff_twice_changes_nothing_the_second_time(staff, city):
    order, _ = assigned_order(city)
    staff.post(_url("order_handoff", city, order), {"checked": "on"})
    response = staff.post(_url("order_handoff", city, order), {"checked": "on"}, follow=True)
    assert 'class="error"' in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PICKED_UP


def test_handoff_without_a_driver_says_so(staff, city):
    order = order_in(city.store_a, Order.Status.READY_FOR_PICKUP)
    response = staff.post(
        _url("order_handoff", city, order),
        {"code": order.pickup_code, "checked": "on"},
        follow=True,
    )
    assert "No driver has this order yet" in response.content.decode()


def test_confirm_return_closes_an_undeliverable_order(staff, city):
    order, trip = returning_order(city)
    page = staff.get(_url("order", city, order)).content.decode()
    assert "Confirm the order is back" in page
    assert "Nobody home, gate locked" in page  # the timeline's note
    staff.post(_url("order_return", city, order))
    order.refresh_from_db()
    trip.refresh_from_db()
    assert order.status == Order.Status.RETURNED_TO_STORE
    assert trip.status == Trip.Status.COMPLETED


def test_confirm_return_of_an_order_not_returning_changes_nothing(staff, city):
    order, _ = picked_up_order(city)
    response = staff.post(_url("order_return", city, order), follow=True)
    assert "not on its way back" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PICKED_UP


def test_cancel_needs_a_reason(staff, city):
    order = order_in(city.store_a)
    response = staff.post(_url("order_cancel", city, order), {"reason": "  "})
    assert response.status_code == 422
    order.refresh_from_db()
    assert order.status == Order.Status.CREATED


def test_cancel_with_a_reason(staff, city):
    order = order_in(city.store_a)
    staff.post(_url("order_cancel", city, order), {"reason": "Out of stock"})
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.cancel_reason == "Out of stock"


def test_cancel_after_pickup_is_refused(staff, city):
    order, _ = picked_up_order(city)
    assert "Cancel order" not in staff.get(_url("order", city, order)).content.decode()
    response = staff.post(_url("order_cancel", city, order), {"reason": "Too late"}, follow=True)
    assert 'class="error"' in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PICKED_UP


def test_order_page_shows_the_timeline(staff, city):
    order, _ = delivered_order(city)
    html = staff.get(_url("order", city, order)).content.decode()
    for label in ("New", "Ready", "Driver on the way", "Picked up", "Delivered"):
        assert label in html
    assert "Proof of delivery" in html


def test_order_page_polls_its_status(staff, city):
    order = order_in(city.store_a)
    partial = staff.get(_url("order", city, order), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section class="card" id="order-live"')


def test_proof_of_delivery_page(staff, city):
    order, _ = delivered_order(city, signature="A. Customer")
    html = staff.get(_url("order_pod", city, order)).content.decode()
    assert "A. Customer" in html
    assert "m from the address" in html
    assert _url("order_pod_photo", city, order) in html
    assert "Not required" in html  # no PIN asked for this order


def test_proof_photo_is_served_to_members_only(client, city):
    order, _ = delivered_order(city)
    url = _url("order_pod_photo", city, order)
    client.force_login(city.staff_a)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    client.force_login(city.staff_b)
    assert client.get(url).status_code == 404


def test_proof_photo_of_an_order_without_one_is_404(staff, city):
    order = order_in(city.store_a)
    assert staff.get(_url("order_pod_photo", city, order)).status_code == 404


def test_proofs_list_and_csv_export(staff, city):
    order, _ = delivered_order(city, signature="=HYPERLINK(evil)", external_order_id="POD-1")
    other, _ = returning_order(city, external_order_id="POD-2")
    html = staff.get(_url("proofs", city)).content.decode()
    assert "#POD-1" in html
    assert "#POD-2" in html
    response = staff.get(_url("proofs_csv", city))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_id = {r["external_order_id"]: r for r in rows}
    delivered = by_id["POD-1"]
    assert delivered["signature_name"] == "'=HYPERLINK(evil)"  # no formula in a spreadsheet
    assert delivered["on_time"] == "yes"
    assert float(delivered["pod_lng"]) < 0  # numbers are not quoted
    assert delivered["photo_url"].endswith(_url("order_pod_photo", city, order))
    assert by_id["POD-2"]["undeliverable_reason"] == "Nobody home, gate locked"


def test_proofs_csv_has_no_rows_of_another_store(client, city):
    delivered_order(city, external_order_id="MINE-1")
    client.force_login(city.staff_b)
    url = reverse("store:proofs_csv", args=[city.store_b.public_id])
    assert "MINE-1" not in client.get(url).content.decode()


def test_proofs_with_a_bad_range_is_400(staff, city):
    url = _url("proofs", city)
    assert staff.get(url, {"start": "2026-01-10", "end": "2026-01-01"}).status_code == 400
    assert staff.get(url, {"start": "2026-01-01", "end": "2026-03-01"}).status_code == 400
    assert staff.get(_url("proofs_csv", city), {"start": "x", "end": "y"}).status_code == 400

"""The driver's earnings pages: what they show, and BOLA: another driver's trip, statement line
or payout is 404, never someone else's money."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from payouts import selectors, services
from payouts.models import Payout
from payouts.periods import week_containing
from spark.lib.actors import Actor
from tests.factories import UserFactory
from tests.payouts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_drivers(city):
    market, store, _ = city
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    a, b = factories.driver(market), factories.driver(market)
    trips = {}
    for d in (a, b):
        trips[d.id] = factories.completed_trip(
            driver=d,
            store=store,
            tips=(300,),
            wait_minutes=20,
            completed_at=week.starts_at + timedelta(days=2),
        )
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    factories.completed_trip(driver=a, store=store)
    services.earnings_post()
    return a, b, trips, week


def test_home_shows_today_week_balance_and_instant_pay(client, two_drivers):
    a, _, _, _ = two_drivers
    client.force_login(a.user)
    response = client.get("/driver/earnings/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Today" in html
    assert "This week" in html
    assert "$11.50" in html  # today's trip, and the balance
    assert "Cash out $9.51 now" in html  # 11.50 less the 1.99 fee
    assert (
        response["Cache-Control"].startswith("max-age=0") or "private" in response["Cache-Control"]
    )


def test_trip_breakdown_shows_promise_beside_pay_and_why(client, two_drivers):
    a, _, trips, _ = two_drivers
    client.force_login(a.user)
    response = client.get(f"/driver/earnings/trips/{trips[a.id].public_id}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Wait at the store" in html
    assert "You waited 20 min" in html
    assert "Base pay" in html
    assert "$4.00" in html


def test_statement_page_and_csv_list_every_line(client, two_drivers):
    a, _, trips, week = two_drivers
    client.force_login(a.user)
    assert week.start in selectors.statement_weeks_for_driver(driver_id=a.id)
    page = client.get(f"/driver/earnings/statements/{week.start.isoformat()}/")
    assert page.status_code == 200
    assert "Weekly payout" in page.content.decode()
    response = client.get(f"/driver/earnings/statements/{week.start.isoformat()}.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:5] == ["date", "trip", "store", "kind", "line"]
    wait = [r for r in rows if r[4] == "Wait at the store"][0]
    assert (wait[5], wait[6], wait[7]) == ("$0.00", "$1.50", "$1.50")
    assert rows[-1][3] == "total"
    assert rows[-1][6] == "$13.00"


def test_payout_history_shows_the_weekly_payout(client, two_drivers):
    a, _, _, _ = two_drivers
    client.force_login(a.user)
    html = client.get("/driver/earnings/payouts/").content.decode()
    assert "Weekly payout" in html
    assert "$13.00" in html
    assert "Paid" in html


def test_instant_pay_from_the_page(client, two_drivers, django_capture_on_commit_callbacks):
    a, _, _, _ = two_drivers
    client.force_login(a.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/driver/earnings/instant-pay/", follow=True)
    assert "is on its way" in response.content.decode()
    assert Payout.objects.get(driver=a, kind="instant").status == "paid"
    again = client.post("/driver/earnings/instant-pay/", follow=True)
    assert "once a day" in again.content.decode()


def test_bola_another_drivers_trip_is_404(client, two_drivers):
    a, b, trips, _ = two_drivers
    client.force_login(a.user)
    assert client.get(f"/driver/earnings/trips/{trips[b.id].public_id}/").status_code == 404
    client.force_login(b.user)
    assert client.get(f"/driver/earnings/trips/{trips[b.id].public_id}/").status_code == 200


def test_bola_statements_only_ever_show_the_logged_in_driver(client, two_drivers):
    a, b, trips, week = two_drivers
    client.force_login(b.user)
    html = client.get(f"/driver/earnings/statements/{week.start.isoformat()}/").content.decode()
    assert str(trips[a.id].public_id) not in html
    csv_text = client.get(f"/driver/earnings/statements/{week.start.isoformat()}.csv").content
    assert str(trips[a.id].public_id).encode() not in csv_text
    assert str(trips[b.id].public_id).encode() in csv_text


@pytest.mark.parametrize(
    "url",
    [
        "/driver/earnings/",
        "/driver/earnings/statements/",
        "/driver/earnings/statements/2026-01-05/",
        "/driver/earnings/statements/2026-01-05.csv",
        "/driver/earnings/payouts/",
    ],
)
def test_not_a_driver_is_404_and_anonymous_goes_to_login(client, city, url):
    assert client.get(url).status_code == 302
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404


def test_bad_week_is_404(client, two_drivers):
    a, _, _, _ = two_drivers
    client.force_login(a.user)
    assert client.get("/driver/earnings/statements/not-a-date/").status_code == 404


def test_tip_review_is_shown_to_the_driver(client, two_drivers):
    a, _, trips, _ = two_drivers
    order = trips[a.id].stops.get().order
    review = services.tip_review_request(
        order_id=order.id,
        tip_cents=100,
        reason="Customer complaint about lateness",
        actor=Actor.user(UserFactory(), "ops"),
    )
    services.tip_review_decide(
        review_id=review.id, approve=True, note="Checked", actor=Actor.user(UserFactory(), "ops")
    )
    client.force_login(a.user)
    assert "Customer complaint about lateness" in client.get("/driver/earnings/").content.decode()
    html = client.get(f"/driver/earnings/trips/{trips[a.id].public_id}/").content.decode()
    assert "Customer complaint about lateness" in html

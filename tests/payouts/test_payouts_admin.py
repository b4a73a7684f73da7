"""Ops pages: adjustments need a reason and record the author; ledger per driver; batches,
failed payouts to retry, tip reviews, the reconciliation report and the tax CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from payouts import services
from payouts.models import Earning, Payout, PayoutBatch, ReconciliationRun, TipReview
from payouts.periods import week_containing
from tests.payouts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(city):
    market, store, _ = city
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    driver = factories.driver(market)
    trip = factories.completed_trip(
        driver=driver, store=store, completed_at=week.starts_at + timedelta(days=1)
    )
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    return driver, trip, week


def test_ledger_page_and_adjustment_with_reason_and_author(admin_client, admin_user, settled):
    driver, _, _ = settled
    url = reverse("admin:payouts_driver_ledger", args=[driver.id])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "payout:" in page.content.decode()
    assert admin_client.post(url, {"amount": "5.00", "reason": "", "key": "k1"}).status_code == 200
    assert not Earning.objects.filter(kind="adjustment").exists()
    admin_client.post(url, {"amount": "5.00", "reason": "Long wait at store 12", "key": "k1"})
    admin_client.post(url, {"amount": "5.00", "reason": "Long wait at store 12", "key": "k1"})
    adjustment = Earning.objects.get(kind="adjustment")
    assert (adjustment.total_cents, adjustment.author_id) == (500, admin_user.id)
    assert adjustment.journal_transaction.reason == "Long wait at store 12"


def test_batch_tax_and_reconciliation_pages(admin_client, settled):
    _, _, week = settled
    assert admin_client.get(reverse("admin:payouts_payoutbatch_changelist")).status_code == 200
    batch = PayoutBatch.objects.get()
    assert (
        admin_client.get(reverse("admin:payouts_payoutbatch_change", args=[batch.id])).status_code
        == 200
    )
    response = admin_client.get(reverse("admin:payouts_tax_summary"), {"year": week.start.year})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][5] == "nonemployee_compensation"
    assert len(rows) == 1  # $11.50 is under the $600 threshold
    response = admin_client.post(reverse("admin:payouts_reconciliation_run"), follow=True)
    assert response.status_code == 200
    assert ReconciliationRun.objects.get().alerts_count == 0
    assert (
        admin_client.get(reverse("admin:payouts_reconciliationrun_changelist")).status_code == 200
    )


def test_tax_summary_lists_drivers_at_the_threshold(admin_client, settled, settings):
    driver, _, week = settled
    settings.PAYOUTS_TAX_THRESHOLD_CENTS = 1150
    response = admin_client.get(reverse("admin:payouts_tax_summary"), {"year": week.start.year})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][1] == str(driver.id)
    assert rows[1][5] == "11.50"


def test_failed_payout_retry_action_asks_for_a_reason(
    admin_client, city, settings, django_capture_on_commit_callbacks
):
    market, store, _ = city
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    driver = factories.driver(market)
    factories.completed_trip(
        driver=driver, store=store, completed_at=week.starts_at + timedelta(days=1)
    )
    settings.PAYOUTS_SANDBOX_FAIL_WITH = "account_closed"
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    settings.PAYOUTS_SANDBOX_FAIL_WITH = ""
    failed = Payout.objects.get()
    url = reverse("admin:payouts_payout_changelist")
    data = {"action": "retry", "_selected_action": [failed.id]}
    assert "Reason" in admin_client.post(url, data).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {**data, "apply": "1", "reason": "Bank fixed"})
    assert Payout.objects.get(retry_of=failed).status == "paid"


def test_tip_review_request_and_decision_in_admin(admin_client, settled, django_user_model):
    from django.contrib.auth.models import Permission

    driver, trip, _ = settled
    order = trip.stops.get().order
    response = admin_client.post(
        reverse("admin:payouts_tipreview_add"),
        {"order_id": order.id, "new_tip": "1.00", "reason": "Chargeback"},
    )
    assert response.status_code == 302
    review = TipReview.objects.get()
    reviewer = django_user_model.objects.create_user("rev", password="pw", is_staff=True)
    reviewer.user_permissions.add(*Permission.objects.filter(content_type__app_label="payouts"))
    admin_client.force_login(reviewer)
    url = reverse("admin:payouts_tipreview_changelist")
    admin_client.post(
        url,
        {
            "action": "decide",
            "_selected_action": [review.id],
            "apply": "1",
            "approve": "1",
            "reason": "Confirmed with the bank",
        },
    )
    review.refresh_from_db()
    assert review.status == "approved"
    assert Earning.objects.get(kind="tip_change").tip_cents == -200

"""Payout providers: the sandbox (one transfer per key, can fail on demand) and the Stripe
Connect client against recorded responses (requests patched at the adapter: no network)."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from payouts import providers, services
from payouts.models import Payout, SandboxTransfer
from payouts.periods import week_containing
from payouts.providers import ProviderUnavailable, StripeProvider, TransferRequest
from payouts.providers import TransferStatus as TS
from spark.lib import clock
from tests.payouts import factories

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
BASE = "https://api.stripe.test"
KEY = "payout-7d0f3c1e-5b8a-4c2f-9e61-0a1b2c3d4e5f"
REQUEST = TransferRequest(KEY, "acct_1OwXyZ2eZvKYlo2C", 2300, "USD", "Spark driver payout")


def recorded(name: str, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (FIXTURES / name).read_bytes()
    response.headers["Content-Type"] = "application/json"
    return response


class Recorder:
    """Stands in for Session.request: answers in turn and keeps what was sent."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def __call__(self, session, method, url, **kwargs):
        self.calls.append(
            {"method": method, "url": url, "session": dict(session.headers), **kwargs}
        )
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def stripe(monkeypatch):
    def install(*answers):
        recorder = Recorder(*answers)

        def request(session, method, url, **kwargs):
            return recorder(session, method, url, **kwargs)

        monkeypatch.setattr(requests.Session, "request", request)
        return recorder

    return install


@pytest.fixture
def client():
    return StripeProvider(api_key="sk_test_123", base_url=BASE)


def test_sandbox_records_one_transfer_and_refuses_a_repeated_key(db):
    sandbox = providers.SandboxProvider()
    first = sandbox.transfer_many([REQUEST])[0]
    assert first.status == TS.PAID
    assert first.transfer_id.startswith("tr_sbx_")
    again = sandbox.transfer_many([REQUEST])[0]
    assert again.status == TS.DUPLICATE
    assert SandboxTransfer.objects.count() == 1
    found = sandbox.transfer_find(idempotency_key=KEY)
    assert (found.transfer_id, found.amount_cents) == (first.transfer_id, 2300)


def test_sandbox_can_be_told_to_fail(db):
    assert (
        providers.SandboxProvider(fail_with="account_closed").transfer_many([REQUEST])[0].status
        == TS.FAILED
    )
    picky = providers.SandboxProvider(fail_destinations=["acct_bad"])
    bad = TransferRequest("k2", "acct_bad", 100, "USD")
    good = TransferRequest("k3", "acct_good", 100, "USD")
    assert [r.status for r in picky.transfer_many([bad, good])] == [TS.FAILED, TS.PAID]


def test_stripe_transfer_sends_the_key_and_the_amount(stripe, client):
    recorder = stripe(recorded("transfer_created.json"))
    result = client.transfer(REQUEST)
    assert (result.status, result.transfer_id) == (TS.PAID, "tr_1PGAbc2eZvKYlo2C0xYz1234")
    call = recorder.calls[0]
    assert (call["method"], call["url"]) == ("POST", f"{BASE}/v1/transfers")
    assert call["session"]["Authorization"] == "Bearer sk_test_123"
    assert call["session"]["Stripe-Version"]
    assert call["headers"] == {"Idempotency-Key": KEY}
    sent = call["data"]
    assert (sent["amount"], sent["currency"], sent["destination"]) == (
        2300,
        "usd",
        "acct_1OwXyZ2eZvKYlo2C",
    )
    assert sent["transfer_group"] == KEY


def test_stripe_refusal_is_a_failed_transfer(stripe, client):
    stripe(recorded("balance_insufficient.json", 400))
    result = client.transfer(REQUEST)
    assert (result.status, result.failure_reason) == (TS.FAILED, "balance_insufficient")


def test_stripe_idempotency_error_is_a_duplicate(stripe, client):
    stripe(recorded("idempotency_error.json", 400))
    assert client.transfer(REQUEST).status == TS.DUPLICATE


@pytest.mark.parametrize(
    "answer",
    [
        recorded("rate_limit.json", 429),
        recorded("api_error.json", 500),
        requests.ConnectionError("reset"),
    ],
)
def test_stripe_outage_is_retryable_never_failed(stripe, client, answer):
    stripe(answer)
    with pytest.raises(ProviderUnavailable):
        client.transfer(REQUEST)
    stripe(answer)
    assert client.transfer_many([REQUEST])[0].status == TS.ERROR


def test_stripe_without_a_connected_account_fails_without_calling(stripe, client):
    recorder = stripe()
    result = client.transfer(TransferRequest(KEY, "", 100, "USD"))
    assert result.status == TS.FAILED
    assert not recorder.calls


def test_stripe_find_and_list(stripe, client):
    recorder = stripe(recorded("transfer_list_found.json"), recorded("transfer_list_empty.json"))
    assert client.transfer_find(idempotency_key=KEY).transfer_id == "tr_1PGAbc2eZvKYlo2C0xYz1234"
    assert recorder.calls[0]["params"]["transfer_group"] == KEY
    assert client.transfer_find(idempotency_key="payout-other") is None
    recorder = stripe(recorded("transfer_list_page1.json"), recorded("transfer_list_page2.json"))
    records = client.transfers_list(since=timezone.now() - timedelta(days=35))
    assert [r.amount_cents for r in records] == [2300, 1150, 999]
    assert records[2].status == TS.FAILED  # reversed
    assert recorder.calls[1]["params"]["starting_after"] == "tr_1PGAbd2eZvKYlo2C5551111"


def test_settlement_through_stripe_pays_and_retries_an_outage_with_the_same_key(
    city, stripe, settings
):
    market, store, _ = city
    settings.PAYOUTS_PROVIDER, settings.STRIPE_API_KEY = "stripe", "sk_test_123"
    settings.STRIPE_API_BASE = BASE
    driver = factories.driver(market)
    services.payout_account_set(
        driver_id=driver.id, provider="stripe", external_account_id="acct_1OwXyZ2eZvKYlo2C"
    )
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    factories.completed_trip(
        driver=driver, store=store, completed_at=week.starts_at + timedelta(days=1)
    )
    recorder = stripe(recorded("api_error.json", 500))
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    payout = Payout.objects.get()
    assert (payout.status, payout.destination, payout.attempts) == (
        "pending",
        "acct_1OwXyZ2eZvKYlo2C",
        1,
    )
    later = timezone.now() + timedelta(minutes=10)
    recorder = stripe(recorded("transfer_list_empty.json"), recorded("transfer_created.json"))
    with clock.use_clock(lambda: later):
        services.payouts_resume()
    payout.refresh_from_db()
    assert payout.status == "paid"
    sent = recorder.calls[1]
    assert sent["data"]["transfer_group"] == payout.idempotency_key


def test_stripe_flag_without_a_key_stops_the_start():
    env = {**os.environ, "USE_STRIPE_PAYOUTS": "true", "DJANGO_SETTINGS_MODULE": "spark.settings"}
    env.pop("STRIPE_API_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert result.returncode != 0
    assert "STRIPE_API_KEY" in result.stderr

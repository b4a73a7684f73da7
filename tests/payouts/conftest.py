"""A market with a rate card and a store; payouts go through the sandbox provider."""

import pytest

from tests.factories import MarketFactory, MerchantFactory, StoreFactory
from tests.payouts import factories


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PAYOUTS_PROVIDER = "sandbox"
    settings.PAYOUTS_SANDBOX_FAIL_WITH = ""
    settings.PAYOUTS_SANDBOX_FAIL_DESTINATIONS = ()


@pytest.fixture
def city(db):
    market = MarketFactory(timezone="America/Chicago")
    card = factories.rate_card(market)
    store = StoreFactory(market=market, merchant=MerchantFactory())
    return market, store, card

"""A small city for dispatch tests: a market with a rate card, a store, online drivers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.models import RateCard
from tests.drivers.factories import approved_driver
from tests.factories import MarketFactory, MerchantFactory, StoreFactory

STORE = (36.1627, -86.7816)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def city(db):
    market = MarketFactory()
    RateCard.objects.create(market=market, effective_from=timezone.now() - timedelta(days=1))
    store = StoreFactory(market=market, merchant=MerchantFactory(), lat=STORE[0], lng=STORE[1])
    return market, store


def online_driver(market, lat=STORE[0] + 0.01, lng=STORE[1], **kwargs):
    driver = approved_driver(home_market=market, **kwargs)
    services.driver_go_online(driver_id=driver.id, lat=lat, lng=lng)
    return driver


@pytest.fixture
def now():
    """A fake clock at a Wednesday noon, for the block tests (a test may advance it)."""
    from spark.lib import clock
    from tests.dispatch.block_helpers import FakeClock, _wednesday_noon

    fake = FakeClock(_wednesday_noon())
    with clock.use_clock(fake):
        yield fake

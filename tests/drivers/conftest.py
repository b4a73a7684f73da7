"""Driver tests: private media in a temporary folder, the sandbox without delay."""

import pytest

from tests.drivers import factories


@pytest.fixture(autouse=True)
def _driver_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"
    settings.SCREENING_SANDBOX_DELAY_SECONDS = 0
    settings.SCREENING_SANDBOX_DELIVERY = "inprocess"
    settings.SCREENING_SANDBOX_ENABLED = True
    settings.USE_CHECKR = False
    settings.SCREENING_PROVIDER = "sandbox"


@pytest.fixture
def driver(db):
    return factories.DriverFactory()


@pytest.fixture
def approved_driver(db):
    return factories.approved_driver()


@pytest.fixture
def ops_user(db):
    return factories.DriverUserFactory(is_staff=True, is_superuser=True, username="ops-tester")

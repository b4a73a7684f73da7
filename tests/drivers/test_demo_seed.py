import pytest

from drivers import demo, selectors
from drivers.models import Appeal, Driver, DriverEvent
from tests.factories import MarketFactory

pytestmark = pytest.mark.django_db


def test_seed_drivers_covers_every_state_idempotently(
    django_capture_on_commit_callbacks, mailoutbox
):
    MarketFactory(slug="nashville", name="Nashville")
    MarketFactory(slug="new-orleans", name="New Orleans")
    with django_capture_on_commit_callbacks(execute=True):
        first = demo.seed_drivers()
    counts = (Driver.objects.count(), DriverEvent.objects.count(), Appeal.objects.count())
    second = demo.seed_drivers()

    assert first == second
    assert (Driver.objects.count(), DriverEvent.objects.count(), Appeal.objects.count()) == counts
    assert {status for status, _, _ in first} == set(Driver.Status.values)
    approved = Driver.objects.filter(status="approved", home_market__slug="nashville")
    assert selectors.driver_list_eligible(ids=approved.values_list("id", flat=True)) == sorted(
        approved.values_list("id", flat=True)
    )
    assert approved.count() == 3
    assert Appeal.objects.get().driver.status == "suspended"
    assert mailoutbox == []  # demo people get no e-mail

import datetime as dt

import pytest

from drivers import selectors, services
from drivers.models import Appeal, Driver
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, NotFound, Unprocessable
from tests.drivers import factories

pytestmark = pytest.mark.django_db

OPS = Actor(label="ops:tester")
TEXT = "I was at the store the whole time; the order went to the wrong door by the app's pin."


def _suspended():
    driver = factories.approved_driver()
    services.driver_suspend(driver_id=driver.id, actor=OPS, reason="Missing order", evidence="T-9")
    return driver, selectors.driver_event_last_status_change(driver_id=driver.id)


def _file(driver, event, text=TEXT):
    return services.appeal_file(
        driver_id=driver.id, event_id=event.id, text=text, actor=Actor(label="driver:x")
    )


def test_appeal_file_records_the_appeal_and_an_event():
    driver, decision = _suspended()
    appeal = _file(driver, decision)
    assert (appeal.status, appeal.event_id) == ("open", decision.id)
    assert driver.events.filter(code="appeal_filed").exists()
    assert selectors.driver_event_appealable(driver=driver) is None


def test_one_appeal_per_decision():
    driver, decision = _suspended()
    _file(driver, decision)
    with pytest.raises(Conflict):
        _file(driver, decision)
    assert Appeal.objects.count() == 1


def test_appeal_against_another_drivers_decision_is_not_found():
    driver, decision = _suspended()
    other = factories.driver_in(Driver.Status.SUSPENDED)
    with pytest.raises(NotFound):
        _file(other, decision)


def test_only_the_decision_in_force_can_be_appealed():
    driver, first = _suspended()
    services.driver_approve(driver_id=driver.id, actor=OPS, reason="Resolved")
    with pytest.raises(Conflict):
        _file(driver, first)  # lifted already
    with pytest.raises(Unprocessable):
        _file(driver, first, text="short")


def test_overturn_reinstates_and_is_logged(django_capture_on_commit_callbacks, mailoutbox):
    driver, decision = _suspended()
    appeal = _file(driver, decision)
    with django_capture_on_commit_callbacks(execute=True):
        services.appeal_decide(appeal_id=appeal.id, actor=OPS, overturn=True, note="Pin was wrong")
    driver.refresh_from_db()
    appeal.refresh_from_db()
    assert driver.status == Driver.Status.APPROVED
    assert (appeal.status, appeal.decision_note) == ("overturned", "Pin was wrong")
    event = driver.events.get(code="appeal_overturned")
    assert (event.from_status, event.to_status) == ("suspended", "approved")
    assert mailoutbox[-1].subject == "Your appeal was successful"


def test_overturned_deactivation_brings_the_driver_back():
    driver = factories.approved_driver()
    services.driver_deactivate(driver_id=driver.id, actor=OPS, reason="Fraud", evidence="T-1")
    decision = selectors.driver_event_last_status_change(driver_id=driver.id)
    appeal = _file(driver, decision)
    services.appeal_decide(appeal_id=appeal.id, actor=OPS, overturn=True, note="Mistaken id")
    driver.refresh_from_db()
    assert driver.status == Driver.Status.APPROVED


def test_uphold_keeps_status_and_is_logged_and_decided_once():
    driver, decision = _suspended()
    appeal = _file(driver, decision)
    with pytest.raises(Unprocessable):
        services.appeal_decide(appeal_id=appeal.id, actor=OPS, overturn=False, note="")
    services.appeal_decide(appeal_id=appeal.id, actor=OPS, overturn=False, note="Photos show it")
    driver.refresh_from_db()
    assert driver.status == Driver.Status.SUSPENDED
    assert driver.events.filter(code="appeal_upheld", reason="Photos show it").exists()
    with pytest.raises(Conflict):
        services.appeal_decide(appeal_id=appeal.id, actor=OPS, overturn=True, note="again")


def test_open_queue_is_oldest_first():
    older_driver, older_decision = _suspended()
    newer_driver, newer_decision = _suspended()
    two_days_ago = clock.now() - dt.timedelta(days=2)
    with clock.use_clock(lambda: two_days_ago):
        older = _file(older_driver, older_decision)
    newer = _file(newer_driver, newer_decision)
    assert list(selectors.appeal_list_open()) == [older, newer]

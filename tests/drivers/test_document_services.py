import datetime as dt

import pytest

from drivers import selectors, services
from drivers.models import Document, Driver, DriverEvent
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, Unprocessable
from tests.drivers import factories

pytestmark = pytest.mark.django_db

OPS = Actor(label="ops:tester")


def TODAY():  # noqa: N802
    return clock.now().date()


def _expiring(driver, kind, days):
    doc = driver.documents.get(kind=kind)
    doc.expires_on = TODAY() + dt.timedelta(days=days)
    doc.save(update_fields=["expires_on"])
    return doc


def test_document_reject_needs_a_reason_and_tells_the_driver(
    django_capture_on_commit_callbacks, mailoutbox
):
    driver = factories.driver_in(Driver.Status.SCREENING)
    doc = driver.documents.get(kind="insurance")
    with pytest.raises(Unprocessable):
        services.document_reject(document_id=doc.id, actor=OPS, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        services.document_reject(document_id=doc.id, actor=OPS, reason="The photo is blurred")
    doc.refresh_from_db()
    assert doc.status == "rejected"
    assert doc.reject_reason == "The photo is blurred"
    assert "blurred" in mailoutbox[0].body
    assert "insurance" in selectors.document_kinds_missing(driver_id=driver.id)[0].lower()


def test_document_approve_refuses_expired_or_already_decided_documents():
    driver = factories.driver_in(Driver.Status.SCREENING)
    doc = _expiring(driver, "insurance", -1)
    with pytest.raises(Conflict):
        services.document_approve(document_id=doc.id, actor=OPS)
    approved = factories.DocumentFactory(driver=factories.DriverFactory())
    with pytest.raises(Conflict):
        services.document_approve(document_id=approved.id, actor=OPS)


def test_expiry_sweep_reminds_once_30_days_ahead(django_capture_on_commit_callbacks, mailoutbox):
    driver = factories.approved_driver()
    _expiring(driver, "insurance", 30)
    _expiring(driver, "registration", 31)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.documents_expiry_sweep() == {"reminded": 1, "suspended": 0}
        assert services.documents_expiry_sweep() == {"reminded": 0, "suspended": 0}
    assert [m.subject for m in mailoutbox] == ["A document expires soon"]
    assert DriverEvent.objects.filter(driver=driver, code="document_expiring").count() == 1


def test_expiry_sweep_suspends_driver_with_expired_document(
    django_capture_on_commit_callbacks, mailoutbox
):
    driver = factories.approved_driver()
    doc = _expiring(driver, "licence", -1)
    assert not selectors.driver_can_go_online(driver_id=driver.id)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.documents_expiry_sweep()["suspended"] == 1
        assert services.documents_expiry_sweep()["suspended"] == 0
    driver.refresh_from_db()
    assert driver.status == Driver.Status.SUSPENDED
    event = driver.events.get(to_status=Driver.Status.SUSPENDED)
    assert event.code == "document_expired"
    assert "licence expired" in event.reason
    assert str(doc.public_id) in event.evidence
    assert event.actor_label == "system:documents"
    assert "suspended: a document expired" in mailoutbox[-1].subject


def test_approving_the_replacement_reinstates_a_driver_suspended_for_expiry():
    driver = factories.approved_driver()
    _expiring(driver, "licence", -1)
    services.documents_expiry_sweep()
    from django.core.files.base import ContentFile

    from tests.drivers import files

    new = services.document_upload(
        driver_id=driver.id,
        actor=OPS,
        kind="licence",
        file=ContentFile(files.png()),
        expires_on=TODAY() + dt.timedelta(days=900),
        licence_number="D999-0000",
    )
    services.document_approve(document_id=new.id, actor=OPS, reason="Renewed licence")
    driver.refresh_from_db()
    assert driver.status == Driver.Status.APPROVED
    assert selectors.driver_can_go_online(driver_id=driver.id)


def test_approving_a_document_does_not_reinstate_a_driver_suspended_by_ops():
    driver = factories.approved_driver()
    services.driver_suspend(driver_id=driver.id, actor=OPS, reason="Complaint", evidence="T-1")
    doc = driver.documents.get(kind="insurance")
    doc.status = Document.Status.PENDING
    doc.save(update_fields=["status"])
    services.document_approve(document_id=doc.id, actor=OPS, reason="ok")
    driver.refresh_from_db()
    assert driver.status == Driver.Status.SUSPENDED


def test_expired_documents_of_drivers_not_yet_approved_do_not_suspend():
    driver = factories.driver_in(Driver.Status.SCREENING)
    _expiring(driver, "licence", -3)
    assert services.documents_expiry_sweep()["suspended"] == 0


def test_eligibility_needs_approved_status_and_valid_documents():
    ok = factories.approved_driver()
    pending = factories.approved_driver()
    Document.objects.filter(driver=pending, kind="insurance").update(status="pending")
    expired = factories.approved_driver()
    _expiring(expired, "registration", -1)
    expires_today = factories.approved_driver()
    _expiring(expires_today, "registration", 0)
    suspended = factories.driver_in(Driver.Status.SUSPENDED)
    missing = factories.approved_driver()
    Document.objects.filter(driver=missing, kind="licence").update(is_current=False)
    ids = [d.id for d in (ok, pending, expired, expires_today, suspended, missing)]

    assert selectors.driver_list_eligible(ids=ids) == sorted([ok.id, expires_today.id])
    assert selectors.driver_can_go_online(driver_id=ok.id)
    assert not selectors.driver_can_go_online(driver_id=suspended.id)


def test_dispatch_profile_carries_preferences_and_capacity():
    driver = factories.approved_driver(is_21_plus=False, no_alcohol=True, max_pickup_km=9.5)
    driver.vehicle.cargo_capacity_units = 30
    driver.vehicle.save()
    profile = selectors.driver_get_dispatch_profile(driver_id=driver.id)
    assert profile == selectors.DriverDispatchProfile(
        id=driver.id,
        home_market_id=driver.home_market_id,
        is_21_plus=False,
        no_alcohol=True,
        max_pickup_km=9.5,
        min_pay_cents_per_mile=0,
        capacity_units=30,
    )
    assert not profile.may_carry_alcohol
    assert selectors.driver_list_dispatch_profiles(ids=[driver.id]) == [profile]
    assert selectors.driver_get_for_user(user_id=driver.user_id) == driver


def test_eligibility_uses_one_query(django_assert_num_queries):
    drivers = [factories.approved_driver() for _ in range(3)]
    with django_assert_num_queries(1):
        selectors.driver_list_eligible(ids=[d.id for d in drivers])
    with django_assert_num_queries(1):
        selectors.driver_list_dispatch_profiles(ids=[d.id for d in drivers])


def test_clock_drives_eligibility():
    driver = factories.approved_driver()
    _expiring(driver, "insurance", 10)
    later = clock.now() + dt.timedelta(days=11)
    with clock.use_clock(lambda: later):
        assert not selectors.driver_can_go_online(driver_id=driver.id)
    assert selectors.driver_can_go_online(driver_id=driver.id)

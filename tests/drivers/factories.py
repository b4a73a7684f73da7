"""Driver factories for plain rows, and helpers that build whole drivers in a given state.

State with invariants (transitions, events) is built through services in the service tests;
these helpers are for tests that need a driver *in* a state, e.g. dispatch or page tests.
"""

import datetime as dt

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from drivers.models import BackgroundCheck, Document, Driver, DriverEvent, Vehicle
from tests.drivers import files
from tests.factories import MarketFactory, UserFactory

__all__ = ["UserFactory"]


class DriverUserFactory(UserFactory):
    """UserFactory whose password is saved too (the base factory sets it in memory only, so
    force_login()'s session hash would not match the row)."""

    username = factory.Sequence(lambda n: f"driver{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)

    @factory.post_generation
    def persist_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save(update_fields=["password"])


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver

    user = factory.SubFactory(
        DriverUserFactory,
        first_name="Dana",
        last_name=factory.Sequence(lambda n: f"Driver{n}"),
    )
    home_market = factory.SubFactory(MarketFactory)
    phone = "+1 615 555 0100"
    status = Driver.Status.APPLIED
    is_21_plus = True
    age_attested_at = factory.LazyFunction(timezone.now)


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    driver = factory.SubFactory(DriverFactory)
    make = "Toyota"
    model = "Corolla"
    year = 2019
    type = Vehicle.Type.CAR
    cargo_capacity_units = 12


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    driver = factory.SubFactory(DriverFactory)
    kind = Document.Kind.INSURANCE
    file = factory.LazyFunction(lambda: ContentFile(files.png(), name="test.png"))
    content_type = "image/png"
    size_bytes = 100
    sha256 = "0" * 64
    expires_on = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=365))
    status = Document.Status.APPROVED
    licence_number = factory.LazyAttribute(
        lambda d: "D1234-5678" if d.kind == Document.Kind.LICENCE else ""
    )


class BackgroundCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackgroundCheck

    driver = factory.SubFactory(DriverFactory)
    provider = "sandbox"
    package = "driver_pro"
    candidate_id = factory.Sequence(lambda n: f"sbx_cand_{n:06d}")
    invitation_id = factory.Sequence(lambda n: f"sbx_inv_{n:06d}")
    invitation_url = "http://127.0.0.1:8000/driver/screening/sandbox/x/"
    status = BackgroundCheck.Status.INVITED


def documents_for(driver: Driver, status: str = Document.Status.APPROVED, **kwargs) -> None:
    for kind in Document.REQUIRED:
        DocumentFactory(driver=driver, kind=kind, status=status, **kwargs)


def driver_in(status: str, **kwargs) -> Driver:
    """A driver in `status`, with what that status implies (vehicle, documents, check) and a
    status event that explains how they got there."""
    driver = DriverFactory(status=status, **kwargs)
    if status != Driver.Status.APPLIED:
        VehicleFactory(driver=driver)
    if status in (
        Driver.Status.SCREENING,
        Driver.Status.APPROVED,
        Driver.Status.SUSPENDED,
        Driver.Status.DEACTIVATED,
        Driver.Status.REJECTED,
    ):
        approved = status != Driver.Status.SCREENING
        documents_for(driver, Document.Status.APPROVED if approved else Document.Status.PENDING)
        BackgroundCheckFactory(
            driver=driver,
            status=BackgroundCheck.Status.COMPLETE,
            result="consider" if status == Driver.Status.REJECTED else "clear",
            adjudication="adverse_action" if status == Driver.Status.REJECTED else "engaged",
        )
    if status != Driver.Status.APPLIED:
        DriverEvent.objects.create(
            driver=driver,
            from_status=Driver.Status.APPROVED
            if status in ("suspended", "deactivated")
            else Driver.Status.APPLIED,
            to_status=status,
            actor_label="ops:tester",
            reason=f"Test reason for {status}.",
            evidence="Ticket 42" if status in ("suspended", "deactivated") else "",
            at=timezone.now(),
        )
    return driver


def approved_driver(**kwargs) -> Driver:
    return driver_in(Driver.Status.APPROVED, **kwargs)

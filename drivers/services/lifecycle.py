"""The driver's lifecycle: sign-up, profile and vehicle, the one transition function, ops
decisions (approve, suspend, deactivate, reject) and the e-mail that follows every event."""

import logging
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from drivers import selectors, tasks
from drivers.models import Driver, DriverEvent, Vehicle
from orders import selectors as order_selectors
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, InvalidTransition, NotFound, Unprocessable

logger = logging.getLogger(__name__)
S = Driver.Status
# A driver who was rejected or deactivated can no longer change their application.
CLOSED = frozenset({S.REJECTED, S.DEACTIVATED})


def _driver_transition(
    driver: Driver,
    *,
    to: str,
    actor: Actor,
    reason: str = "",
    evidence: str = "",
    code: str = DriverEvent.Code.STATUS,
) -> DriverEvent:
    """The only writer of Driver.status. The caller holds the driver's row lock."""
    if to not in Driver.TRANSITIONS[driver.status]:
        raise InvalidTransition(
            f"Driver {driver.id}: {driver.status} -> {to}", current_status=driver.status
        )
    event = _event_record(driver, code=code, actor=actor, reason=reason, evidence=evidence, to=to)
    driver.status, driver.status_changed_at = to, event.at
    driver.save(update_fields=["status", "status_changed_at", "updated_at"])
    return event


def _event_record(
    driver: Driver,
    *,
    code: str,
    actor: Actor,
    reason: str = "",
    evidence: str = "",
    to: str | None = None,
) -> DriverEvent:
    """Append to the audit trail; the driver is e-mailed once the transaction commits."""
    event = DriverEvent.objects.create(
        driver=driver,
        code=code,
        from_status=driver.status,
        to_status=to or driver.status,
        actor_label=actor.label,
        actor_user_id=actor.user_id,
        reason=reason,
        evidence=evidence,
        at=clock.now(),
    )
    transaction.on_commit(partial(tasks.driver_event_notify.delay, event.id))
    return event


def _lock(driver_id: int) -> Driver:
    driver = Driver.objects.select_for_update().filter(id=driver_id).first()
    if driver is None:
        raise NotFound("No such driver.")
    return driver


def _advance(driver: Driver, *, actor: Actor) -> None:
    """Applied -> documents_pending once the profile and the vehicle are complete."""
    if driver.status == S.APPLIED and driver.has_profile() and _has_vehicle(driver):
        _driver_transition(
            driver,
            to=S.DOCUMENTS_PENDING,
            actor=actor,
            reason="Profile and vehicle complete; next, your documents.",
        )


def _has_vehicle(driver: Driver) -> bool:
    return Vehicle.objects.filter(driver_id=driver.id).exists()


def _try_approve(driver: Driver, *, actor: Actor) -> bool:
    """Screening -> approved when the check is engaged and every document is approved."""
    if driver.status != S.SCREENING or not selectors.driver_documents_valid(driver_id=driver.id):
        return False
    check = selectors.background_check_latest(driver_id=driver.id)
    if check is None or check.adjudication != check.Adjudication.ENGAGED:
        return False
    _driver_transition(
        driver,
        to=S.APPROVED,
        actor=actor,
        reason="Background check and documents approved. Welcome to Spark!",
    )
    return True


@transaction.atomic
def driver_signup(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone: str,
    home_market_id: int,
) -> Driver:
    email = email.strip().lower()
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=email).exists():
        raise Conflict("An account with this e-mail already exists.", code="email_taken")
    if not order_selectors.market_list().filter(id=home_market_id).exists():
        raise Unprocessable("Choose one of the markets Spark serves.", code="market_invalid")
    user = user_model.objects.create_user(
        username=email, email=email, password=password, first_name=first_name, last_name=last_name
    )
    driver = Driver.objects.create(user=user, home_market_id=home_market_id, phone=phone)
    _event_record(
        driver,
        code=DriverEvent.Code.STATUS,
        actor=Actor.user(user, role="driver"),
        reason="Welcome! Next: your profile and your vehicle.",
    )
    return driver


@transaction.atomic
def driver_profile_update(
    *,
    driver_id: int,
    actor: Actor,
    phone: str,
    home_market_id: int,
    is_21_plus: bool,
    age_attested: bool,
    max_pickup_km: float | None,
    min_pay_cents_per_mile: int,
    no_alcohol: bool,
) -> Driver:
    """`age_attested`: the driver has just confirmed their age statement (dated, no DOB)."""
    driver = _lock(driver_id)
    if driver.status in CLOSED:
        raise Conflict("This account is closed.", code="driver_closed")
    if not order_selectors.market_list().filter(id=home_market_id).exists():
        raise Unprocessable("Choose one of the markets Spark serves.", code="market_invalid")
    if max_pickup_km is not None and max_pickup_km <= 0:
        raise Unprocessable("The pickup distance must be positive.", code="invalid_preference")
    if age_attested:
        driver.is_21_plus, driver.age_attested_at = is_21_plus, clock.now()
    driver.phone, driver.home_market_id = phone.strip(), home_market_id
    driver.max_pickup_km, driver.no_alcohol = max_pickup_km, no_alcohol
    driver.min_pay_cents_per_mile = max(0, min_pay_cents_per_mile)
    driver.save(
        update_fields=[
            "phone",
            "home_market",
            "is_21_plus",
            "age_attested_at",
            "max_pickup_km",
            "min_pay_cents_per_mile",
            "no_alcohol",
            "updated_at",
        ]
    )
    _advance(driver, actor=actor)
    return driver


@transaction.atomic
def vehicle_save(
    *,
    driver_id: int,
    actor: Actor,
    make: str,
    model: str,
    year: int,
    vehicle_type: str,
    cargo_capacity_units: int | None = None,
    plate: str = "",
) -> Vehicle:
    driver = _lock(driver_id)
    if driver.status in CLOSED:
        raise Conflict("This account is closed.", code="driver_closed")
    if vehicle_type not in Vehicle.Type.values:
        raise Unprocessable("Unknown vehicle type.", code="invalid_vehicle")
    if not 1980 <= year <= clock.now().year + 1:
        raise Unprocessable("Enter the vehicle's model year.", code="invalid_vehicle")
    capacity = cargo_capacity_units or Vehicle.DEFAULT_CAPACITY[vehicle_type]
    vehicle, _ = Vehicle.objects.update_or_create(
        driver=driver,
        defaults={
            "make": make.strip(),
            "model": model.strip(),
            "year": year,
            "type": vehicle_type,
            "cargo_capacity_units": max(1, capacity),
            "plate": plate.strip().upper(),
        },
    )
    _advance(driver, actor=actor)
    return vehicle


def _require(reason: str, evidence: str | None = None) -> None:
    if not reason.strip():
        raise Unprocessable("Give the reason for this decision.", code="reason_required")
    if evidence is not None and not evidence.strip():
        raise Unprocessable("Record the evidence this decision rests on.", code="evidence_required")


@transaction.atomic
def driver_approve(*, driver_id: int, actor: Actor, reason: str) -> Driver:
    """Ops: reinstate a suspended driver, or approve one whose screening is done."""
    _require(reason)
    driver = _lock(driver_id)
    if driver.status == S.DEACTIVATED:
        raise Conflict(
            "A deactivated driver comes back only through an overturned appeal.",
            code="appeal_required",
        )
    if driver.status == S.SCREENING:
        if not _try_approve(driver, actor=actor):
            raise Conflict(
                "Approval needs an engaged background check and approved, unexpired documents.",
                code="not_ready",
            )
        return driver
    _driver_transition(driver, to=S.APPROVED, actor=actor, reason=reason)
    return driver


@transaction.atomic
def driver_suspend(*, driver_id: int, actor: Actor, reason: str, evidence: str) -> Driver:
    _require(reason, evidence)
    driver = _lock(driver_id)
    _driver_transition(driver, to=S.SUSPENDED, actor=actor, reason=reason, evidence=evidence)
    return driver


@transaction.atomic
def driver_deactivate(*, driver_id: int, actor: Actor, reason: str, evidence: str) -> Driver:
    _require(reason, evidence)
    driver = _lock(driver_id)
    _driver_transition(driver, to=S.DEACTIVATED, actor=actor, reason=reason, evidence=evidence)
    return driver


@transaction.atomic
def driver_reject(*, driver_id: int, actor: Actor, reason: str) -> Driver:
    """Ops: refuse an application before screening (after it, only adverse action rejects)."""
    _require(reason)
    driver = _lock(driver_id)
    if driver.status == S.SCREENING:
        raise Conflict(
            "A driver in screening is rejected only through adverse action.",
            code="adverse_action_required",
        )
    _driver_transition(driver, to=S.REJECTED, actor=actor, reason=reason)
    return driver


def driver_event_notify(*, event_id: int) -> bool:
    """E-mail the driver about one event, at most once (claimed before the send; a failed send
    releases the claim so that the task's retry can try again). No transaction: SMTP is slow."""
    claimed = DriverEvent.objects.filter(id=event_id, notified_at__isnull=True).update(
        notified_at=clock.now()
    )
    if not claimed:
        return False
    event = DriverEvent.objects.select_related("driver__user").get(id=event_id)
    user = event.driver.user
    if not user.email:
        return False
    template = f"status_{event.to_status}" if event.code == event.Code.STATUS else event.code
    context = {
        "event": event,
        "driver": event.driver,
        "user": user,
        "site_url": settings.SITE_URL,
        "wait_days": settings.SCREENING_ADVERSE_ACTION_WAIT.days,
    }
    try:
        text = render_to_string(f"driver/email/{template}.txt", context)
        subject, _, body = text.strip().partition("\n")
        send_mail(subject.strip(), body.strip() + "\n", None, [user.email])
    except Exception:
        DriverEvent.objects.filter(id=event_id).update(notified_at=None)
        raise
    return True

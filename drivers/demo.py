"""Demo drivers in every state, built through the real services (idempotent: a driver whose
e-mail exists is left alone). Called by `manage.py seed_demo`.

The approved drivers are in Nashville with approved documents and vehicles, for dispatch. The
"screening" driver has a live sandbox invitation: log in as them and click through it.
"""

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageDraw

from drivers import selectors, services
from drivers.models import Document, Driver, DriverEvent
from drivers.screening import ScreeningEvent
from orders import selectors as order_selectors
from spark.lib import clock
from spark.lib.actors import Actor

PASSWORD = "spark-driver-demo"
DOMAIN = "drivers.spark.local"
SUV = ("Honda", "CR-V", 2021, "suv")
VAN = ("Ford", "Transit Connect", 2020, "van")
CAUTIOUS = {"no_alcohol": True, "max_pickup_km": 10.0, "min_pay_cents_per_mile": 120}


def _png(text: str) -> bytes:
    image = Image.new("RGB", (480, 300), (235, 241, 250))
    ImageDraw.Draw(image).text((24, 24), f"DEMO\n{text}", fill=(20, 30, 60))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _ops() -> Actor:
    ops = get_user_model().objects.filter(is_superuser=True).order_by("id").first()
    return Actor.user(ops, role="ops") if ops else Actor.system("demo")


def _signup(email: str, first: str, last: str, market_slug: str) -> Driver:
    market = order_selectors.market_list(active_only=False).get(slug=market_slug)
    return services.driver_signup(
        email=email,
        password=PASSWORD,
        first_name=first,
        last_name=last,
        phone="+1 615 555 0142",
        home_market_id=market.id,
    )


def _profile_and_vehicle(driver: Driver, spec: dict[str, Any]) -> None:
    me = Actor.user(driver.user, role="driver")
    services.driver_profile_update(
        driver_id=driver.id,
        actor=me,
        phone=driver.phone,
        home_market_id=driver.home_market_id,
        is_21_plus=spec.get("is_21_plus", True),
        age_attested=True,
        max_pickup_km=spec.get("max_pickup_km"),
        min_pay_cents_per_mile=spec.get("min_pay_cents_per_mile", 0),
        no_alcohol=spec.get("no_alcohol", False),
    )
    make, model, year, kind = spec.get("vehicle", ("Toyota", "Corolla", 2019, "car"))
    services.vehicle_save(
        driver_id=driver.id, actor=me, make=make, model=model, year=year, vehicle_type=kind
    )


def _documents(driver: Driver, *, approve: bool) -> None:
    me = Actor.user(driver.user, role="driver")
    expires = clock.now().date() + timedelta(days=400)
    for kind in Document.REQUIRED:
        services.document_upload(
            driver_id=driver.id,
            actor=me,
            kind=kind,
            file=ContentFile(_png(f"{kind} of {driver.user.get_full_name()}")),
            expires_on=expires,
            licence_number="TN 0142 7788" if kind == Document.Kind.LICENCE else "",
        )
    if approve:
        for document in selectors.document_list_current(driver_id=driver.id):
            services.document_approve(document_id=document.id, actor=_ops(), reason="Demo check")


def _screen(driver: Driver, *, complete: bool) -> None:
    """Start the sandbox check; complete it by applying the provider's events directly."""
    check = services.background_check_start(
        driver_id=driver.id, actor=Actor.user(driver.user, role="driver")
    )
    if not complete:
        return
    result = "consider" if "+consider" in driver.user.email else "clear"
    report_id = f"sbx_rpt_demo_{driver.id}"
    for n, (kind, status) in enumerate(
        [("invitation.completed", "completed"), ("report.completed", "complete")]
    ):
        event = ScreeningEvent(
            id=f"sbx_evt_demo_{driver.id}_{n}",
            type=kind,
            candidate_id=check.candidate_id,
            invitation_id=check.invitation_id if kind.startswith("invitation") else "",
            report_id=report_id,
            status=status,
            result=result if kind == "report.completed" else "",
        )
        services.screening_event_apply(provider=check.provider, event=event)


def _approved(driver: Driver, spec: dict[str, Any]) -> None:
    _profile_and_vehicle(driver, spec)
    _documents(driver, approve=True)
    _screen(driver, complete=True)


def _suspended(driver: Driver, spec: dict[str, Any]) -> None:
    _approved(driver, spec)
    services.driver_suspend(
        driver_id=driver.id,
        actor=_ops(),
        reason="Three orders marked delivered that customers did not receive, in one week.",
        evidence="Support tickets 4411, 4415, 4420; drop-off photos missing for all three.",
    )
    decision = selectors.driver_event_last_status_change(driver_id=driver.id)
    services.appeal_file(
        driver_id=driver.id,
        event_id=decision.id,
        text="Two of those were handed to a neighbour at the customers' request; I have the "
        "chat messages. The third was at an apartment lobby with a locker.",
        actor=Actor.user(driver.user, role="driver"),
    )


def _deactivated(driver: Driver, spec: dict[str, Any]) -> None:
    _approved(driver, spec)
    services.driver_deactivate(
        driver_id=driver.id,
        actor=_ops(),
        reason="Let another person deliver orders with your account.",
        evidence="Store CCTV 2025-03-02 and the store manager's report (ticket 5120).",
    )


def _rejected(driver: Driver, spec: dict[str, Any]) -> None:
    # The pre-adverse notice went out before the waiting period: run that part in the past.
    back = clock.now() - settings.SCREENING_ADVERSE_ACTION_WAIT - timedelta(days=1)
    with clock.use_clock(lambda: back):
        _profile_and_vehicle(driver, spec)
        _documents(driver, approve=True)
        _screen(driver, complete=True)
        check = selectors.background_check_latest(driver_id=driver.id)
        services.background_check_pre_adverse_action(
            check_id=check.id, actor=_ops(), reason="Felony conviction, 2022 (demo data)."
        )
    services.background_checks_adverse_action_finish_due()


def _nothing(driver: Driver, spec: dict[str, Any]) -> None:
    return None


def _screening(driver: Driver, spec: dict[str, Any]) -> None:
    """Documents waiting for review and a live sandbox invitation to click through."""
    _profile_and_vehicle(driver, spec)
    _documents(driver, approve=False)
    _screen(driver, complete=False)


def _consider_waiting(driver: Driver, spec: dict[str, Any]) -> None:
    """A "consider" report waiting for ops to engage or start adverse action."""
    _profile_and_vehicle(driver, spec)
    _documents(driver, approve=True)
    _screen(driver, complete=True)


Build = Callable[[Driver, dict[str, Any]], None]
# (e-mail local part, first name, last name, market, how far to take them, preferences)
STATES: list[tuple[str, str, str, str, Build, dict[str, Any]]] = [
    ("applied", "Avery", "Applied", "nashville", _nothing, {}),
    ("documents", "Dev", "Documents", "nashville", _profile_and_vehicle, {}),
    ("screening", "Sky", "Screening", "nashville", _screening, {}),
    ("review+consider", "Riley", "Review", "nashville", _consider_waiting, {}),
    ("approved1", "Alex", "Rivera", "nashville", _approved, {"vehicle": SUV}),
    ("approved2", "Jordan", "Lee", "nashville", _approved, CAUTIOUS),
    ("approved3", "Casey", "Nguyen", "nashville", _approved, {"is_21_plus": False, "vehicle": VAN}),
    ("suspended", "Sam", "Suspended", "nashville", _suspended, {}),
    ("deactivated", "Drew", "Deactivated", "new-orleans", _deactivated, {}),
    ("rejected+consider", "Reese", "Rejected", "new-orleans", _rejected, {}),
]


def seed_drivers() -> list[tuple[str, str, str]]:
    """Create the missing demo drivers; return (state, e-mail, password) for every one."""
    user_model = get_user_model()
    logins = []
    for local, first, last, market, build, spec in STATES:
        email = f"{local}@{DOMAIN}"
        if not user_model.objects.filter(username=email).exists():
            with transaction.atomic():  # all or nothing, so that a re-run can finish the job
                driver = _signup(email, first, last, market)
                build(driver, spec)
                # Demo people have no mailboxes: their notices count as sent.
                DriverEvent.objects.filter(driver=driver, notified_at__isnull=True).update(
                    notified_at=clock.now()
                )
        status = Driver.objects.filter(user__username=email).values_list("status", flat=True)
        logins.append((status.first() or "?", email, PASSWORD))
    return logins

"""The drivers app's only public read API.

Dispatch calls `driver_can_go_online`, `driver_list_eligible`, `driver_get_for_user` and the
dispatch profiles; every portal page reads through the `*_for_driver` selectors, which are
scoped to one driver and raise NotFound for anybody else's rows (BOLA: 404, never 403).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from drivers.models import (
    Appeal,
    BackgroundCheck,
    Document,
    Driver,
    DriverEvent,
    Vehicle,
)
from drivers.screening import ScreeningEvent
from spark.lib import clock
from spark.lib import sql as lib_sql
from spark.lib.errors import NotFound

DEFAULT_CAPACITY_UNITS = Vehicle.DEFAULT_CAPACITY[Vehicle.Type.CAR]


@dataclass(frozen=True)
class DriverDispatchProfile:
    """What the matching engine needs to know about a driver (see dispatch's DriverIn)."""

    id: int
    home_market_id: int
    is_21_plus: bool
    no_alcohol: bool
    max_pickup_km: float | None  # None: the engine's default
    min_pay_cents_per_mile: int
    capacity_units: int

    @property
    def may_carry_alcohol(self) -> bool:
        return self.is_21_plus and not self.no_alcohol


# --- Eligibility (dispatch) ---------------------------------------------------------------


def _valid_documents(today: date) -> Q:
    return Q(
        documents__is_current=True,
        documents__status=Document.Status.APPROVED,
        documents__expires_on__gte=today,
        documents__kind__in=Document.REQUIRED,
    )


def driver_can_go_online(*, driver_id: int) -> bool:
    return driver_list_eligible(ids=[driver_id]) == [driver_id]


def driver_list_eligible(*, ids: Iterable[int]) -> list[int]:
    """The ids among `ids` that may receive offers now, ascending: approved, and every
    required document approved and unexpired today."""
    return [p.id for p in driver_list_dispatch_profiles(ids=ids, eligible_only=True)]


def _profile(driver: Driver) -> DriverDispatchProfile:
    vehicle = getattr(driver, "vehicle", None)
    return DriverDispatchProfile(
        id=driver.id,
        home_market_id=driver.home_market_id,
        is_21_plus=driver.is_21_plus,
        no_alcohol=driver.no_alcohol,
        max_pickup_km=driver.max_pickup_km,
        min_pay_cents_per_mile=driver.min_pay_cents_per_mile,
        capacity_units=vehicle.cargo_capacity_units if vehicle else DEFAULT_CAPACITY_UNITS,
    )


def driver_get_dispatch_profile(*, driver_id: int) -> DriverDispatchProfile:
    driver = Driver.objects.select_related("vehicle").filter(id=driver_id).first()
    if driver is None:
        raise NotFound("No such driver.")
    return _profile(driver)


def driver_list_dispatch_profiles(
    *, ids: Iterable[int], eligible_only: bool = False
) -> list[DriverDispatchProfile]:
    """Profiles by id, ascending: one plain query (no model rows). With `eligible_only`, only
    the drivers that may receive offers now (driver_list_eligible), in the same query: every
    dispatch round asks both of every online driver."""
    ids = list(ids)
    if not ids:
        return []
    where, params = lib_sql.any_of("d.id", ids)
    join = group = ""
    if eligible_only:
        # One join and a count per driver, not a count subquery per driver: with stale
        # statistics PostgreSQL ran that subquery 2,000 times through the documents' status
        # index (0.3 s of a 1,000 x 2,000 round, P2); the join is planned once for the set.
        lit, kinds = lib_sql.literal, sorted(Document.REQUIRED)
        join = (
            f" INNER JOIN {Document._meta.db_table} doc ON doc.driver_id = d.id"
            f" AND doc.is_current = {lit(True)} AND doc.status = {lit(Document.Status.APPROVED)}"
            f" AND doc.expires_on >= %s AND doc.kind IN ({lib_sql.literals(kinds)})"
        )
        where += f" AND d.status = {lit(Driver.Status.APPROVED)}"
        group = f" GROUP BY d.id HAVING COUNT(DISTINCT doc.kind) = {lit(len(kinds))}"
        today = Document._meta.get_field("expires_on").get_db_prep_value(
            clock.now().date(), connection
        )
        params = [today, *params]
    sql = (
        "SELECT d.id, d.home_market_id, d.is_21_plus, d.no_alcohol, d.max_pickup_km,"  # noqa: S608
        " d.min_pay_cents_per_mile, MAX(v.cargo_capacity_units)"
        f" FROM {Driver._meta.db_table} d"
        f" LEFT OUTER JOIN {Vehicle._meta.db_table} v ON v.driver_id = d.id{join}"
        f" WHERE {where}{group or ' GROUP BY d.id'} ORDER BY d.id"
    )
    rows = lib_sql.fetch(sql, params)
    return [
        DriverDispatchProfile(
            id=driver_id,
            home_market_id=market_id,
            is_21_plus=bool(is_21_plus),
            no_alcohol=bool(no_alcohol),
            max_pickup_km=max_pickup_km,
            min_pay_cents_per_mile=min_pay,
            capacity_units=DEFAULT_CAPACITY_UNITS if capacity is None else capacity,
        )
        for driver_id, market_id, is_21_plus, no_alcohol, max_pickup_km, min_pay, capacity in rows
    ]


# --- Drivers ------------------------------------------------------------------------------


def driver_get(*, driver_id: int) -> Driver:
    driver = (
        Driver.objects.select_related("user", "home_market", "vehicle").filter(id=driver_id).first()
    )
    if driver is None:
        raise NotFound("No such driver.")
    return driver


def driver_courier_card(*, driver_id: int) -> tuple[str, str]:
    """What a customer is told of the driver bringing the order: (first name, "make model").

    One light query (the order's courier snapshot, when a trip is accepted); "" for no car.
    """
    user_table = Driver._meta.get_field("user").related_model._meta.db_table
    sql = (
        f"SELECT u.first_name, v.make, v.model FROM {Driver._meta.db_table} d"  # noqa: S608
        f" INNER JOIN {user_table} u ON u.id = d.user_id"
        f" LEFT OUTER JOIN {Vehicle._meta.db_table} v ON v.driver_id = d.id WHERE d.id = %s"
    )
    rows = lib_sql.fetch(sql, [driver_id])
    if not rows:
        raise NotFound("No such driver.")
    first_name, make, model = rows[0]
    return first_name or "", f"{make} {model}" if make is not None else ""


_DRIVER_ID_BY_USER: dict[int, int] = {}


def driver_id_for_user(*, user_id: int) -> int | None:
    """The driver id of a user, remembered per process (a user's driver never changes).

    The hot driver API paths (accept, pings) need only the id: no join, and no query at all
    after the first request of a process. Non-drivers are not remembered (they may sign up).
    """
    driver_id = _DRIVER_ID_BY_USER.get(user_id)
    if driver_id is None:
        driver_id = Driver.objects.filter(user_id=user_id).values_list("id", flat=True).first()
        if driver_id is not None:
            _DRIVER_ID_BY_USER[user_id] = driver_id
    return driver_id


def driver_get_for_user(*, user_id: int | None) -> Driver | None:
    """The driver profile of a logged-in user, or None (staff, store users, anonymous)."""
    if user_id is None:
        return None
    return (
        Driver.objects.select_related("user", "home_market", "vehicle")
        .filter(user_id=user_id)
        .first()
    )


def driver_documents_valid(*, driver_id: int) -> bool:
    today = clock.now().date()
    qs = Driver.objects.filter(id=driver_id).annotate(
        valid_documents=Count("documents", filter=_valid_documents(today))
    )
    return qs.filter(valid_documents=len(Document.REQUIRED)).exists()


def driver_list_with_expired_documents(*, today: date) -> QuerySet[Driver]:
    expired = Document.objects.filter(
        driver=OuterRef("pk"),
        is_current=True,
        kind__in=Document.REQUIRED,
        expires_on__lt=today,
    )
    return Driver.objects.filter(Exists(expired), status=Driver.Status.APPROVED).order_by("id")


def driver_list_waiting_on_ops(*, what: str) -> QuerySet[Driver]:
    """what: "documents" (pending review), "checks" (consider, undecided), "appeals" (open)."""
    filters: dict[str, Any] = {
        "documents": Exists(
            Document.objects.filter(
                driver=OuterRef("pk"), is_current=True, status=Document.Status.PENDING
            )
        ),
        "checks": Exists(
            BackgroundCheck.objects.filter(
                driver=OuterRef("pk"),
                status=BackgroundCheck.Status.COMPLETE,
                result=BackgroundCheck.Result.CONSIDER,
                adjudication=BackgroundCheck.Adjudication.NONE,
            )
        ),
        "appeals": Exists(Appeal.objects.filter(driver=OuterRef("pk"), status="open")),
    }
    return Driver.objects.filter(filters[what])


# --- Documents ----------------------------------------------------------------------------


def document_list_current(*, driver_id: int) -> QuerySet[Document]:
    return Document.objects.filter(driver_id=driver_id, is_current=True).order_by("kind")


def document_kinds_missing(*, driver_id: int) -> list[str]:
    """Required kinds without a current, usable (not rejected, unexpired) document."""
    today = clock.now().date()
    usable = set(
        document_list_current(driver_id=driver_id)
        .exclude(status=Document.Status.REJECTED)
        .filter(expires_on__gte=today)
        .values_list("kind", flat=True)
    )
    return [str(Document.Kind(k).label) for k in Document.REQUIRED if k not in usable]


def document_get_for_driver(*, driver_id: int, public_id: Any) -> Document:
    document = Document.objects.filter(driver_id=driver_id, public_id=public_id).first()
    if document is None:
        raise NotFound("No such document.")
    return document


def document_get_for_viewer(*, user: Any, public_id: Any) -> Document:
    """The file's owner, or ops with permission to view documents; everyone else: NotFound."""
    qs = Document.objects.select_related("driver").filter(public_id=public_id)
    if not (user.is_active and user.is_staff and user.has_perm("drivers.view_document")):
        qs = qs.filter(driver__user_id=user.id)
    document = qs.first()
    if document is None:
        raise NotFound("No such document.")
    return document


def document_list_expiring(*, today: date, until: date) -> QuerySet[Document]:
    return Document.objects.filter(
        is_current=True,
        expires_on__gte=today,
        expires_on__lte=until,
        expiry_reminder_sent_at__isnull=True,
        status__in=[Document.Status.PENDING, Document.Status.APPROVED],
        driver__status__in=[
            Driver.Status.DOCUMENTS_PENDING,
            Driver.Status.SCREENING,
            Driver.Status.APPROVED,
            Driver.Status.SUSPENDED,
        ],
    ).order_by("id")


def document_list_pending_review() -> QuerySet[Document]:
    return Document.objects.filter(is_current=True, status=Document.Status.PENDING).order_by(
        "created_at"
    )


# --- Screening ----------------------------------------------------------------------------


def background_check_latest(*, driver_id: int) -> BackgroundCheck | None:
    return (
        BackgroundCheck.objects.filter(driver_id=driver_id).order_by("-created_at", "-id").first()
    )


def background_check_get_for_driver(
    *, driver_id: int, provider: str, invitation_id: str
) -> BackgroundCheck:
    check = BackgroundCheck.objects.filter(
        driver_id=driver_id, provider=provider, invitation_id=invitation_id
    ).first()
    if check is None:
        raise NotFound("No such invitation.")
    return check


def background_check_id_for_event(*, provider: str, event: ScreeningEvent) -> int | None:
    """The check an event is about: by report, then invitation, then the latest for the
    candidate (a report's first events may come before we know its id)."""
    checks = BackgroundCheck.objects.filter(provider=provider).order_by("-created_at", "-id")
    for field, value in (
        ("report_id", event.report_id),
        ("invitation_id", event.invitation_id),
        ("candidate_id", event.candidate_id),
    ):
        if value:
            found = checks.filter(**{field: value}).values_list("id", flat=True).first()
            if found is not None:
                return found
    return None


def background_check_list_adverse_action_due(*, now: datetime) -> list[int]:
    return list(
        BackgroundCheck.objects.filter(
            adjudication=BackgroundCheck.Adjudication.PRE_ADVERSE_ACTION,
            adverse_action_due_at__lte=now,
        )
        .order_by("adverse_action_due_at")
        .values_list("id", flat=True)
    )


# --- Events and appeals -------------------------------------------------------------------


def driver_event_list(*, driver_id: int, limit: int = 20) -> list[DriverEvent]:
    qs = DriverEvent.objects.filter(driver_id=driver_id).select_related("appeal")
    return list(qs.order_by("-at", "-id")[:limit])


def driver_event_last_status_change(*, driver_id: int) -> DriverEvent | None:
    return (
        DriverEvent.objects.filter(driver_id=driver_id)
        .exclude(from_status=F("to_status"))
        .order_by("-at", "-id")
        .first()
    )


def driver_event_appealable(*, driver: Driver) -> DriverEvent | None:
    """The decision that put the driver in a suspended/deactivated state, if not appealed."""
    if driver.status not in Driver.APPEALABLE:
        return None
    event = driver_event_last_status_change(driver_id=driver.id)
    if event is None or event.to_status != driver.status:
        return None
    if Appeal.objects.filter(event=event).exists():
        return None
    return event


def appeal_list_for_driver(*, driver_id: int) -> QuerySet[Appeal]:
    return Appeal.objects.filter(driver_id=driver_id).select_related("event").order_by("-filed_at")


def appeal_get_for_driver(*, driver_id: int, appeal_id: int) -> Appeal:
    appeal = appeal_list_for_driver(driver_id=driver_id).filter(id=appeal_id).first()
    if appeal is None:
        raise NotFound("No such appeal.")
    return appeal


def appeal_list_open() -> QuerySet[Appeal]:
    """The ops queue, longest-waiting first."""
    return (
        Appeal.objects.filter(status=Appeal.Status.OPEN)
        .select_related("driver__user", "event")
        .order_by("filed_at")
    )


# --- The portal's checklist ---------------------------------------------------------------


@dataclass(frozen=True)
class DocumentSlot:
    kind: str
    label: str
    document: Document | None
    state: str  # missing, pending, approved, rejected, expired
    expiring: bool  # within the reminder window

    @property
    def state_label(self) -> str:
        return {"missing": "to upload", "pending": "in review"}.get(self.state, self.state)


@dataclass(frozen=True)
class Checklist:
    profile_done: bool
    vehicle: Vehicle | None
    documents: list[DocumentSlot]
    check: BackgroundCheck | None
    decision: DriverEvent | None  # what put the driver in a suspended/deactivated/rejected state
    appealable: DriverEvent | None

    @property
    def documents_uploaded(self) -> bool:
        return all(s.state in ("pending", "approved") for s in self.documents)

    @property
    def documents_approved(self) -> bool:
        return all(s.state == "approved" for s in self.documents)

    @property
    def check_restartable(self) -> bool:
        return self.check is not None and self.check.status in (
            BackgroundCheck.Status.EXPIRED,
            BackgroundCheck.Status.CANCELED,
        )


def _slot(kind: str, document: Document | None, today: date, soon: date) -> DocumentSlot:
    label = str(Document.Kind(kind).label)
    if document is None:
        return DocumentSlot(kind, label, None, "missing", expiring=False)
    state = "expired" if document.expires_on < today else document.status
    expiring = state != "expired" and document.expires_on <= soon
    return DocumentSlot(kind, label, document, state, expiring=expiring)


def driver_checklist(*, driver: Driver, reminder_days: int = 30) -> Checklist:
    today = clock.now().date()
    soon = date.fromordinal(today.toordinal() + reminder_days)
    current = {d.kind: d for d in document_list_current(driver_id=driver.id)}
    decision = None
    if driver.status in (
        Driver.Status.SUSPENDED,
        Driver.Status.DEACTIVATED,
        Driver.Status.REJECTED,
    ):
        decision = driver_event_last_status_change(driver_id=driver.id)
    return Checklist(
        profile_done=driver.has_profile(),
        vehicle=Vehicle.objects.filter(driver_id=driver.id).first(),
        documents=[_slot(k, current.get(k), today, soon) for k in Document.REQUIRED],
        check=background_check_latest(driver_id=driver.id),
        decision=decision,
        appealable=driver_event_appealable(driver=driver),
    )


def driver_home_markets() -> QuerySet[Driver, dict[str, Any]]:
    """Every driver's id and home market, for set-based reads of other apps."""
    return Driver.objects.values("id", "home_market_id")


def driver_id_bounds(*, parts: int) -> list[int]:
    """The parts - 1 driver ids (ascending) that split all drivers into `parts` id ranges of
    about the same size: [first, b1), [b1, b2), ... [b(parts-1), last]."""
    ids = Driver.objects.order_by("id").values_list("id", flat=True)
    total = ids.count()
    return sorted({ids[total * k // parts] for k in range(1, parts)}) if total else []

"""Due process: a driver appeals the decision that suspended or deactivated them, once; ops
uphold it or overturn it (which reinstates the driver). Every step is a DriverEvent."""

from django.db import IntegrityError, transaction

from drivers import selectors
from drivers.models import Appeal, Driver, DriverEvent
from drivers.services import lifecycle
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, NotFound, Unprocessable

Code = DriverEvent.Code
MAX_TEXT = 5000


@transaction.atomic
def appeal_file(*, driver_id: int, event_id: int, text: str, actor: Actor) -> Appeal:
    text = text.strip()
    if not 20 <= len(text) <= MAX_TEXT:
        raise Unprocessable(
            "Explain your appeal in 20 to 5,000 characters.", code="appeal_text_invalid"
        )
    driver = lifecycle._lock(driver_id)
    event = selectors.driver_event_appealable(driver=driver)
    if event is None or event.id != event_id:
        # Another driver's event is as unknown as a missing one (no 403: BOLA, A1).
        if not DriverEvent.objects.filter(id=event_id, driver_id=driver_id).exists():
            raise NotFound("No such decision.")
        raise Conflict("This decision can no longer be appealed.", code="not_appealable")
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                driver=driver, event=event, text=text, filed_at=clock.now()
            )
    except IntegrityError as exc:
        raise Conflict("You have already appealed this decision.", code="appeal_exists") from exc
    lifecycle._event_record(
        driver,
        code=Code.APPEAL_FILED,
        actor=actor,
        reason="We received your appeal. A person from our operations team will review it.",
    )
    return appeal


@transaction.atomic
def appeal_decide(*, appeal_id: int, actor: Actor, overturn: bool, note: str) -> Appeal:
    note = note.strip()
    if not note:
        raise Unprocessable("Explain the decision to the driver.", code="reason_required")
    driver_id = Appeal.objects.filter(id=appeal_id).values_list("driver_id", flat=True).first()
    if driver_id is None:
        raise NotFound("No such appeal.")
    driver = lifecycle._lock(driver_id)
    appeal = Appeal.objects.select_for_update().select_related("event").get(id=appeal_id)
    if appeal.status != Appeal.Status.OPEN:
        raise Conflict("This appeal was already decided.", code="appeal_decided")
    if overturn:
        if driver.status != appeal.event.to_status:
            raise Conflict(
                "The driver's status changed since the appeal was filed.", code="stale_appeal"
            )
        lifecycle._driver_transition(
            driver,
            to=Driver.Status.APPROVED,
            actor=actor,
            code=Code.APPEAL_OVERTURNED,
            reason=note,
            evidence=f"appeal {appeal.id} against event {appeal.event_id}",
        )
    else:
        lifecycle._event_record(
            driver,
            code=Code.APPEAL_UPHELD,
            actor=actor,
            reason=note,
            evidence=f"appeal {appeal.id} against event {appeal.event_id}",
        )
    appeal.status = Appeal.Status.OVERTURNED if overturn else Appeal.Status.UPHELD
    appeal.decided_by_id, appeal.decision_note, appeal.decided_at = actor.user_id, note, clock.now()
    appeal.save(update_fields=["status", "decided_by", "decision_note", "decided_at"])
    return appeal

"""Background checks: start (candidate + hosted invitation), inbound webhooks (verified on the
raw body, deduplicated by event id, forward-only), adjudication and FCRA adverse action."""

import logging
from collections.abc import Mapping
from functools import partial

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from drivers import screening, selectors, tasks
from drivers.models import BackgroundCheck, Driver, DriverEvent, InboundWebhook
from drivers.screening import sandbox
from drivers.services import lifecycle
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable

logger = logging.getLogger(__name__)
S = Driver.Status
Check = BackgroundCheck
Code = DriverEvent.Code
SYSTEM = Actor.system("screening")

# Provider event type -> the check status it proves the check has reached.
EVENT_STATUS: dict[str, str] = {
    "invitation.completed": Check.Status.PENDING,
    "invitation.expired": Check.Status.EXPIRED,
    "invitation.deleted": Check.Status.CANCELED,
    "report.created": Check.Status.PENDING,
    "report.updated": Check.Status.PENDING,
    "report.resumed": Check.Status.PENDING,
    "report.suspended": Check.Status.PENDING,
    "report.completed": Check.Status.COMPLETE,
    "report.canceled": Check.Status.CANCELED,
}


def _startable(driver: Driver) -> None:
    if driver.status == S.SCREENING:
        latest = selectors.background_check_latest(driver_id=driver.id)
        if latest is not None and latest.status not in (
            Check.Status.EXPIRED,
            Check.Status.CANCELED,
        ):
            raise Conflict("Your background check is already under way.", code="check_exists")
    elif driver.status != S.DOCUMENTS_PENDING:
        raise Conflict(
            "Complete your profile and vehicle before the background check.",
            code="not_ready",
        )
    missing = selectors.document_kinds_missing(driver_id=driver.id)
    if missing:
        raise Conflict(
            "Upload your documents first: " + ", ".join(missing) + ".", code="documents_missing"
        )


def background_check_start(*, driver_id: int, actor: Actor) -> BackgroundCheck:
    """Create the provider's candidate and hosted invitation, then record the check.

    Not one transaction on purpose: no network call runs while we hold a row lock (Orpheus,
    RELIABILITY.md 1). A lost race leaves an unused invitation at the provider, nothing here.
    """
    driver = selectors.driver_get(driver_id=driver_id)
    _startable(driver)
    provider = screening.get_provider()
    previous = selectors.background_check_latest(driver_id=driver.id)
    try:
        if previous is not None and previous.provider == provider.name:
            candidate_id = previous.candidate_id  # the provider asks us to reuse candidates
        else:
            candidate_id = provider.candidate_create(
                reference=f"driver-{driver.id}",
                email=driver.user.email,
                first_name=driver.user.first_name,
                last_name=driver.user.last_name,
            )
        invitation = provider.invitation_create(
            candidate_id=candidate_id,
            package=settings.CHECKR_PACKAGE,
            work_location={"country": "US", "city": driver.home_market.name},
        )
    except screening.ScreeningError as exc:
        logger.warning("screening provider failed for driver %s: %s", driver.id, exc)
        raise ServiceUnavailable(
            "The background-check service is unavailable; try again in a few minutes."
        ) from exc
    return _background_check_record(
        driver_id=driver.id, provider=provider.name, invitation=invitation, actor=actor
    )


@transaction.atomic
def _background_check_record(
    *, driver_id: int, provider: str, invitation: screening.Invitation, actor: Actor
) -> BackgroundCheck:
    driver = lifecycle._lock(driver_id)
    _startable(driver)
    check = BackgroundCheck.objects.create(
        driver=driver,
        provider=provider,
        package=settings.CHECKR_PACKAGE,
        candidate_id=invitation.candidate_id,
        invitation_id=invitation.id,
        invitation_url=invitation.url,
    )
    reason = "Open the invitation to give your consent and details to our screening partner."
    if driver.status == S.DOCUMENTS_PENDING:
        lifecycle._driver_transition(
            driver, to=S.SCREENING, actor=actor, code=Code.SCREENING_STARTED, reason=reason
        )
    else:
        lifecycle._event_record(driver, code=Code.SCREENING_STARTED, actor=actor, reason=reason)
    return check


def screening_webhook_receive(*, provider: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Verify the signature on the raw body, then parse and apply; False for a duplicate.

    Raises UnknownProvider, WebhookSignatureError or WebhookPayloadError.
    """
    screening.get_provider(provider).webhook_verify(body=body, headers=headers)
    event = screening.event_parse(body)
    return screening_event_apply(provider=provider, event=event)


@transaction.atomic
def screening_event_apply(*, provider: str, event: screening.ScreeningEvent) -> bool:
    # The UNIQUE insert comes first: a concurrent duplicate waits here for our commit and
    # then fails, so the event's effects happen once (W2). If we roll back, it may proceed.
    try:
        with transaction.atomic():
            InboundWebhook.objects.create(
                provider=provider,
                event_id=event.id,
                event_type=event.type[:64],
                received_at=clock.now(),
            )
    except IntegrityError:
        return False
    check_id = selectors.background_check_id_for_event(provider=provider, event=event)
    if check_id is None:
        logger.warning("screening event %s %s matches no check", provider, event.id)
        return True
    driver_id = BackgroundCheck.objects.values_list("driver_id", flat=True).get(id=check_id)
    driver = lifecycle._lock(driver_id)
    check = BackgroundCheck.objects.select_for_update().get(id=check_id)
    _check_apply(check, driver, event)
    return True


def _check_apply(check: BackgroundCheck, driver: Driver, event: screening.ScreeningEvent) -> None:
    now = clock.now()
    if event.report_id and not check.report_id:
        check.report_id = event.report_id
    if event.type == "invitation.completed" and check.invitation_completed_at is None:
        check.invitation_completed_at = now
    target = EVENT_STATUS.get(event.type)
    # Forward only (W3): a late "report.created" never reopens a completed check.
    moved = target is not None and Check.STATUS_RANK[target] > Check.STATUS_RANK[check.status]
    if moved:
        check.status = target
        if target == Check.Status.COMPLETE:
            # A completed report without a usable result goes to a person, never auto-clears.
            clear = event.result == Check.Result.CLEAR
            check.result = Check.Result.CLEAR if clear else Check.Result.CONSIDER
            check.completed_at = now
    check.save(
        update_fields=[
            "report_id",
            "invitation_completed_at",
            "status",
            "result",
            "completed_at",
            "updated_at",
        ]
    )
    if moved and target == Check.Status.COMPLETE:
        _check_completed(check, driver)
    elif moved and target in (Check.Status.EXPIRED, Check.Status.CANCELED):
        lifecycle._event_record(
            driver,
            code=Code.SCREENING_CANCELED,
            actor=SYSTEM,
            reason=f"Your background-check invitation was {target}. Start a new one from "
            "your checklist.",
        )


def _check_completed(check: BackgroundCheck, driver: Driver) -> None:
    if check.result == Check.Result.CLEAR:
        check.adjudication, check.adjudicated_at = Check.Adjudication.ENGAGED, clock.now()
        check.save(update_fields=["adjudication", "adjudicated_at", "updated_at"])
        reason = "Your background check came back clear."
    else:
        reason = (
            "Your background check needs a review by our team. We will e-mail you the outcome; "
            "nothing is decided yet."
        )
    lifecycle._event_record(driver, code=Code.SCREENING_COMPLETED, actor=SYSTEM, reason=reason)
    lifecycle._try_approve(driver, actor=SYSTEM)


def _lock_check(check_id: int) -> tuple[Driver, BackgroundCheck]:
    driver_id = BackgroundCheck.objects.filter(id=check_id).values_list("driver_id", flat=True)
    if not driver_id:
        raise NotFound("No such background check.")
    driver = lifecycle._lock(driver_id[0])
    return driver, BackgroundCheck.objects.select_for_update().get(id=check_id)


@transaction.atomic
def background_check_engage(*, check_id: int, actor: Actor, note: str) -> BackgroundCheck:
    """Ops: proceed with a driver whose report says "consider" (also during the waiting
    period, e.g. after a successful dispute)."""
    if not note.strip():
        raise Unprocessable("Record why the report does not disqualify.", code="reason_required")
    driver, check = _lock_check(check_id)
    if not (check.needs_review or check.adjudication == Check.Adjudication.PRE_ADVERSE_ACTION):
        raise Conflict("This check is not waiting for a decision.", code="not_reviewable")
    check.adjudication, check.adjudicated_at = Check.Adjudication.ENGAGED, clock.now()
    check.adjudicated_by_id, check.adjudication_note = actor.user_id, note.strip()
    check.adverse_action_due_at = None
    check.save(
        update_fields=[
            "adjudication",
            "adjudicated_at",
            "adjudicated_by",
            "adjudication_note",
            "adverse_action_due_at",
            "updated_at",
        ]
    )
    lifecycle._event_record(
        driver,
        code=Code.SCREENING_ENGAGED,
        actor=actor,
        reason="Your background check was reviewed and you may continue.",
        evidence=note.strip(),
    )
    lifecycle._try_approve(driver, actor=actor)
    return check


@transaction.atomic
def background_check_pre_adverse_action(
    *, check_id: int, actor: Actor, reason: str
) -> BackgroundCheck:
    """Ops: start adverse action. The driver gets the pre-adverse notice and the waiting
    period (settings.SCREENING_ADVERSE_ACTION_WAIT) to dispute before it becomes final."""
    if not reason.strip():
        raise Unprocessable("Name the findings this decision rests on.", code="reason_required")
    driver, check = _lock_check(check_id)
    if not check.needs_review:
        raise Conflict("This check is not waiting for a decision.", code="not_reviewable")
    now = clock.now()
    check.adjudication, check.adjudicated_at = Check.Adjudication.PRE_ADVERSE_ACTION, now
    check.adjudicated_by_id, check.adjudication_note = actor.user_id, reason.strip()
    check.pre_adverse_action_at = now
    check.adverse_action_due_at = now + settings.SCREENING_ADVERSE_ACTION_WAIT
    check.save(
        update_fields=[
            "adjudication",
            "adjudicated_at",
            "adjudicated_by",
            "adjudication_note",
            "pre_adverse_action_at",
            "adverse_action_due_at",
            "updated_at",
        ]
    )
    lifecycle._event_record(
        driver, code=Code.PRE_ADVERSE_ACTION, actor=actor, reason=reason.strip()
    )
    return check


def background_checks_adverse_action_finish_due() -> int:
    """Periodic: finish adverse actions whose waiting period has ended (idempotent)."""
    due = selectors.background_check_list_adverse_action_due(now=clock.now())
    return sum(background_check_adverse_action_finish(check_id=i) for i in due)


@transaction.atomic
def background_check_adverse_action_finish(*, check_id: int) -> bool:
    driver, check = _lock_check(check_id)
    due = check.adverse_action_due_at
    if check.adjudication != Check.Adjudication.PRE_ADVERSE_ACTION or due is None:
        return False
    if due > clock.now():
        return False
    check.adjudication, check.adverse_action_at = Check.Adjudication.ADVERSE_ACTION, clock.now()
    check.save(update_fields=["adjudication", "adverse_action_at", "updated_at"])
    reason = (
        "After the waiting period, we cannot approve your application based on your background "
        "check report."
    )
    if driver.status == S.SCREENING:
        lifecycle._driver_transition(
            driver,
            to=S.REJECTED,
            actor=SYSTEM,
            code=Code.ADVERSE_ACTION,
            reason=reason,
            evidence=check.adjudication_note,
        )
    else:
        lifecycle._event_record(driver, code=Code.ADVERSE_ACTION, actor=SYSTEM, reason=reason)
    return True


# --- The sandbox provider's side ------------------------------------------------------------


def sandbox_invitation_submit(*, driver_id: int, invitation_id: str) -> BackgroundCheck:
    """The candidate submitted the sandbox's hosted form: the "provider" runs the report."""
    check = selectors.background_check_get_for_driver(
        driver_id=driver_id, provider="sandbox", invitation_id=invitation_id
    )
    if check.status != Check.Status.INVITED:
        raise Conflict("This invitation was already submitted.", code="invitation_used")
    transaction.on_commit(
        partial(
            tasks.sandbox_report_run.apply_async,
            args=(check.invitation_id, check.candidate_id),
            countdown=settings.SCREENING_SANDBOX_DELAY_SECONDS,
        )
    )
    return check


def sandbox_report_run(*, invitation_id: str, candidate_id: str) -> int:
    """Send the webhooks a provider sends as the report completes, signed, one by one."""
    provider = screening.get_provider("sandbox")
    if not isinstance(provider, screening.SandboxProvider):
        raise ImproperlyConfigured("The sandbox provider is not the sandbox.")
    mode = settings.SCREENING_SANDBOX_DELIVERY
    if mode == "auto":
        mode = "inprocess" if settings.CELERY_TASK_ALWAYS_EAGER else "http"
    bodies = provider.report_events(invitation_id=invitation_id, candidate_id=candidate_id)
    for body in bodies:
        headers = provider.signed_headers(body)
        if mode == "inprocess":
            screening_webhook_receive(provider="sandbox", body=body, headers=headers)
        else:
            sandbox.deliver_http(body, headers)
    return len(bodies)

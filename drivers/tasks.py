"""Celery tasks of the drivers app: thin wrappers that call services (ids in, idempotent)."""

from celery import shared_task

from drivers import services


@shared_task(
    autoretry_for=(Exception,),
    max_retries=5,
    retry_backoff=30,
    retry_backoff_max=600,
    soft_time_limit=30,
    time_limit=45,
)
def driver_event_notify(event_id: int) -> bool:
    return services.driver_event_notify(event_id=event_id)


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def documents_expiry_sweep() -> dict[str, int]:
    return services.documents_expiry_sweep()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def background_checks_adverse_action_finish_due() -> int:
    return services.background_checks_adverse_action_finish_due()


@shared_task(
    autoretry_for=(Exception,),
    max_retries=5,
    retry_backoff=10,
    retry_backoff_max=300,
    soft_time_limit=50,
    time_limit=60,
)
def sandbox_report_run(invitation_id: str, candidate_id: str) -> int:
    # Redelivery is harmless: every webhook is deduplicated by event id and forward-only.
    return services.sandbox_report_run(invitation_id=invitation_id, candidate_id=candidate_id)

"""Celery tasks of the orders app: thin wrappers that call services (ids in, idempotent)."""

from celery import shared_task

from orders import services


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def webhook_deliveries_send() -> int:
    return services.webhook_deliveries_send(time_budget_seconds=30)


@shared_task(soft_time_limit=50, time_limit=60)
def idempotency_keys_purge() -> int:
    return services.idempotency_keys_purge()

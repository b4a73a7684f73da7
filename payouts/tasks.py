"""Celery tasks of payouts: ids in, a service call, nothing else. Every service here is
idempotent (unique business keys, conditional UPDATEs), so the tasks may run late and twice."""

from datetime import date

from celery import shared_task

from payouts import services


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def earnings_post() -> int:
    """Beat, every minute: completed trips and the rest become earnings, set-based."""
    return services.earnings_post()


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def payout_batches_settle_due() -> int:
    """Beat, hourly: one settlement task per market whose local week ended unsettled."""
    return len(services.payout_batches_settle_due())


@shared_task(acks_late=True, soft_time_limit=1500, time_limit=1800)
def payout_batch_settle(market_id: int, period_start: str) -> int:
    batch = services.payout_batch_settle(
        market_id=market_id, period_start=date.fromisoformat(period_start)
    )
    return batch.payouts_count if batch else 0


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def payout_submit(payout_id: int) -> int:
    """After an instant payout or a retry commits: send it now (the resume sweep backs it up)."""
    return services.payouts_submit(payout_ids=[payout_id])["paid"]


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def payouts_resume() -> int:
    counts = services.payouts_resume()
    return counts["paid"] + counts["failed"]


@shared_task(acks_late=True, soft_time_limit=540, time_limit=600)
def reconciliation_run() -> int:
    return services.reconciliation_run().alerts_count

"""Celery tasks of scheduled blocks: ids in, the services decide (all idempotent).

Celery's autodiscovery imports `dispatch.tasks`, which imports this module.
"""

from celery import shared_task

from dispatch import services

__all__ = ["block_lottery_draw", "block_reservation_notify", "blocks_sweep"]


@shared_task(acks_late=True, soft_time_limit=12, time_limit=20)
def blocks_sweep() -> dict[str, int]:
    """Beat, every 15 s: open due blocks, draw due lotteries, check in, no-shows, completion."""
    return services.blocks_sweep()


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def block_lottery_draw(block_id: int) -> int:
    block = services.block_lottery_draw(block_id=block_id, actor=services.blocks.SYSTEM)
    return block.id


@shared_task(
    autoretry_for=(Exception,),
    max_retries=5,
    retry_backoff=30,
    retry_backoff_max=600,
    soft_time_limit=30,
    time_limit=45,
)
def block_reservation_notify(reservation_id: int, kind: str) -> bool:
    return services.block_reservation_notify(reservation_id=reservation_id, kind=kind)

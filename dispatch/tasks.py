"""Celery tasks of dispatch: one task per market round, never one per order."""

from celery import shared_task

from dispatch import services
from orders import selectors as order_selectors


@shared_task(soft_time_limit=4, time_limit=8)
def dispatch_rounds_schedule() -> int:
    """Beat: fan out one round per active market (each expires if not started in time)."""
    markets = list(order_selectors.market_list().values_list("id", flat=True))
    for market_id in markets:
        dispatch_round.apply_async(args=[market_id], expires=10)
    return len(markets)


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def dispatch_round(market_id: int) -> int:
    round_row = services.dispatch_round_run(market_id=market_id)
    return round_row.offers_made if round_row else 0


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def trip_assigned_sync(trip_id: int | None = None) -> int:
    return services.trips_sync_assigned(trip_id=trip_id)


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def offers_expire_due() -> int:
    return services.offers_expire_due()


@shared_task(acks_late=True, soft_time_limit=20, time_limit=30)
def driver_locations_flush() -> int:
    return services.driver_locations_flush()


from dispatch.tasks_blocks import *  # noqa: E402,F401,F403

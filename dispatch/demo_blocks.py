"""Demo blocks in Nashville, published through the real service (idempotent: while the market
has upcoming blocks, nothing is added). Called by `manage.py seed_demo`.

Two open for reservation now (their first minute is a lottery, then first come), two opening
tomorrow at 9:00; the approved demo driver Alex asks for one, so "My blocks" has a story.
"""

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model

from dispatch import selectors, services
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from spark.lib import clock
from spark.lib.actors import Actor

DEMO_DRIVER = "approved1@drivers.spark.local"
ACTOR = Actor.system("demo")


def _at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day.date(), time(hour, minute), tzinfo=day.tzinfo)


def _specs(now: datetime, stores: list[Any]) -> list[dict[str, Any]]:
    store = [s.id for s in stores] + [None] * 3
    soon = (now + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    tomorrow = now + timedelta(days=1)
    later = now + timedelta(days=2)
    return [
        # open now: opens_at is "now" (the service's default)
        dict(store_id=store[0], starts_at=soon, hours=3, pay=7200, capacity=4, opens_at=None),
        dict(
            store_id=store[2],
            starts_at=_at(tomorrow, 11),
            hours=3,
            pay=7500,
            capacity=2,
            opens_at=None,
        ),
        # opening tomorrow at 9:00
        dict(
            store_id=store[1],
            starts_at=_at(later, 10),
            hours=4,
            pay=9600,
            capacity=6,
            opens_at=_at(tomorrow, 9),
        ),
        dict(
            store_id=None,
            starts_at=_at(later, 17),
            hours=3,
            pay=6600,
            capacity=10,
            opens_at=_at(tomorrow, 9),
        ),
    ]


def seed(stdout: Any) -> None:
    market = order_selectors.market_list(active_only=False).filter(slug="nashville").first()
    if market is None:
        stdout.write("  blocks: no Nashville market, none added")
        return
    now = clock.now().astimezone(ZoneInfo(market.timezone))
    upcoming = selectors.block_list_upcoming(market_id=market.id, now=now).count()
    if upcoming:
        stdout.write(f"  blocks: {upcoming} upcoming in Nashville (kept)")
        return
    stores = list(order_selectors.store_list_for_market(market_id=market.id)[:3])
    blocks = [
        services.block_publish(
            market_id=market.id,
            store_id=spec["store_id"],
            starts_at=spec["starts_at"],
            ends_at=spec["starts_at"] + timedelta(hours=spec["hours"]),
            opens_at=spec["opens_at"],
            guaranteed_pay_cents=spec["pay"],
            capacity=spec["capacity"],
            actor=ACTOR,
        )
        for spec in _specs(now, stores)
    ]
    _request_as_demo_driver(blocks[1].id)
    stdout.write(f"  blocks: {len(blocks)} published in Nashville (2 open now, 2 open tomorrow)")


def _request_as_demo_driver(block_id: int) -> None:
    user = get_user_model().objects.filter(username=DEMO_DRIVER).first()
    driver = driver_selectors.driver_get_for_user(user_id=user.pk if user else None)
    if driver is not None and driver_selectors.driver_can_go_online(driver_id=driver.id):
        services.block_request(
            block_id=block_id, driver_id=driver.id, actor=Actor.user(user, role="driver")
        )

"""Demo dispatch data (idempotent), called by `manage.py seed_demo` after the drivers.

A rate card for each market, and the approved Nashville demo drivers online near the Dickerson
Pike store, so that an order made ready through the API becomes an offer on the first driver's
work page within a round (beat runs one every 5 s).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from dispatch import selectors, services
from dispatch.models import RateCard
from drivers import demo as drivers_demo
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from spark.lib import clock

STORE = (36.2291, -86.7595)  # Demo Mart Dickerson Pike
# (e-mail local part, offset from the store in degrees): the first is the nearest, so the
# round offers the first trip to them; the others are a little farther off.
ONLINE = [
    ("approved1", (0.0030, 0.0020)),
    ("approved2", (-0.0150, 0.0110)),
    ("approved3", (0.0200, -0.0160)),
]
WALK_THROUGH = "approved1"


def _rate_cards(stdout: Any) -> None:
    made = 0
    for market in order_selectors.market_list(active_only=False):
        if not selectors.rate_card_list(market_id=market.id).exists():
            RateCard.objects.create(
                market_id=market.id,
                currency=market.currency,
                effective_from=clock.now() - timedelta(days=1),
            )
            made += 1
    stdout.write(f"  rate cards: {made} new")


def _driver_id(local: str) -> int | None:
    user = get_user_model().objects.filter(username=f"{local}@{drivers_demo.DOMAIN}").first()
    driver = driver_selectors.driver_get_for_user(user_id=user.pk) if user else None
    if driver is None or not driver_selectors.driver_can_go_online(driver_id=driver.id):
        return None
    return driver.id


def seed(stdout: Any) -> None:
    _rate_cards(stdout)
    online = []
    for local, (dlat, dlng) in ONLINE:
        driver_id = _driver_id(local)
        if driver_id is None:
            continue
        if selectors.trip_current_for_driver(driver_id=driver_id) is None:
            services.driver_go_online(driver_id=driver_id, lat=STORE[0] + dlat, lng=STORE[1] + dlng)
        online.append(local)
    stdout.write(f"  drivers online near Demo Mart Dickerson Pike: {', '.join(online) or 'none'}")
    stdout.write(
        f"  Dispatch walk-through: log in at {settings.SITE_URL}/driver/login/ as "
        f"{WALK_THROUGH}@{drivers_demo.DOMAIN} / {drivers_demo.PASSWORD}, open "
        f"{settings.SITE_URL}/driver/work/ and keep it open; make an order ready with the API "
        "(README, steps 3 and 5 without the cancel): the offer appears within seconds."
    )

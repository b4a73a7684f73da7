"""The rows a simulated day runs on, namespaced per run so that runs never meet.

Each run gets its own market (the demo seed's definition of the city, under the slug
`<city>-sim-<n>`), its own copies of the city's stores, its own merchant (with no webhook
endpoints, so nothing leaves the machine) and its own approved drivers. Nothing the demo's
log-ins see is touched, and a second run with the same seed starts from an identical world.
The ledger is append-only, so earlier runs are kept rather than deleted; each run's market is
switched off when it ends, so the live dispatch beat never picks it up.

Drivers are created as rows in the state onboarding leaves them in (approved, documents approved
and current, a vehicle), the way the dispatch benchmarks do: the simulator exercises the day's
work, not sign-up and screening, which have their own tests.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction

from dispatch.models import RateCard
from drivers.models import Document, Driver, DriverEvent, Vehicle
from orders.models import Market, Merchant, Store
from spark.demo.management.commands.seed_demo import MARKETS, WEEK_HOURS
from spark.sim.world import DriverPlan

SIM_EMAIL_DOMAIN = "sim.spark.local"
DRIVER_FIRST_NAMES = ("Ari", "Blake", "Cam", "Dana", "Eli", "Frankie", "Gray", "Hayden")


@dataclass(frozen=True)
class SimRows:
    market: Market
    merchant: Merchant
    stores: list[Store]
    driver_ids: list[int]  # by DriverPlan.index


def city_spec(slug: str) -> dict:
    for spec in MARKETS:
        if spec["slug"] == slug:
            return spec
    known = ", ".join(s["slug"] for s in MARKETS)
    raise ValueError(f"unknown market {slug!r} (the demo seed defines: {known})")


def _next_number(city: str) -> int:
    prefix = f"{city}-sim-"
    taken = [
        int(s.removeprefix(prefix))
        for s in Market.objects.filter(slug__startswith=prefix).values_list("slug", flat=True)
        if s.removeprefix(prefix).isdigit()
    ]
    return max(taken, default=0) + 1


@transaction.atomic
def rows_create(*, city: str, drivers: tuple[DriverPlan, ...], day: date) -> SimRows:
    spec = city_spec(city)
    n = _next_number(city)
    market = Market.objects.create(
        slug=f"{city}-sim-{n}",
        name=f"{spec['name']} (simulation {n})",
        timezone="America/Chicago",
        currency="USD",
        centre_lat=spec["centre"][0],
        centre_lng=spec["centre"][1],
    )
    merchant = Merchant.objects.create(slug=f"sim-{city}-{n}", name=f"Simulated shop {n}")
    stores = [
        Store.objects.create(
            market=market,
            merchant=merchant,
            name=f"{name} (sim {n})",
            address=address,
            lat=lat,
            lng=lng,
            opening_hours=WEEK_HOURS,
        )
        for name, address, lat, lng in spec["stores"]
    ]
    start = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(market.timezone))
    RateCard.objects.create(market=market, effective_from=start - timedelta(days=7))
    ids = _drivers_create(market, n, drivers, start)
    return SimRows(market=market, merchant=merchant, stores=stores, driver_ids=ids)


def _drivers_create(
    market: Market, n: int, plans: tuple[DriverPlan, ...], at: datetime
) -> list[int]:
    user_model = get_user_model()
    users = [
        user_model(
            username=f"sim{n}-{market.slug}-{p.index:04d}@{SIM_EMAIL_DOMAIN}",
            email=f"sim{n}-{market.slug}-{p.index:04d}@{SIM_EMAIL_DOMAIN}",
            first_name=DRIVER_FIRST_NAMES[p.index % len(DRIVER_FIRST_NAMES)],
            last_name=f"Sim{p.index:04d}",
        )
        for p in plans
    ]
    for user in users:
        user.set_unusable_password()  # simulated people never log in
    users = user_model.objects.bulk_create(users, batch_size=1000)
    drivers = Driver.objects.bulk_create(
        [
            Driver(
                user=u,
                home_market=market,
                phone="+1 615 555 0199",
                status=Driver.Status.APPROVED,
                status_changed_at=at,
                is_21_plus=p.is_21_plus,
                age_attested_at=at,
                no_alcohol=p.no_alcohol,
            )
            for u, p in zip(users, plans, strict=True)
        ],
        batch_size=1000,
    )
    _onboarding_rows(drivers, at)
    return [d.id for d in drivers]


def _onboarding_rows(drivers: list[Driver], at: datetime) -> None:
    Vehicle.objects.bulk_create(
        [
            Vehicle(driver=d, make="Toyota", model="Corolla", year=2020, cargo_capacity_units=12)
            for d in drivers
        ],
        batch_size=1000,
    )
    expires = (at + timedelta(days=365)).date()
    Document.objects.bulk_create(
        [
            Document(
                driver=d,
                kind=kind,
                file=f"sim/{kind}.png",  # no file: a simulated driver's documents are not read
                content_type="image/png",
                size_bytes=1,
                sha256="0" * 64,
                expires_on=expires,
                status=Document.Status.APPROVED,
                reviewed_at=at,
            )
            for d in drivers
            for kind in Document.REQUIRED
        ],
        batch_size=2000,
    )
    DriverEvent.objects.bulk_create(
        [
            DriverEvent(
                driver=d,
                from_status=Driver.Status.APPLIED,
                to_status=Driver.Status.APPROVED,
                actor_label="system:simulator",
                reason="Simulated driver, created approved by manage.py simulate.",
                at=at,
                notified_at=at,  # nobody to tell
            )
            for d in drivers
        ],
        batch_size=1000,
    )


def market_close(market: Market) -> None:
    """Switch the run's market off: the live beat must not dispatch in it after the run."""
    Market.objects.filter(id=market.id).update(is_active=False)

"""Idempotent demo data: two markets where Spark Delivery was first tried, stores at real
coordinates, a merchant with a documented API key, store staff, an ops superuser and drivers.

Running it again changes nothing that exists; it prints the log-ins every time.
"""

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dispatch import demo as dispatch_demo
from dispatch import demo_blocks
from drivers import demo as drivers_demo
from orders.models import ApiKey, Market, Merchant, Store, StoreMembership
from orders.services import api_key_create

DEMO_API_KEY = "spk_demo0001_DemoMartNashvilleNewOrleansKey"
OPS_LOGIN = ("ops", "spark-ops-demo")
STORE_LOGIN = ("store", "spark-store-demo")
DEMO_NAMESPACE = uuid.UUID("5a9d1f0e-6c1b-4f2a-9d57-0b1e2c3d4e5f")
WEEK_HOURS = {d: [["07:00", "23:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
# The README's walk-through store takes orders around the clock (no hours: always open), so the
# walk-through works whenever someone tries it; the others keep a grocery's hours.
WALK_THROUGH_STORE = "Demo Mart Dickerson Pike"

MARKETS = [
    {
        "slug": "nashville",
        "name": "Nashville",
        "centre": (36.1627, -86.7816),
        "stores": [
            (
                "Demo Mart Dickerson Pike",
                "3458 Dickerson Pike, Nashville, TN 37207",
                36.2291,
                -86.7595,
            ),
            (
                "Demo Mart Charlotte Pike",
                "7044 Charlotte Pike, Nashville, TN 37209",
                36.1364,
                -86.8947,
            ),
            (
                "Demo Mart Nolensville Pike",
                "5824 Nolensville Pike, Nashville, TN 37211",
                36.0423,
                -86.7127,
            ),
        ],
    },
    {
        "slug": "new-orleans",
        "name": "New Orleans",
        "centre": (29.9511, -90.0715),
        "stores": [
            (
                "Demo Mart Tchoupitoulas",
                "1901 Tchoupitoulas St, New Orleans, LA 70130",
                29.9246,
                -90.0697,
            ),
            (
                "Demo Mart Behrman Place",
                "4001 Behrman Pl, New Orleans, LA 70114",
                29.9210,
                -90.0197,
            ),
            (
                "Demo Mart Bullard Avenue",
                "6000 Bullard Ave, New Orleans, LA 70128",
                30.0346,
                -89.9794,
            ),
        ],
    },
]


class Command(BaseCommand):
    help = "Load idempotent demo data and print the log-ins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="Allow on a production setup.")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.EMBEDDED and not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo data into a production database; --force.")
        with transaction.atomic():
            stores = self._markets_and_stores()
            self._users(stores)
        driver_logins = drivers_demo.seed_drivers()
        self._print_logins(stores)
        self.stdout.write(
            f"  Driver portal   {settings.SITE_URL}/driver/   (password for all: "
            f"{drivers_demo.PASSWORD})"
        )
        for status, email, _password in driver_logins:
            self.stdout.write(f"      {status:<18} {email}")
        dispatch_demo.seed(self.stdout)
        demo_blocks.seed(self.stdout)

    def _markets_and_stores(self) -> list[Store]:
        merchant, _ = Merchant.objects.get_or_create(
            slug="demo-mart", defaults={"name": "Demo Mart"}
        )
        if not ApiKey.objects.filter(prefix=DEMO_API_KEY.split("_")[1]).exists():
            api_key_create(merchant=merchant, name="demo", raw_key=DEMO_API_KEY)
        stores = []
        for spec in MARKETS:
            market, _ = Market.objects.get_or_create(
                slug=spec["slug"],
                defaults={
                    "name": spec["name"],
                    "timezone": "America/Chicago",
                    "currency": "USD",
                    "centre_lat": spec["centre"][0],
                    "centre_lng": spec["centre"][1],
                },
            )
            for name, address, lat, lng in spec["stores"]:
                store, _ = Store.objects.get_or_create(
                    merchant=merchant,
                    name=name,
                    defaults={
                        # Fixed ids, so the README's walk-through works as printed.
                        "public_id": uuid.uuid5(DEMO_NAMESPACE, name),
                        "market": market,
                        "address": address,
                        "lat": lat,
                        "lng": lng,
                        "opening_hours": {} if name == WALK_THROUGH_STORE else WEEK_HOURS,
                        "pickup_instructions": "Park in the pickup bays by the grocery entrance "
                        "and tell the associate your order's pickup code.",
                    },
                )
                stores.append(store)
        self.stdout.write(f"  markets: 2, stores: {len(stores)}, merchant: {merchant.name}")
        return stores

    def _users(self, stores: list[Store]) -> None:
        user_model = get_user_model()
        ops, created = user_model.objects.get_or_create(
            username=OPS_LOGIN[0],
            defaults={"is_staff": True, "is_superuser": True, "email": "ops@spark.local"},
        )
        if created:
            ops.set_password(OPS_LOGIN[1])
            ops.save(update_fields=["password"])
        staff, created = user_model.objects.get_or_create(
            username=STORE_LOGIN[0], defaults={"email": "store@spark.local", "first_name": "Sam"}
        )
        if created:
            staff.set_password(STORE_LOGIN[1])
            staff.save(update_fields=["password"])
        StoreMembership.objects.get_or_create(
            user=staff, store=stores[0], defaults={"role": StoreMembership.Role.MANAGER}
        )

    def _print_logins(self, stores: list[Store]) -> None:
        site = settings.SITE_URL
        store = stores[0]
        self.stdout.write(self.style.SUCCESS("\nSpark demo is ready.\n"))
        self.stdout.write(
            f"  Home            {site}/\n"
            f"  API docs        {site}/api/docs/\n"
            f"  Admin (ops)     {site}/admin/   log in as {OPS_LOGIN[0]} / {OPS_LOGIN[1]}\n"
            f"  Store staff     log in as {STORE_LOGIN[0]} / {STORE_LOGIN[1]} ({store.name})\n"
            f"  Health          {site}/healthz\n"
            f"  Merchant API key (Demo Mart):\n"
            f"      export SPARK_KEY={DEMO_API_KEY}\n"
            f"  Demo store id ({store.name}):\n"
            f"      export STORE_ID={store.public_id}\n"
        )

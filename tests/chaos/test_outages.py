"""Q2 and Q3: the app server (gunicorn, as in the Procfile) under steady load while its Redis
or its PostgreSQL is stopped and started again. Both are throwaway servers of this test.

During an outage the API may answer 503 (with Retry-After), never 500; afterwards it recovers
on its own, within 30 s, and nothing written before, during or after is lost.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from django.utils import timezone

from dispatch.auth import driver_token_for
from orders import services as order_services
from orders.models import Order, WebhookDelivery
from payouts import services as payout_services
from payouts.models import Payout, SandboxTransfer
from tests.chaos.conftest import FULL, size
from tests.chaos.helpers import ledger_invariants
from tests.chaos.load import Beat, Load
from tests.chaos.procs import wait_until
from tests.chaos.receiver import Receiver
from tests.factories import MarketFactory, MerchantFactory, StoreFactory
from tests.orders.helpers import order_payload
from tests.payouts import factories

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

RELAY = "orders.tasks.webhook_deliveries_send"
RESUME = "payouts.tasks.payouts_resume"
PENDING_DELIVERIES = "SELECT count(*) FROM orders_webhookdelivery WHERE status = 'pending'"
CSRF = "chaoscsrfsecret0123456789abcdefg"  # a 32-character CSRF secret, sent as cookie + header
RECOVERY_LIMIT_S = 30


@dataclass(frozen=True)
class Driver:
    id: int
    session: str  # a logged-in portal session
    token: str  # the phone's driver token (location pings)


@dataclass(frozen=True)
class World:
    store: object
    api_key: str
    drivers: list[Driver]


def a_world(*, drivers: int, webhook_url: str = "") -> tuple[World, str]:
    """A merchant with a store and an API key (and a webhook endpoint), and drivers who have
    earned this week and are logged in to the portal. Returns the world and the endpoint's
    signing secret."""
    secret = ""
    with transaction.atomic():
        market = MarketFactory(timezone="America/Chicago")
        factories.rate_card(market)
        store = StoreFactory(market=market, merchant=MerchantFactory())
        _, raw_key = order_services.api_key_create(merchant=store.merchant)
        if webhook_url:
            secret = order_services.webhook_endpoint_create(
                merchant=store.merchant, url=webhook_url
            ).secret
        people = []
        for _ in range(drivers):
            d = factories.driver(market)
            factories.completed_trip(
                driver=d, store=store, completed_at=timezone.now() - timedelta(hours=1)
            )
            session = SessionStore()
            session[SESSION_KEY] = str(d.user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = d.user.get_session_auth_hash()
            session.create()
            token = driver_token_for(driver_id=d.id, market_id=market.id)
            people.append(Driver(d.id, session.session_key, token))
    payout_services.earnings_post()
    return World(store, raw_key, people), secret


class Client:
    """The requests of a shop, a driver's phone and a driver's browser, against one server."""

    def __init__(self, base: str, world: World):
        self.base, self.world = base, world
        self.bearer = {"Authorization": f"Bearer {world.api_key}"}
        self.created: list[str] = []  # public ids of the orders answered 201

    def orders_list(self, s: requests.Session, n: int) -> requests.Response:
        return s.get(f"{self.base}/api/v1/orders", headers=self.bearer, timeout=15)

    def orders_create(self, s: requests.Session, n: int) -> requests.Response:
        payload = order_payload(self.world.store, external_order_id=f"CHAOS-{n}")
        response = s.post(
            f"{self.base}/api/v1/orders", json=payload, headers=self.bearer, timeout=15
        )
        if response.status_code == 201:
            self.created.append(response.json()["id"])
        return response

    def healthz(self, s: requests.Session, n: int) -> requests.Response:
        return s.get(f"{self.base}/healthz", timeout=15)

    def portal(self, s: requests.Session, n: int) -> requests.Response:
        driver = self.world.drivers[0]
        return s.get(
            f"{self.base}/driver/earnings/",
            headers={"Cookie": f"sessionid={driver.session}"},
            allow_redirects=False,
            timeout=15,
        )

    def ping(self, s: requests.Session, n: int) -> requests.Response:
        driver = self.world.drivers[n % len(self.world.drivers)]
        return s.post(
            f"{self.base}/api/v1/driver/location",
            json={"lat": 36.16 + (n % 100) / 10_000, "lng": -86.78},
            headers={"Authorization": f"Driver {driver.token}"},
            timeout=15,
        )

    def instant_pay(self, driver: Driver) -> requests.Response:
        return requests.post(
            f"{self.base}/driver/earnings/instant-pay/",
            headers={
                "Cookie": f"sessionid={driver.session}; csrftoken={CSRF}",
                "X-CSRFToken": CSRF,
            },
            allow_redirects=False,
            timeout=15,
        )


def server_errors(answers) -> list:
    """5xx answers other than 503, and requests that got no HTTP answer at all."""
    return [a for a in answers if a.status is None or (a.status >= 500 and a.status != 503)]


def outage_statuses(answers, down: float, up: float) -> dict[str, set]:
    """Kind -> statuses of the requests sent while the server was down and answered before it
    was back (a request sent just before the restart may rightly succeed after it)."""
    statuses: dict[str, set] = {}
    for a in answers:
        if down + 0.2 <= a.started and a.finished <= up:
            statuses.setdefault(a.kind, set()).add(a.status)
    return statuses


def log_500s(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if "Internal Server Error" in line or '" 500 ' in line or "Traceback" in line
    ]


# --- Q3 ----------------------------------------------------------------------------------------


def test_q3_postgres_restart_gives_503_not_500_and_recovers_on_its_own(
    procs, app_env, broker, figures
):
    receiver = Receiver()
    try:
        world, secret = a_world(drivers=2, webhook_url=receiver.url("/hooks"))
        receiver.secrets["/hooks"] = secret
        cluster = procs.postgres()
        cluster.copy_database(source=_source(), name="spark")
        env = {**app_env, "DATABASE_URL": cluster.url("spark")}
        worker = procs.worker(env, wait=False)  # starts while gunicorn does
        web, base = procs.web(env)
        procs.wait_worker(worker)
        client = Client(base, world)
        kinds = {
            "orders.list": client.orders_list,
            "orders.create": client.orders_create,
            "healthz": client.healthz,
            "portal": client.portal,
            "ping": client.ping,
        }
        outage = size(3, 10)
        with Beat(broker, [RELAY]), Load(kinds) as load:
            time.sleep(1.5)
            healthy = load.between(0)
            cluster.stop("fast")
            down = time.monotonic()
            time.sleep(outage)
            up = time.monotonic()
            cluster.start()
            recovery = load.wait_recovered(up, timeout=RECOVERY_LIMIT_S + 10)
            time.sleep(1)
            load.stop()

            def pending() -> int:
                return int(cluster.psql(PENDING_DELIVERIES, db="spark"))

            # The worker's sweeps go on after the restart, with no one restarting it.
            wait_until(lambda: pending() == 0, timeout=60, what="the outbox to drain", step=0.5)
        answers = load.answers
        during = outage_statuses(answers, down, up)

        assert healthy
        assert all(a.ok for a in healthy), [a for a in healthy if not a.ok][:5]
        assert not server_errors(answers), server_errors(answers)[:5]
        for kind in ("orders.list", "orders.create", "healthz", "portal"):
            assert during.get(kind) == {503}, during
        # A location ping needs no PostgreSQL: it keeps working through the outage.
        assert during.get("ping") == {200}, during
        assert recovery <= RECOVERY_LIMIT_S
        assert not log_500s(web.log_text()), log_500s(web.log_text())[:10]
        assert worker.alive
        # Every order the API confirmed is stored, and its webhooks reached the shop.
        confirmed = set(client.created)
        ids = "','".join(str(uuid.UUID(i)) for i in confirmed)  # only UUIDs go into the SQL
        stored = cluster.psql(
            f"SELECT count(*) FROM orders_order WHERE public_id IN ('{ids}')",  # noqa: S608
            db="spark",
        )
        assert int(stored) == len(confirmed)
        events_sql = (
            "SELECT e.public_id FROM orders_webhookevent e JOIN orders_order o "  # noqa: S608
            f"ON o.id = e.order_id WHERE o.public_id IN ('{ids}')"
        )
        events = cluster.psql(events_sql, db="spark").split()
        assert len(events) >= len(confirmed)
        assert set(events) <= set(receiver.effects)
        figures(
            f"Q3 outage_s={outage} requests={len(answers)} answers_during_outage={during} "
            f"500s=0 recovery_s={recovery:.1f} orders_confirmed={len(confirmed)} "
            f"webhooks_delivered={len(events)} lost=0 worker_restarted=False"
        )
    finally:
        receiver.close()


def _source() -> dict:
    from django.db import connection

    db = connection.settings_dict
    return {
        "HOST": db.get("HOST") or "127.0.0.1",
        "PORT": db.get("PORT") or 5432,
        "USER": db["USER"],
        "NAME": db["NAME"],
    }


# --- Q2 ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not FULL, reason="runs in `make chaos` (SPARK_CHAOS_FULL=1)")
def test_q2_redis_restart_under_load_loses_no_event_and_recovers(
    procs, redis_server, app_env, broker, figures
):
    receiver = Receiver()
    try:
        world, secret = a_world(drivers=6, webhook_url=receiver.url("/hooks"))
        receiver.secrets["/hooks"] = secret
        worker = procs.worker(app_env, wait=False)  # starts while gunicorn does
        web, base = procs.web(app_env)
        procs.wait_worker(worker)
        client = Client(base, world)
        kinds = {
            "orders.create": client.orders_create,
            "orders.list": client.orders_list,
            "healthz": client.healthz,
            "portal": client.portal,
            "ping": client.ping,
        }
        outage = 15
        pays = {}
        d = world.drivers
        with Beat(broker, [RELAY, RESUME]) as beat, Load(kinds) as load:
            time.sleep(1.5)
            healthy = load.between(0)
            for driver in d[:2]:
                pays[driver.id] = client.instant_pay(driver).status_code
            redis_server.stop()
            down = time.monotonic()
            time.sleep(outage / 2)
            for driver in d[2:4]:  # instant pay while the broker is down
                pays[driver.id] = client.instant_pay(driver).status_code
            time.sleep(outage / 2)
            up = time.monotonic()
            redis_server.start()
            recovery = load.wait_recovered(up, timeout=RECOVERY_LIMIT_S + 10)
            for driver in d[4:]:
                pays[driver.id] = client.instant_pay(driver).status_code
            time.sleep(1)
            load.stop()

            # Beat's sweeps (the relay every 5 s, the payout resume every 5 min) finish what
            # lost its task with the broker, on the same worker, which reconnected by itself.
            def settled() -> bool:
                pending = WebhookDelivery.objects.filter(status="pending").exists()
                return not pending and not Payout.objects.exclude(status="paid").exists()

            wait_until(settled, timeout=120, what="the outbox and the payouts to drain", step=0.5)
        answers = load.answers
        statuses = outage_statuses(answers, down, up)

        assert healthy
        assert all(a.ok for a in healthy), [a for a in healthy if not a.ok][:5]
        assert not server_errors(answers), server_errors(answers)[:5]
        # PostgreSQL holds the orders and their outbox: the shop API does not need Redis.
        assert statuses.get("orders.create") == {201}, statuses
        assert statuses.get("orders.list") == {200}, statuses
        assert statuses.get("portal") == {200}, statuses
        assert statuses.get("healthz") == {503}, statuses  # the broker is down
        assert statuses.get("ping") == {503}, statuses  # positions live in Redis
        assert set(pays.values()) == {302}, pays  # every instant pay was taken
        assert recovery <= RECOVERY_LIMIT_S
        assert not log_500s(web.log_text()), log_500s(web.log_text())[:10]

        assert worker.alive  # the same worker process all along
        log = worker.log_text()
        lost = log.find("Connection to broker lost")
        assert lost != -1, worker.tail()
        assert "Connected to redis" in log[lost:], worker.tail()
        # 0 lost outbox events: every confirmed order's webhooks reached the shop.
        orders = Order.objects.filter(public_id__in=client.created)
        assert orders.count() == len(set(client.created))
        events = set(
            WebhookDelivery.objects.filter(order__in=orders).values_list(
                "event__public_id", flat=True
            )
        )
        assert len(events) >= orders.count()
        assert events <= set(receiver.effects)
        # 0 lost money events: each instant payout paid once.
        payouts = list(Payout.objects.all())
        assert sorted(p.driver_id for p in payouts) == sorted(pays)
        assert {p.status for p in payouts} == {"paid"}
        keys = [p.idempotency_key for p in payouts]
        assert SandboxTransfer.objects.filter(idempotency_key__in=keys).count() == len(payouts)
        assert SandboxTransfer.objects.count() == len(payouts)
        assert ledger_invariants() == (0, 0)
        figures(
            f"Q2 outage_s={outage} requests={len(answers)} answers_during_outage={statuses} "
            f"500s=0 "
            f"recovery_s={recovery:.1f} orders_confirmed={orders.count()} "
            f"webhooks_delivered={len(events)} lost=0 instant_payouts={len(payouts)} "
            f"paid_once={len(payouts)} worker_reconnected_by_itself=True "
            f"beat_sends_missed_during_outage={beat.missed}"
        )
    finally:
        receiver.close()

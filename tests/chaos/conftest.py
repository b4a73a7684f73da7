"""Chaos tests: real processes killed with `kill -9`, real servers stopped and restarted.

`make test` runs the fast set (small N); `make chaos` sets SPARK_CHAOS_FULL=1 for the full sizes
of RELIABILITY.md section 7 (20 settlement kills, 10,000 webhook events, longer outages).
Every test owns its processes (a throwaway Redis per test, workers, gunicorn, a PostgreSQL
cluster for Q3) and the `procs` fixture kills them all at teardown, pass or fail.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created

from tests.chaos.procs import APP_NAME, SETTINGS, Processes, Redis, wait_until

FULL = os.environ.get("SPARK_CHAOS_FULL") == "1"


def size(fast: int, full: int) -> int:
    return full if FULL else fast


_FIGURES: list[str] = []


@pytest.fixture
def figures(request):
    """Record a test's measured figures; they are printed at the end of the run."""

    def record(line: str) -> None:
        _FIGURES.append(f"{request.node.name}: {line}")

    return record


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("chaos figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.chaos_failed = report.failed
    return report


def database_url(db: dict, *, app: str = APP_NAME) -> str:
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}?application_name={app}"


@pytest.fixture
def procs(request, transactional_db):
    """The process registry of one test. Teardown kills every process it started, then ends
    any database session they left behind, before pytest-django empties the tables."""
    tmp = Path(tempfile.mkdtemp(prefix="spark-chaos-"))
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp)),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_DEBUG": "False",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SPARK_VAR_DIR": str(tmp / "var"),
        "SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS": "True",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    registry = Processes(tmp, base_env)
    try:
        yield registry
    finally:
        failed = getattr(request.node, "chaos_failed", True)
        if failed:
            print(registry.tails())  # noqa: T201 (shown with the failure)
        registry.close()
        _end_leftover_sessions()
        if failed:
            print(f"chaos logs kept in {tmp}")  # noqa: T201
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _end_leftover_sessions() -> None:
    """A killed worker's connection may still be running its last statement on the server."""
    sql = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE %s"
    )
    count = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    count += "AND application_name LIKE %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [f"{APP_NAME}%"])

        def gone() -> bool:
            cursor.execute(count, [f"{APP_NAME}%"])
            return cursor.fetchone()[0] == 0

        wait_until(gone, timeout=30, what="the chaos processes' database sessions to end")


@pytest.fixture
def redis_server(procs) -> Redis:
    """A throwaway redis-server for this test only (broker and cache of its processes)."""
    return procs.redis()


@pytest.fixture
def app_env(procs, redis_server) -> dict[str, str]:
    """The environment of a worker or web process: this test's database and Redis."""
    return {"REDIS_URL": redis_server.url()}


@pytest.fixture
def broker(redis_server):
    """What the test uses to enqueue tasks (as beat or an app process would): a Celery client
    on the throwaway Redis. The project's app stays eager and on the shared Redis."""
    client = Celery("spark-chaos-client", broker=redis_server.url(), set_as_current=False)
    client.conf.update(task_serializer="json", accept_content=["json"])
    yield client
    client.close()


@pytest.fixture
def fast_commits():
    """The test's own connection commits thousands of small transactions (test data, W4's
    relays in virtual time): it does not wait for the shared server's disk flush on each. What
    is committed, and in which order, is unchanged; the app processes keep the defaults."""

    def no_flush_wait(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")

    connection_created.connect(no_flush_wait)
    connection.close()
    yield
    connection_created.disconnect(no_flush_wait)
    connection.close()

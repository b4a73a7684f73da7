"""The authorization tests' city (tests/security/world.py), built once for this package, and a
client per role.

Building the city takes a dispatch round and a dozen users, so it is built once, inside a
transaction of its own that is rolled back when the last test of tests/security/ is done; each
test runs in a savepoint inside it (pytest-django's `db`), so what one test changes the next
never sees. (No test here may use `transaction=True`: it would run inside that transaction.)
"""

import pytest
from django.db import transaction
from django.test import Client, override_settings
from rest_framework.test import APIClient

from tests.security.world import World, build_world

MD5 = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("private")


@pytest.fixture(autouse=True)
def _media(settings, media_root):
    settings.MEDIA_ROOT = media_root


@pytest.fixture(scope="package")
def package_world(django_db_setup, django_db_blocker, media_root):
    from spark.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEDIA_ROOT=media_root, PASSWORD_HASHERS=MD5, SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS=True
        ),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            app.conf.task_always_eager = eager
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def world(package_world, db) -> World:
    return package_world


def api_client(world: World, role: str) -> APIClient:
    """The role on the API: drivers with their DRF token, merchants with their API key,
    staff and ops with a session."""
    principal = world.roles[role]
    client = APIClient()
    client.raise_request_exception = False  # a 500 is a finding to report, not a crash
    if principal.token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {principal.token}")
    elif principal.api_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {principal.api_key}")
    elif principal.user is not None:
        client.force_login(principal.user)
    return client


def page_client(world: World, role: str) -> Client:
    """The role on the HTML pages: a session for users; a merchant sends its API key, which
    pages must ignore."""
    principal = world.roles[role]
    if principal.api_key:
        return Client(
            raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {principal.api_key}"
        )
    client = Client(raise_request_exception=False)
    if principal.user is not None:
        client.force_login(principal.user)
    return client


def pytest_terminal_summary(terminalreporter):
    """F1's figures: how many cases schemathesis sent, per role."""
    import sys

    fuzz = sys.modules.get("tests.security.test_api_fuzz")
    if fuzz is not None and fuzz.CALLS:
        calls = ", ".join(f"{role} {n}" for role, n in sorted(fuzz.CALLS.items()))
        terminalreporter.write_line(f"schemathesis cases sent: {calls}")

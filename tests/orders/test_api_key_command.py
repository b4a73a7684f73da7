"""`manage.py create_api_key`: the documented way to issue a shop's key."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_a_key_that_authenticates_once_shown(merchant):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", merchant.slug, "--name", "2026-q4", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("spk_")
    assert "not shown again" in err.getvalue()
    assert merchant.api_keys.get().name == "2026-q4"
    assert raw not in str(list(merchant.api_keys.values()))  # only the digest is stored
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/orders").status_code == 200


def test_create_api_key_refuses_an_unknown_merchant(db):
    with pytest.raises(CommandError, match="No merchant"):
        call_command("create_api_key", "nobody", stdout=StringIO(), stderr=StringIO())

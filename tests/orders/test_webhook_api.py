import pytest

from orders.models import WebhookEndpoint
from tests.conftest import api_client_for
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def test_webhook_create_shows_the_secret_once(api):
    created = api.post("/api/v1/webhooks", {"url": "https://shop.example.com/h"}, format="json")
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhooks").json()
    assert listed[0]["id"] == created.json()["id"]
    assert "secret" not in listed[0]


def test_webhook_rotate_returns_a_new_secret(api):
    created = api.post("/api/v1/webhooks", {"url": "https://shop.example.com/h"}, format="json")
    rotated = api.post(f"/api/v1/webhooks/{created.json()['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created.json()["secret"]


def test_webhook_delete_and_foreign_delete_is_404(api, merchant):
    other = api_client_for(MerchantFactory())
    created = api.post("/api/v1/webhooks", {"url": "https://shop.example.com/h"}, format="json")
    wid = created.json()["id"]
    assert other.delete(f"/api/v1/webhooks/{wid}").status_code == 404
    assert other.post(f"/api/v1/webhooks/{wid}/rotate-secret").status_code == 404
    assert other.get("/api/v1/webhooks").json() == []
    assert api.delete(f"/api/v1/webhooks/{wid}").status_code == 204
    assert api.delete(f"/api/v1/webhooks/{wid}").status_code == 404
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["not a url", "ftp://shop.example.com/h", "", "javascript:x"])
def test_webhook_create_rejects_bad_urls(api, url):
    response = api.post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code in (400, 422)

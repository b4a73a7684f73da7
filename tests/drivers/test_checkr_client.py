"""The Checkr adapter against recorded responses (requests patched at the adapter: no network)."""

import base64
import json
from pathlib import Path

import pytest
import requests

from drivers import screening, services
from drivers.models import Document, Driver
from drivers.screening import checkr
from spark.lib.actors import Actor
from spark.lib.errors import ServiceUnavailable
from tests.drivers import factories

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "checkr"
BASE = "https://api.checkr-staging.com/v1"


def recorded(name: str, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (FIXTURES / name).read_bytes()
    response.headers["Content-Type"] = "application/json"
    return response


class Recorder:
    """Stands in for Session.request: answers from the recordings and keeps what was sent."""

    def __init__(self, routes: dict[tuple[str, str], requests.Response | Exception]):
        self.routes, self.calls = routes, []

    def __call__(self, session, method, url, **kwargs):
        self.calls.append({"method": method, "url": url, "auth": session.auth, **kwargs})
        answer = self.routes[(method, url)]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def provider():
    return checkr.CheckrProvider(api_key="test_key_123", base_url=BASE)


def _patch(monkeypatch, routes):
    recorder = Recorder(routes)

    def request(session, method, url, **kwargs):  # a function, so that it binds as a method
        return recorder(session, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    return recorder


def test_candidate_create_sends_name_and_email_only(monkeypatch, provider):
    rec = _patch(monkeypatch, {("POST", f"{BASE}/candidates"): recorded("candidate_create.json")})
    candidate_id = provider.candidate_create(
        reference="driver-17", email="nia.ortiz@example.com", first_name="Nia", last_name="Ortiz"
    )
    assert candidate_id == "e44aa283528e6fde7d542194"
    (call,) = rec.calls
    assert call["auth"] == ("test_key_123", "")
    assert call["timeout"] == 10.0
    assert set(call["json"]) == {"custom_id", "email", "first_name", "last_name"}


def test_invitation_create_returns_hosted_url(monkeypatch, provider):
    rec = _patch(monkeypatch, {("POST", f"{BASE}/invitations"): recorded("invitation_create.json")})
    invitation = provider.invitation_create(
        candidate_id="e44aa283528e6fde7d542194",
        package="driver_pro",
        work_location={"country": "US", "city": "Nashville"},
    )
    assert invitation == screening.Invitation(
        id="bd4ea7bf0e2cdec8a6b3b3e2",
        url="https://apply.checkr.com/invite/spark/0f4bd3a1/fac8e6d5bd3a",
        status="pending",
        candidate_id="e44aa283528e6fde7d542194",
    )
    assert rec.calls[0]["json"]["work_locations"] == [{"country": "US", "city": "Nashville"}]


def test_report_get_reads_status_and_result(monkeypatch, provider):
    url = f"{BASE}/reports/4722c07dd9a10c3985ae432a"
    _patch(monkeypatch, {("GET", url): recorded("report_complete_clear.json")})
    report = provider.report_get(report_id="4722c07dd9a10c3985ae432a")
    assert (report.status, report.result, report.package) == ("complete", "clear", "driver_pro")


def test_api_error_and_timeout_raise_screening_error(monkeypatch, provider):
    _patch(
        monkeypatch,
        {
            ("POST", f"{BASE}/invitations"): recorded("error_invalid_package.json", status=400),
            ("POST", f"{BASE}/candidates"): requests.Timeout("slow"),
        },
    )
    with pytest.raises(screening.ScreeningError, match="Package not found"):
        provider.invitation_create(candidate_id="c", package="nope", work_location={})
    with pytest.raises(screening.ScreeningError, match="unreachable"):
        provider.candidate_create(reference="r", email="e@x.com", first_name="a", last_name="b")


def test_recorded_webhooks_parse_to_events():
    body = (FIXTURES / "webhook_report_completed_consider.json").read_bytes()
    event = screening.event_parse(body)
    assert (event.type, event.report_id, event.candidate_id, event.result) == (
        "report.completed",
        "4722c07dd9a10c3985ae432a",
        "e44aa283528e6fde7d542194",
        "consider",
    )
    invitation = screening.event_parse(
        (FIXTURES / "webhook_invitation_completed.json").read_bytes()
    )
    assert invitation.invitation_id == "bd4ea7bf0e2cdec8a6b3b3e2"
    assert invitation.report_id == "4722c07dd9a10c3985ae432a"


def test_screening_with_checkr_end_to_end(monkeypatch, settings, client):
    settings.USE_CHECKR, settings.SCREENING_PROVIDER = True, "checkr"
    settings.CHECKR_API_KEY, settings.CHECKR_BASE_URL = "test_key_123", BASE
    settings.CHECKR_WEBHOOK_SECRETS = ["test_key_123"]
    rec = _patch(
        monkeypatch,
        {
            ("POST", f"{BASE}/candidates"): recorded("candidate_create.json"),
            ("POST", f"{BASE}/invitations"): recorded("invitation_create.json"),
        },
    )
    driver = factories.driver_in(Driver.Status.DOCUMENTS_PENDING)
    factories.documents_for(driver, Document.Status.APPROVED)

    check = services.background_check_start(driver_id=driver.id, actor=Actor.system("t"))

    assert [c["url"] for c in rec.calls] == [f"{BASE}/candidates", f"{BASE}/invitations"]
    assert check.invitation_url.startswith("https://apply.checkr.com/")
    for name in ("webhook_invitation_completed.json", "webhook_report_completed_consider.json"):
        body = (FIXTURES / name).read_bytes()
        response = client.post(
            "/api/v1/webhooks/screening/checkr",
            body,
            content_type="application/json",
            headers={"X-Checkr-Signature": checkr.signature("test_key_123", body)},
        )
        assert response.status_code == 200
    check.refresh_from_db()
    driver.refresh_from_db()
    assert (check.status, check.result, check.report_id) == (
        "complete",
        "consider",
        "4722c07dd9a10c3985ae432a",
    )
    assert check.needs_review
    assert driver.status == Driver.Status.SCREENING


def test_provider_outage_leaves_no_check_and_says_try_again(monkeypatch, settings):
    settings.USE_CHECKR, settings.SCREENING_PROVIDER = True, "checkr"
    settings.CHECKR_API_KEY, settings.CHECKR_BASE_URL = "k", BASE
    _patch(monkeypatch, {("POST", f"{BASE}/candidates"): requests.ConnectionError("down")})
    driver = factories.driver_in(Driver.Status.DOCUMENTS_PENDING)
    factories.documents_for(driver, Document.Status.PENDING)
    with pytest.raises(ServiceUnavailable):
        services.background_check_start(driver_id=driver.id, actor=Actor.system("t"))
    driver.refresh_from_db()
    assert driver.status == Driver.Status.DOCUMENTS_PENDING
    assert not driver.checks.exists()


def test_basic_auth_header_is_the_api_key(provider):
    prepared = provider.session.prepare_request(requests.Request("GET", f"{BASE}/reports/x"))
    token = base64.b64encode(b"test_key_123:").decode()
    assert prepared.headers["Authorization"] == f"Basic {token}"
    assert json.loads(json.dumps(dict(prepared.headers)))  # plain headers, nothing else leaks

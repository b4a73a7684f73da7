"""Checkr (https://docs.checkr.com): candidates, hosted invitations, reports and webhooks.

Auth is HTTP Basic with the API key as the user name. Webhooks carry `X-Checkr-Signature`, the
hex HMAC-SHA256 of the raw body keyed with the API key; Checkr signs no timestamp, so replay
protection rests on the event-id dedupe and forward-only state.
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from drivers.screening.base import (
    Invitation,
    Report,
    ScreeningError,
    WebhookSignatureError,
)

SIGNATURE_HEADER = "X-Checkr-Signature"


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class CheckrProvider:
    name = "checkr"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.checkr.com/v1",
        webhook_secrets: Sequence[str] = (),
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.webhook_secrets = [s for s in webhook_secrets if s] or [api_key]
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.auth = (api_key, "")
        self.session.headers["Accept"] = "application/json"

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ScreeningError(f"Checkr is unreachable: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("error") or response.reason
            except ValueError:
                message = response.reason
            raise ScreeningError(f"Checkr {method} {path}: {response.status_code} {message}")
        data = response.json()
        if not isinstance(data, dict) or "id" not in data:
            raise ScreeningError(f"Checkr {method} {path}: unexpected response")
        return data

    def candidate_create(
        self, *, reference: str, email: str, first_name: str, last_name: str
    ) -> str:
        data = self._request(
            "POST",
            "candidates",
            json={
                "custom_id": reference,
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
            },
        )
        return str(data["id"])

    def invitation_create(
        self, *, candidate_id: str, package: str, work_location: Mapping[str, str]
    ) -> Invitation:
        data = self._request(
            "POST",
            "invitations",
            json={
                "candidate_id": candidate_id,
                "package": package,
                "work_locations": [dict(work_location)],
            },
        )
        return Invitation(
            id=str(data["id"]),
            url=str(data["invitation_url"]),
            status=str(data.get("status", "pending")),
            candidate_id=str(data.get("candidate_id", candidate_id)),
        )

    def report_get(self, *, report_id: str) -> Report:
        data = self._request("GET", f"reports/{report_id}")
        return Report(
            id=str(data["id"]),
            status=str(data.get("status") or ""),
            result=str(data.get("result") or ""),
            package=str(data.get("package") or ""),
            candidate_id=str(data.get("candidate_id") or ""),
        )

    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str]) -> None:
        given = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
        if not given:
            raise WebhookSignatureError("missing X-Checkr-Signature")
        for secret in self.webhook_secrets:
            if hmac.compare_digest(signature(secret, body), given):
                return
        raise WebhookSignatureError("no signature matches")

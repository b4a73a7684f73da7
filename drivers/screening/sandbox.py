"""A screening provider that runs inside Spark, for development, demos and tests.

It behaves like Checkr from the outside: ids for candidates, invitations and reports, a hosted
invitation page (a simple page of ours, /driver/screening/sandbox/<invitation_id>/, where the
candidate clicks "I consent and submit"), and a report completed later by a Celery task that
POSTs Stripe-signed webhooks to our own endpoint, exactly as a real provider would.

The outcome is deterministic: a candidate whose e-mail local part contains "+consider" gets a
"consider" report, everyone else "clear". The sandbox keeps no table of its own; what it must
remember travels in its ids, the way a real provider's database would hold it.
"""

import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from django.conf import settings
from django.urls import reverse

from drivers.screening.base import Invitation, Report, WebhookSignatureError
from spark.lib import clock, signing

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Screening-Signature"
CONSIDER_MARKER = "+consider"
_CONSIDER_SUFFIX = "_consider"


def _id(prefix: str) -> str:
    return f"sbx_{prefix}_{secrets.token_hex(10)}"


def outcome_for(candidate_id: str) -> str:
    return "consider" if candidate_id.endswith(_CONSIDER_SUFFIX) else "clear"


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self, *, webhook_secrets: Sequence[str], tolerance: int = signing.DEFAULT_TOLERANCE_SECONDS
    ) -> None:
        self.webhook_secrets = [s for s in webhook_secrets if s]
        self.tolerance = tolerance

    def candidate_create(
        self, *, reference: str, email: str, first_name: str, last_name: str
    ) -> str:
        local_part = email.partition("@")[0].lower()
        return _id("cand") + (_CONSIDER_SUFFIX if CONSIDER_MARKER in local_part else "")

    def invitation_create(
        self, *, candidate_id: str, package: str, work_location: Mapping[str, str]
    ) -> Invitation:
        invitation_id = _id("inv")
        path = reverse("driver:screening_sandbox", kwargs={"invitation_id": invitation_id})
        return Invitation(
            id=invitation_id,
            url=f"{settings.SITE_URL}{path}",
            status="pending",
            candidate_id=candidate_id,
        )

    def report_get(self, *, report_id: str) -> Report:
        result = "consider" if report_id.endswith(_CONSIDER_SUFFIX) else "clear"
        return Report(id=report_id, status="complete", result=result, package="", candidate_id="")

    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            signing.verify(
                headers.get(SIGNATURE_HEADER),
                body,
                self.webhook_secrets,
                tolerance=self.tolerance,
            )
        except signing.SignatureError as exc:
            raise WebhookSignatureError(str(exc)) from exc

    # --- The provider's side: what happens after the candidate submits the hosted form ----

    def signed_headers(self, body: bytes) -> dict[str, str]:
        # Sign with the current secret only; verification accepts every configured one.
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signing.sign(self.webhook_secrets[:1], body),
        }

    def report_events(self, *, invitation_id: str, candidate_id: str) -> list[bytes]:
        """The webhooks a real provider sends once a candidate completes the invitation."""
        result = outcome_for(candidate_id)
        report_id = _id("rpt") + (_CONSIDER_SUFFIX if result == "consider" else "")
        invitation = {
            "id": invitation_id,
            "object": "invitation",
            "status": "completed",
            "candidate_id": candidate_id,
            "report_id": report_id,
        }
        report = {"id": report_id, "object": "report", "candidate_id": candidate_id}
        return [
            _event("invitation.completed", invitation),
            _event("report.created", {**report, "status": "pending", "result": None}),
            _event("report.completed", {**report, "status": "complete", "result": result}),
        ]


def _event(event_type: str, obj: dict[str, Any]) -> bytes:
    body = {
        "id": _id("evt"),
        "object": "event",
        "type": event_type,
        "created_at": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"object": obj},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def deliver_http(body: bytes, headers: dict[str, str]) -> None:
    """POST one webhook to our own endpoint; a non-2xx raises so that the task retries."""
    url = settings.SITE_URL + reverse("screening_webhook", kwargs={"provider": "sandbox"})
    response = requests.post(
        url, data=body, headers=headers, timeout=settings.SCREENING_WEBHOOK_TIMEOUT_SECONDS
    )
    response.raise_for_status()

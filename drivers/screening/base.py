"""The screening provider interface, shaped like Checkr's API.

We create a candidate (name and e-mail only), then an invitation: the provider's hosted page
collects the candidate's SSN, date of birth and FCRA consent, so that PII never touches us.
The provider runs the report and tells us about progress through signed webhooks, which every
provider turns into the same `ScreeningEvent`.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class ScreeningError(Exception):
    """The provider could not be reached or refused the request."""


class WebhookSignatureError(Exception):
    """The webhook's signature is missing, malformed, stale or does not match."""


class WebhookPayloadError(Exception):
    """The webhook is authentic but its body is not an event we understand."""


@dataclass(frozen=True)
class Invitation:
    id: str
    url: str
    status: str
    candidate_id: str


@dataclass(frozen=True)
class Report:
    id: str
    status: str
    result: str
    package: str
    candidate_id: str


@dataclass(frozen=True)
class ScreeningEvent:
    """One provider event, reduced to the ids and outcomes we keep."""

    id: str
    type: str  # "<object>.<verb>": invitation.completed, report.completed, ...
    candidate_id: str = ""
    invitation_id: str = ""
    report_id: str = ""
    status: str = ""  # the object's status at the provider
    result: str = ""  # reports only: clear / consider

    @property
    def object_type(self) -> str:
        return self.type.partition(".")[0]


class ScreeningProvider(Protocol):
    name: str

    def candidate_create(
        self, *, reference: str, email: str, first_name: str, last_name: str
    ) -> str: ...

    def invitation_create(
        self, *, candidate_id: str, package: str, work_location: Mapping[str, str]
    ) -> Invitation: ...

    def report_get(self, *, report_id: str) -> Report: ...

    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str]) -> None: ...


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def event_parse(body: bytes) -> ScreeningEvent:
    """A Checkr-shaped event (`{id, type, data: {object: {...}}}`); call after verification."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError("The body is not JSON.") from exc
    if (
        not isinstance(payload, dict)
        or not _str(payload.get("id"))
        or "." not in _str(payload.get("type"))
    ):
        raise WebhookPayloadError("The body is not an event.")
    obj = (payload.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        raise WebhookPayloadError("The event has no object.")
    kind = payload["type"].partition(".")[0]
    obj_id = _str(obj.get("id"))
    return ScreeningEvent(
        id=payload["id"],
        type=payload["type"],
        candidate_id=obj_id if kind == "candidate" else _str(obj.get("candidate_id")),
        invitation_id=obj_id if kind == "invitation" else _str(obj.get("invitation_id")),
        report_id=obj_id if kind == "report" else _str(obj.get("report_id")),
        status=_str(obj.get("status")),
        result=_str(obj.get("result")),
    )

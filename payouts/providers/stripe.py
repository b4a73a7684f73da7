"""Stripe Connect transfers (https://docs.stripe.com/api/transfers) to drivers' connected
accounts: platform balance -> the driver's Stripe account, which pays out to the bank on the
account's own schedule. A created transfer is final for us (paid); a reversed one failed.

Every POST carries `Idempotency-Key` (Stripe replays the first answer to a retry for 24 h) and
`transfer_group` = the same key, so that `transfer_find` can answer after those 24 h too.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import requests

from payouts.providers.base import (
    ProviderUnavailable,
    TransferRecord,
    TransferRequest,
    TransferResult,
    TransferStatus,
)

API_VERSION = "2024-06-20"


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.stripe.com",
        timeout: float = 20.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.session.headers["Stripe-Version"] = API_VERSION

    def batch_size(self, *, lease: timedelta) -> int:
        # One HTTP request after another, each up to `timeout`, and a lookup before the
        # transfer for a payout sent before: two requests per payout within the lease.
        return max(1, int(lease.total_seconds() // (2 * self.timeout)))

    def _request(
        self, method: str, path: str, *, idempotency_key: str = "", **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        url = f"{self.base_url}/v1/{path}"
        try:
            response = self.session.request(
                method, url, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Stripe is unreachable: {exc.__class__.__name__}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"Stripe {response.status_code}: not JSON") from exc
        # 401/403: our key is wrong; 429: slow down; 5xx: unknown outcome. None is the
        # driver's fault, so the payout stays pending and is sent again with the same key.
        if response.status_code in (401, 403, 409, 429) or response.status_code >= 500:
            message = (body.get("error") or {}).get("message", "")
            raise ProviderUnavailable(f"Stripe {response.status_code}: {message}"[:300])
        return response.status_code, body

    @staticmethod
    def _result(key: str, data: dict[str, Any]) -> TransferResult:
        reversed_ = bool(data.get("reversed")) or bool(data.get("amount_reversed"))
        return TransferResult(
            idempotency_key=key,
            status=TransferStatus.FAILED if reversed_ else TransferStatus.PAID,
            transfer_id=str(data.get("id", "")),
            failure_reason="transfer reversed" if reversed_ else "",
            amount_cents=int(data.get("amount", 0)),
        )

    def transfer(self, request: TransferRequest) -> TransferResult:
        key = request.idempotency_key
        if not request.destination:
            return TransferResult(key, TransferStatus.FAILED, failure_reason="no payout account")
        status, body = self._request(
            "POST",
            "transfers",
            idempotency_key=key,
            data={
                "amount": request.amount_cents,
                "currency": request.currency.lower(),
                "destination": request.destination,
                "transfer_group": key,
                "description": request.description[:300],
                "metadata[idempotency_key]": key,
            },
        )
        if status < 400:
            return self._result(key, body)
        error = body.get("error") or {}
        if error.get("type") == "idempotency_error":
            return TransferResult(key, TransferStatus.DUPLICATE)
        reason = error.get("code") or error.get("message") or f"HTTP {status}"
        return TransferResult(key, TransferStatus.FAILED, failure_reason=str(reason)[:300])

    def transfer_many(self, requests_: Sequence[TransferRequest]) -> list[TransferResult]:
        results = []
        for request in requests_:
            try:
                results.append(self.transfer(request))
            except ProviderUnavailable as exc:
                results.append(
                    TransferResult(
                        request.idempotency_key, TransferStatus.ERROR, failure_reason=str(exc)
                    )
                )
        return results

    def transfer_find(self, *, idempotency_key: str) -> TransferResult | None:
        _, body = self._request(
            "GET", "transfers", params={"transfer_group": idempotency_key, "limit": 1}
        )
        data = body.get("data") or []
        return self._result(idempotency_key, data[0]) if data else None

    def transfers_list(self, *, since: datetime) -> list[TransferRecord]:
        records: list[TransferRecord] = []
        params: dict[str, Any] = {"created[gte]": int(since.timestamp()), "limit": 100}
        while True:
            _, body = self._request("GET", "transfers", params=params)
            for t in body.get("data") or []:
                result = self._result(str(t.get("transfer_group") or ""), t)
                records.append(
                    TransferRecord(
                        transfer_id=result.transfer_id,
                        idempotency_key=result.idempotency_key,
                        amount_cents=result.amount_cents or 0,
                        currency=str(t.get("currency", "")).upper(),
                        status=result.status,
                    )
                )
            if not body.get("has_more") or not body.get("data"):
                return records
            params["starting_after"] = body["data"][-1]["id"]

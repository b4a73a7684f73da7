"""API views of the drivers app: the screening providers' inbound webhook."""

import logging

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drivers import screening, services
from spark.lib.errors import ApplicationError, NotFound

logger = logging.getLogger(__name__)


class InvalidSignature(ApplicationError):
    status_code = 400
    code = "invalid_signature"


class ScreeningWebhookApi(APIView):
    """POST /api/v1/webhooks/screening/<provider>: signed by the provider, no session or key.

    The signature is checked on the raw bytes before anything parses them; a duplicate event
    id answers 200 and does nothing.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []  # request.data is never read: only the verified raw body
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def post(self, request: Request, provider: str) -> Response:
        try:
            fresh = services.screening_webhook_receive(
                provider=provider, body=request.body, headers=request.headers
            )
        except screening.UnknownProvider as exc:
            raise NotFound("No such provider.") from exc
        except screening.WebhookSignatureError as exc:
            logger.warning("screening webhook from %s rejected: %s", provider, exc)
            raise InvalidSignature("The webhook signature is invalid.") from exc
        except screening.WebhookPayloadError as exc:
            raise ApplicationError(str(exc), code="invalid_payload") from exc
        return Response({"received": True, "duplicate": not fresh})

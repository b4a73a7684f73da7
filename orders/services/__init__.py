"""The orders app's only public write API. Other apps import this module, never the parts."""

from orders.services.api_keys import api_key_authenticate, api_key_create, api_key_revoke
from orders.services.idempotency import (
    Replay,
    WorkFailed,
    idempotency_keys_purge,
    idempotency_store_failure,
    idempotent_run,
)
from orders.services.idempotency import (
    Request as IdempotentRequest,
)
from orders.services.orders import (
    BeforeMove,
    Courier,
    OrderInput,
    order_cancel,
    order_cancel_for_merchant,
    order_courier_statement,
    order_courier_update,
    order_create,
    order_mark_ready,
    order_tip_raise,
    order_tip_set_after_review,
    order_transition,
    order_transition_many,
)
from orders.services.quotes import estimate, eta_model_for, quote_create, store_is_open
from orders.services.webhooks import (
    webhook_deliveries_send,
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
)

__all__ = [
    "BeforeMove",
    "Courier",
    "OrderInput",
    "Replay",
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "estimate",
    "eta_model_for",
    "IdempotentRequest",
    "WorkFailed",
    "idempotency_keys_purge",
    "idempotency_store_failure",
    "idempotent_run",
    "order_cancel",
    "order_cancel_for_merchant",
    "order_courier_statement",
    "order_courier_update",
    "order_create",
    "order_mark_ready",
    "order_tip_raise",
    "order_tip_set_after_review",
    "order_transition",
    "order_transition_many",
    "quote_create",
    "store_is_open",
    "webhook_deliveries_send",
    "webhook_delivery_replay",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
]

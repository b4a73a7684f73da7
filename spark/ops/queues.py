"""The queues that wait on ops, oldest first, each item linking to the back office (admin)."""

from typing import Any

from django.urls import NoReverseMatch, reverse

from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from payouts import selectors as payout_selectors
from spark.lib.money import format_cents
from spark.ops.selectors import QUEUE_LIMIT, Queue, QueueItem


def _admin(name: str, pk: Any) -> str:
    """The admin change page of a row, or "" when that model is not in the admin."""
    try:
        return reverse(f"admin:{name}_change", args=[pk])
    except NoReverseMatch:
        return ""


def _driver_name(driver: Any) -> str:
    user = driver.user
    return user.get_full_name() or user.get_username()


def documents_queue() -> Queue:
    qs = driver_selectors.document_list_pending_review().select_related("driver__user")
    items = [
        QueueItem(
            title=_driver_name(d.driver),
            detail=f"{d.get_kind_display()} · expires {d.expires_on:%b %-d, %Y}",
            since=d.created_at,
            admin_url=_admin("drivers_document", d.id),
        )
        for d in qs[:QUEUE_LIMIT]
    ]
    return Queue("documents", "Documents to review", items, qs.count())


def screening_queue() -> Queue:
    drivers = driver_selectors.driver_list_waiting_on_ops(what="checks").select_related("user")
    items = []
    for driver in drivers[:QUEUE_LIMIT]:
        check = driver_selectors.background_check_latest(driver_id=driver.id)
        items.append(
            QueueItem(
                title=_driver_name(driver),
                detail="Background check: consider — needs an individualized assessment",
                since=check.completed_at if check else None,
                admin_url=_admin("drivers_backgroundcheck", check.id) if check else "",
            )
        )
    return Queue("screening", 'Screening "consider"', items, drivers.count())


def appeals_queue() -> Queue:
    qs = driver_selectors.appeal_list_open()
    items = [
        QueueItem(
            title=_driver_name(a.driver),
            detail=(a.text[:120] + "…") if len(a.text) > 120 else a.text,
            since=a.filed_at,
            admin_url=_admin("drivers_appeal", a.id),
        )
        for a in qs[:QUEUE_LIMIT]
    ]
    return Queue("appeals", "Appeals", items, qs.count())


def webhooks_queue() -> Queue:
    qs = order_selectors.webhook_delivery_list_dead().order_by("created_at")
    items = [
        QueueItem(
            title=f"{d.event.type} → {d.endpoint.url}",
            detail=f"{d.attempts} attempts · last: {d.last_error or d.last_status_code or '—'}",
            since=d.created_at,
            admin_url=_admin("orders_webhookdelivery", d.id),
        )
        for d in qs[:QUEUE_LIMIT]
    ]
    return Queue("webhooks", "Dead webhooks", items, qs.count())


def payouts_queue() -> Queue:
    qs = (
        payout_selectors.payout_list_failed()
        .select_related("driver__user")
        .order_by("failed_at", "id")
    )
    items = [
        QueueItem(
            title=f"{_driver_name(p.driver)} · {format_cents(p.amount_cents, p.currency)}",
            detail=f"{p.get_kind_display()} payout failed: {p.failure_reason or 'no reason given'}",
            since=p.failed_at or p.created_at,
            admin_url=_admin("payouts_payout", p.id),
        )
        for p in qs[:QUEUE_LIMIT]
    ]
    return Queue("payouts", "Failed payouts", items, qs.count())


def all_queues() -> list[Queue]:
    return [
        documents_queue(),
        screening_queue(),
        appeals_queue(),
        webhooks_queue(),
        payouts_queue(),
    ]

"""Documents: upload (screened, stored privately under random names), review by ops, expiry
reminders and suspensions, and re-encryption of licence numbers after a key rotation."""

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Cast

from drivers import fields, selectors, uploads
from drivers.models import Document, Driver, DriverEvent
from drivers.services import lifecycle
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, NotFound, Unprocessable

S = Driver.Status
Code = DriverEvent.Code
SYSTEM = Actor.system("documents")


def _day(d: date) -> str:
    return f"{d:%B} {d.day}, {d.year}"


def _clean_licence_number(kind: str, licence_number: str) -> str:
    number = " ".join(licence_number.split()).upper()
    if kind != Document.Kind.LICENCE:
        return ""
    if not 4 <= len(number) <= 32 or not all(c.isalnum() or c in " -" for c in number):
        raise Unprocessable(
            "Enter the licence number as printed on the licence.", code="licence_number_invalid"
        )
    return number


@transaction.atomic
def document_upload(
    *,
    driver_id: int,
    actor: Actor,
    kind: str,
    file: object,
    expires_on: date,
    licence_number: str = "",
) -> Document:
    """Screen the file (type by magic bytes, size, active content), then store it as the
    driver's current document of its kind; the previous one is kept, no longer current."""
    if kind not in Document.Kind.values:
        raise Unprocessable("Unknown document kind.", code="invalid_kind")
    if expires_on <= clock.now().date():
        raise Unprocessable("This document has already expired.", code="document_expired")
    number = _clean_licence_number(kind, licence_number)
    clean = uploads.screen(uploads.read_limited(file, settings.DRIVER_DOCUMENT_MAX_BYTES))
    driver = lifecycle._lock(driver_id)
    if driver.status in lifecycle.CLOSED:
        raise Conflict("This account is closed.", code="driver_closed")
    Document.objects.filter(driver=driver, kind=kind, is_current=True).update(is_current=False)
    document = Document(
        driver=driver,
        kind=kind,
        content_type=clean.content_type,
        size_bytes=len(clean.content),
        sha256=clean.sha256,
        expires_on=expires_on,
        licence_number=number,
    )
    document.file.save(
        f"{uuid.uuid4().hex}{clean.extension}", ContentFile(clean.content), save=False
    )
    document.save()
    return document


def _lock_document(document_id: int) -> tuple[Driver, Document]:
    driver_id = Document.objects.filter(id=document_id).values_list("driver_id", flat=True).first()
    if driver_id is None:
        raise NotFound("No such document.")
    # Driver first, then document: the order every service takes the two locks in.
    driver = lifecycle._lock(driver_id)
    return driver, Document.objects.select_for_update().get(id=document_id)


@transaction.atomic
def document_approve(*, document_id: int, actor: Actor, reason: str = "") -> Document:
    driver, document = _lock_document(document_id)
    if not document.is_current or document.status != Document.Status.PENDING:
        raise Conflict("Only a current document waiting for review can be approved.")
    if document.expires_on < clock.now().date():
        raise Conflict("The document has expired; ask the driver for a new one.")
    document.status, document.reviewed_at = Document.Status.APPROVED, clock.now()
    document.reviewed_by_id = actor.user_id
    document.save(update_fields=["status", "reviewed_at", "reviewed_by", "updated_at"])
    lifecycle._event_record(
        driver,
        code=Code.DOCUMENT_APPROVED,
        actor=actor,
        reason=reason or f"{document.get_kind_display()} approved.",
    )
    if not lifecycle._try_approve(driver, actor=actor):
        _reinstate_if_documents_fixed(driver, actor=actor)
    return document


def _reinstate_if_documents_fixed(driver: Driver, *, actor: Actor) -> None:
    """A driver suspended only because a document expired is back once it is replaced."""
    if driver.status != S.SUSPENDED or not selectors.driver_documents_valid(driver_id=driver.id):
        return
    last = selectors.driver_event_last_status_change(driver_id=driver.id)
    if last is not None and last.code == Code.DOCUMENT_EXPIRED:
        lifecycle._driver_transition(
            driver,
            to=S.APPROVED,
            actor=actor,
            reason="Your documents are up to date again; you can go online.",
        )


@transaction.atomic
def document_reject(*, document_id: int, actor: Actor, reason: str) -> Document:
    if not reason.strip():
        raise Unprocessable("Tell the driver why the document is rejected.", code="reason_required")
    driver, document = _lock_document(document_id)
    if not document.is_current or document.status == Document.Status.REJECTED:
        raise Conflict("Only a current, not yet rejected document can be rejected.")
    document.status, document.reviewed_at = Document.Status.REJECTED, clock.now()
    document.reviewed_by_id, document.reject_reason = actor.user_id, reason.strip()
    document.save(
        update_fields=["status", "reviewed_at", "reviewed_by", "reject_reason", "updated_at"]
    )
    lifecycle._event_record(
        driver,
        code=Code.DOCUMENT_REJECTED,
        actor=actor,
        reason=f"{document.get_kind_display()} rejected: {reason.strip()}",
    )
    return document


def documents_expiry_sweep(*, today: date | None = None) -> dict[str, int]:
    """Daily: remind drivers once, N days ahead, and suspend drivers whose required document
    has expired. Each driver is its own transaction; running it twice changes nothing."""
    today = today or clock.now().date()
    soon = today + timedelta(days=settings.DRIVER_DOCUMENT_EXPIRY_REMINDER_DAYS)
    due = selectors.document_list_expiring(today=today, until=soon).values_list("id", flat=True)
    reminded = sum(_document_remind(document_id=i, today=today) for i in due)
    expired = selectors.driver_list_with_expired_documents(today=today).values_list("id", flat=True)
    suspended = sum(_driver_suspend_expired(driver_id=i, today=today) for i in expired)
    return {"reminded": reminded, "suspended": suspended}


@transaction.atomic
def _document_remind(*, document_id: int, today: date) -> bool:
    claimed = Document.objects.filter(id=document_id, expiry_reminder_sent_at__isnull=True).update(
        expiry_reminder_sent_at=clock.now()
    )
    if not claimed:
        return False
    document = Document.objects.select_related("driver").get(id=document_id)
    days = (document.expires_on - today).days
    lifecycle._event_record(
        document.driver,
        code=Code.DOCUMENT_EXPIRING,
        actor=SYSTEM,
        reason=f"Your {document.get_kind_display().lower()} expires on "
        f"{_day(document.expires_on)} (in {days} days). Upload the new one before then.",
    )
    return True


@transaction.atomic
def _driver_suspend_expired(*, driver_id: int, today: date) -> bool:
    driver = lifecycle._lock(driver_id)
    document = (
        selectors.document_list_current(driver_id=driver_id)
        .filter(kind__in=Document.REQUIRED, expires_on__lt=today)
        .first()
    )
    if driver.status != S.APPROVED or document is None:
        return False
    lifecycle._driver_transition(
        driver,
        to=S.SUSPENDED,
        actor=SYSTEM,
        code=Code.DOCUMENT_EXPIRED,
        reason=f"Your {document.get_kind_display().lower()} expired on "
        f"{_day(document.expires_on)}. Upload a current one; you can drive again as soon "
        "as it is approved.",
        evidence=f"document {document.public_id} ({document.kind}) expires_on "
        f"{document.expires_on.isoformat()}",
    )
    return True


def document_encryption_rotate(*, batch_size: int = 500) -> int:
    """Re-encrypt every licence number under the first FIELD_ENCRYPTION_KEYS key, so that old
    keys can be retired. Works on the raw tokens; plaintext never leaves the cipher."""
    rotated = 0
    raw = Document.objects.exclude(licence_number__isnull=True).annotate(
        token=Cast(F("licence_number"), TextField())
    )
    for document_id, token in raw.values_list("id", "token").iterator(chunk_size=batch_size):
        if not token:
            continue
        if not fields.needs_rotation(token):
            continue
        Document.objects.filter(id=document_id).update(
            licence_number=Value(fields.rotate(token), output_field=TextField())
        )
        rotated += 1
    return rotated

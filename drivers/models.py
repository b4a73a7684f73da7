"""Drivers, their vehicles and documents, background checks, the audit trail (DriverEvent),
appeals against decisions, and the inbound-webhook dedupe table.

We never store a date of birth, an SSN or a screening report's body: the age is a dated
attestation, and the screening provider's hosted invitation collects the candidate's PII.
"""

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from drivers.fields import EncryptedTextField
from spark.lib.models import BaseModel


def _values(choices: type[models.TextChoices]) -> list[str]:
    return [str(v) for v in choices.values]


class DriverStatus(models.TextChoices):
    APPLIED = "applied"  # signed up; profile and vehicle to complete
    DOCUMENTS_PENDING = "documents_pending"  # documents to upload (and be reviewed)
    SCREENING = "screening"  # background check running or under review
    APPROVED = "approved"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"
    REJECTED = "rejected"  # application refused, or adverse action after screening: final


class Driver(BaseModel):
    Status = S = DriverStatus
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        S.APPLIED: frozenset({S.DOCUMENTS_PENDING, S.REJECTED}),
        S.DOCUMENTS_PENDING: frozenset({S.SCREENING, S.REJECTED}),
        S.SCREENING: frozenset({S.APPROVED, S.REJECTED}),
        S.APPROVED: frozenset({S.SUSPENDED, S.DEACTIVATED}),
        S.SUSPENDED: frozenset({S.APPROVED, S.DEACTIVATED}),
        # Only an overturned appeal brings a deactivated driver back.
        S.DEACTIVATED: frozenset({S.APPROVED}),
        S.REJECTED: frozenset(),
    }
    # Decisions a driver may appeal: the event that put them in one of these states.
    APPEALABLE: ClassVar[frozenset[str]] = frozenset({S.SUSPENDED, S.DEACTIVATED})

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="driver"
    )
    home_market = models.ForeignKey("orders.Market", on_delete=models.PROTECT, related_name="+")
    phone = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.APPLIED, db_index=True
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The driver's dated statement, not a birth date (A9): 21+ may deliver alcohol.
    is_21_plus = models.BooleanField(default=False)
    age_attested_at = models.DateTimeField(null=True, blank=True)
    # Preferences the dispatch engine honours.
    max_pickup_km = models.FloatField(
        null=True, blank=True, help_text="Furthest drive to a store; empty: the market default."
    )
    min_pay_cents_per_mile = models.PositiveIntegerField(
        default=0, help_text="Offers paying less per engaged mile are not sent."
    )
    no_alcohol = models.BooleanField(default=False, help_text="Never offer orders with alcohol.")

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=_values(DriverStatus)), name="driver_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(max_pickup_km__isnull=True) | Q(max_pickup_km__gt=0),
                name="driver_max_pickup_km_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def may_carry_alcohol(self) -> bool:
        return self.is_21_plus and not self.no_alcohol

    def has_profile(self) -> bool:
        return bool(self.phone) and self.age_attested_at is not None

    def can_transition(self, to: str) -> bool:
        return to in self.TRANSITIONS[self.status]


class Vehicle(BaseModel):
    class Type(models.TextChoices):
        CAR = "car", "Car"
        SUV = "suv", "SUV"
        MINIVAN = "minivan", "Minivan"
        PICKUP = "pickup", "Pickup truck"
        VAN = "van", "Cargo van"

    # Typical cargo space in order "units" (one tote or bag), the default when adding a vehicle.
    DEFAULT_CAPACITY: ClassVar[dict[str, int]] = {
        Type.CAR: 12,
        Type.SUV: 20,
        Type.MINIVAN: 24,
        Type.PICKUP: 20,
        Type.VAN: 40,
    }

    driver = models.OneToOneField(Driver, on_delete=models.CASCADE, related_name="vehicle")
    make = models.CharField(max_length=50)
    model = models.CharField(max_length=50)
    year = models.PositiveSmallIntegerField()
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.CAR)
    cargo_capacity_units = models.PositiveSmallIntegerField(default=12)
    plate = models.CharField(max_length=16, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(year__gte=1980) & Q(year__lte=2100), name="vehicle_year_sane"
            ),
            models.CheckConstraint(
                condition=Q(cargo_capacity_units__gte=1), name="vehicle_capacity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.make} {self.model}"


class DocumentKind(models.TextChoices):
    LICENCE = "licence", "Driver's licence"
    INSURANCE = "insurance", "Proof of insurance"
    REGISTRATION = "registration", "Vehicle registration"


class DocumentStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def document_upload_to(instance: "Document", filename: str) -> str:
    # The caller passes a name built from a random UUID and the sniffed type; the driver's
    # file name never reaches the file system.
    return f"driver-documents/{filename}"


class Document(BaseModel):
    Kind = DocumentKind
    REQUIRED: ClassVar[tuple[str, ...]] = tuple(_values(DocumentKind))

    Status = DocumentStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Private storage (settings.MEDIA_ROOT is never served); read through document_file.
    file = models.FileField(upload_to=document_upload_to, max_length=200)
    content_type = models.CharField(max_length=32)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    expires_on = models.DateField()
    licence_number = EncryptedTextField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.TextField(blank=True)
    # A replacement upload retires the previous document of its kind (kept for the audit).
    is_current = models.BooleanField(default=True)
    expiry_reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["driver", "kind"],
                condition=Q(is_current=True),
                name="one_current_document_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=_values(DocumentKind)), name="document_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=_values(DocumentStatus)), name="document_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reject_reason=""),
                name="document_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.driver} ({self.status})"

    @property
    def licence_number_masked(self) -> str:
        number = self.licence_number or ""
        return f"•••• {number[-4:]}" if number else ""

    @property
    def extension(self) -> str:
        return {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}.get(
            self.content_type, ""
        )


class CheckStatus(models.TextChoices):
    INVITED = "invited"  # invitation sent; the candidate fills in the provider's form
    PENDING = "pending"  # report being run
    COMPLETE = "complete"
    EXPIRED = "expired"  # the invitation expired unanswered
    CANCELED = "canceled"


class CheckResult(models.TextChoices):
    NONE = "", "—"
    CLEAR = "clear"
    CONSIDER = "consider"


class CheckAdjudication(models.TextChoices):
    NONE = "", "—"
    ENGAGED = "engaged"  # go ahead: clear, or consider and ops decided to proceed
    PRE_ADVERSE_ACTION = "pre_adverse_action"  # notice sent; waiting period running
    ADVERSE_ACTION = "adverse_action"  # final: the driver is rejected


class BackgroundCheck(BaseModel):
    """One screening through a provider's hosted invitation. Ids and outcomes only (A9)."""

    Status = CheckStatus
    Result = CheckResult
    Adjudication = CheckAdjudication

    # Webhooks may arrive out of order (W3): a status only ever moves to a higher rank.
    STATUS_RANK: ClassVar[dict[str, int]] = {
        CheckStatus.INVITED: 0,
        CheckStatus.PENDING: 1,
        CheckStatus.COMPLETE: 2,
        CheckStatus.EXPIRED: 2,
        CheckStatus.CANCELED: 3,
    }
    OPEN: ClassVar[frozenset[str]] = frozenset({CheckStatus.INVITED, CheckStatus.PENDING})

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="checks")
    provider = models.CharField(max_length=16)
    package = models.CharField(max_length=64)
    candidate_id = models.CharField(max_length=64)
    invitation_id = models.CharField(max_length=64)
    invitation_url = models.URLField(max_length=500)
    report_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    result = models.CharField(max_length=16, choices=Result.choices, blank=True, default="")
    invitation_completed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    adjudication = models.CharField(
        max_length=24, choices=Adjudication.choices, blank=True, default=""
    )
    adjudicated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    adjudication_note = models.TextField(blank=True)
    pre_adverse_action_at = models.DateTimeField(null=True, blank=True)
    adverse_action_due_at = models.DateTimeField(null=True, blank=True)
    adverse_action_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["provider", "invitation_id"], name="check_invitation_unique"
            ),
            models.UniqueConstraint(
                fields=["provider", "report_id"],
                condition=~Q(report_id=""),
                name="check_report_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=_values(CheckStatus)), name="check_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(result__in=_values(CheckResult)), name="check_result_valid"
            ),
            models.CheckConstraint(
                condition=Q(adjudication__in=_values(CheckAdjudication)),
                name="check_adjudication_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} check {self.invitation_id} ({self.status} {self.result})"

    @property
    def needs_review(self) -> bool:
        return (
            self.status == self.Status.COMPLETE
            and self.result == self.Result.CONSIDER
            and self.adjudication == self.Adjudication.NONE
        )


class DriverEvent(models.Model):
    """The audit trail: every status change, and every decision or notice on the way."""

    class Code(models.TextChoices):
        STATUS = "status", "Status changed"
        DOCUMENT_APPROVED = "document_approved"
        DOCUMENT_REJECTED = "document_rejected"
        DOCUMENT_EXPIRING = "document_expiring"
        DOCUMENT_EXPIRED = "document_expired"
        SCREENING_STARTED = "screening_started"
        SCREENING_COMPLETED = "screening_completed"
        SCREENING_CANCELED = "screening_canceled"
        SCREENING_ENGAGED = "screening_engaged"
        PRE_ADVERSE_ACTION = "pre_adverse_action"
        ADVERSE_ACTION = "adverse_action"
        APPEAL_FILED = "appeal_filed"
        APPEAL_UPHELD = "appeal_upheld"
        APPEAL_OVERTURNED = "appeal_overturned"

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="events")
    code = models.CharField(max_length=24, choices=Code.choices, default=Code.STATUS)
    from_status = models.CharField(max_length=24, choices=DriverStatus.choices)
    to_status = models.CharField(max_length=24, choices=DriverStatus.choices)
    actor_label = models.CharField(max_length=160)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(blank=True)
    evidence = models.TextField(blank=True)
    at = models.DateTimeField(db_index=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        indexes: ClassVar = [models.Index(fields=["driver", "at"], name="driverevent_driver_at")]

    def __str__(self) -> str:
        if self.from_status != self.to_status:
            return f"{self.from_status} → {self.to_status}"
        return self.get_code_display()

    @property
    def is_status_change(self) -> bool:
        return self.from_status != self.to_status


class AppealStatus(models.TextChoices):
    OPEN = "open"
    UPHELD = "upheld"  # the decision stands
    OVERTURNED = "overturned"  # the driver is reinstated


class Appeal(models.Model):
    Status = AppealStatus

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="appeals")
    # One appeal per decision, enforced by the database.
    event = models.OneToOneField(DriverEvent, on_delete=models.PROTECT, related_name="appeal")
    text = models.TextField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decision_note = models.TextField(blank=True)
    filed_at = models.DateTimeField(db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=_values(AppealStatus)), name="appeal_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | (Q(decided_at__isnull=False) & ~Q(decision_note="")),
                name="appeal_decision_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Appeal {self.id} by {self.driver} ({self.status})"


class InboundWebhook(models.Model):
    """One row per provider event id: a redelivered event hits the UNIQUE and is a no-op (W2)."""

    provider = models.CharField(max_length=16)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="inbound_webhook_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"

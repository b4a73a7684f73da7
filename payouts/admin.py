"""Ops back office for money: ledger per driver with adjustments (reason and author required),
reversals, payout batches, failed payouts to retry, tip reviews, the reconciliation report and
the yearly tax summary. Ledger rows are read-only here; every decision calls a service."""

import csv
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from payouts import selectors, services
from payouts.forms import (
    AdjustmentForm,
    DecisionForm,
    ReasonForm,
    TaxYearForm,
    TipReviewRequestForm,
)
from payouts.models import (
    Account,
    DriverPayoutAccount,
    Earning,
    JournalEntry,
    JournalTransaction,
    Payout,
    PayoutBatch,
    PayoutEvent,
    ReconciliationAlert,
    ReconciliationRun,
    SandboxTransfer,
    TipReview,
)
from spark.lib import admin as admin_kit
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import ApplicationError
from spark.lib.money import format_cents


def _actor(request: HttpRequest) -> Actor:
    return Actor.user(request.user, role="ops")


ReadOnlyAdmin = admin_kit.ReadOnlyAdmin
ReadOnlyInline = admin_kit.ReadOnlyInline


def _with_reason(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    apply: Callable[[Any, Actor, dict[str, Any]], object],
    form_class: type[ReasonForm] = ReasonForm,
) -> TemplateResponse | None:
    """An admin action that asks for a reason on an intermediate page, then applies."""
    form = form_class(request.POST if "apply" in request.POST else None)
    return admin_kit.reason_action(
        modeladmin, request, queryset, title=title, form=form, apply=apply
    )


# --- ledger ---------------------------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "driver", "market", "currency", "balance", "ledger_link")
    list_filter = ("kind", "currency")
    search_fields = ("=driver__id", "driver__user__email")
    list_select_related = ("driver__user", "market")

    @admin.display(description="Balance")
    def balance(self, obj: Account) -> str:
        return format_cents(services.account_balance(obj), obj.currency)

    @admin.display(description="Ledger")
    def ledger_link(self, obj: Account) -> str:
        if not obj.driver_id:
            return ""
        url = reverse("admin:payouts_driver_ledger", args=[obj.driver_id])
        return format_html('<a href="{}">Ledger and adjustments</a>', url)

    def get_urls(self) -> list:  # type: ignore[type-arg]
        view = self.admin_site.admin_view
        return [
            path(
                "driver/<int:driver_id>/ledger/",
                view(self.driver_ledger),
                name="payouts_driver_ledger",
            ),
            *super().get_urls(),
        ]

    def driver_ledger(self, request: HttpRequest, driver_id: int) -> HttpResponse:
        """A driver's ledger (every entry, running balance) and the adjustment form."""
        account = Account.objects.filter(kind="driver_payable", driver_id=driver_id).first()
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and account is None:
            form.add_error(None, "This driver has no payable account yet.")
        elif request.method == "POST" and form.is_valid():
            try:
                services.adjustment_create(
                    driver_id=driver_id,
                    amount_cents=form.cleaned_data["amount"],
                    currency=account.currency,
                    reason=form.cleaned_data["reason"],
                    actor=_actor(request),
                    idempotency_key=form.cleaned_data["key"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, "Adjustment posted.")
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Ledger of driver {driver_id}",
            "opts": self.model._meta,
            "ledger": selectors.ledger_for_driver(driver_id=driver_id),
            "form": form,
            "driver_id": driver_id,
        }
        return TemplateResponse(request, "payouts/admin/driver_ledger.html", context)


class EntryInline(ReadOnlyInline):
    model = JournalEntry
    fields = ("account", "amount_cents", "currency")
    readonly_fields = fields


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "external_id", "kind", "driver", "currency", "posted_at", "actor_label")
    list_filter = ("kind", "currency")
    search_fields = ("external_id", "=driver__id", "reason")
    date_hierarchy = "posted_at"
    inlines = (EntryInline,)
    actions = ("reverse",)

    @admin.action(description="Reverse (post the mirror image, with a reason)")
    def reverse(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            title="Reverse journal transactions",
            apply=lambda t, actor, data: services.journal_transaction_reverse(
                transaction_id=t.id, actor=actor, reason=data["reason"]
            ),
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and request.user.has_perm("payouts.change_journaltransaction")


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "driver", "trip", "earned_at", "pay_cents", "tip_cents")
    list_filter = ("kind", "currency")
    search_fields = ("=driver__id", "=trip__id", "note")
    date_hierarchy = "earned_at"
    raw_id_fields = ("driver", "trip", "offer", "block_reservation", "journal_transaction")


# --- payouts --------------------------------------------------------------------------------


class PayoutInline(ReadOnlyInline):
    model = Payout
    fields = ("driver", "amount_cents", "currency", "status", "transfer_id", "failure_reason")
    readonly_fields = fields
    show_change_link = True


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    list_display = ("market", "period_start", "status", "payouts_count", "total", "open_payouts")
    list_filter = ("status", "market")
    inlines = (PayoutInline,)
    actions = ("resume",)

    @admin.display(description="Total")
    def total(self, obj: PayoutBatch) -> str:
        return format_cents(obj.total_cents, obj.currency)

    @admin.display(description="Still open")
    def open_payouts(self, obj: PayoutBatch) -> int:
        return obj.payouts.filter(status__in=Payout.OPEN).count()

    @admin.action(description="Resume: send pending payouts again (same keys)")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        for batch in queryset:
            counts = services.payouts_submit(batch_id=batch.id)
            self.message_user(request, f"{batch}: {dict(counts) or 'nothing to send'}")
        services.payout_batches_finish()

    def get_urls(self) -> list:  # type: ignore[type-arg]
        view = self.admin_site.admin_view
        return [
            path("tax-summary/", view(self.tax_summary), name="payouts_tax_summary"),
            *super().get_urls(),
        ]

    def tax_summary(self, request: HttpRequest) -> HttpResponse:
        """Yearly nonemployee compensation per driver at or above the threshold, as CSV."""
        from django.conf import settings

        form = TaxYearForm(request.GET or None, initial={"year": clock.now().year - 1})
        if form.is_valid():
            year = form.cleaned_data["year"]
            rows = selectors.tax_summary(
                year=year, threshold_cents=settings.PAYOUTS_TAX_THRESHOLD_CENTS
            )
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="tax-summary-{year}.csv"'
            csv.writer(response).writerows(selectors.tax_summary_csv_rows(year=year, rows=rows))
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": "Yearly tax summary (CSV)",
            "opts": self.model._meta,
            "form": form,
            "threshold": format_cents(settings.PAYOUTS_TAX_THRESHOLD_CENTS),
        }
        return TemplateResponse(request, "payouts/admin/tax_summary.html", context)


class PayoutEventInline(ReadOnlyInline):
    model = PayoutEvent
    fields = ("at", "from_status", "to_status", "actor_label", "note")
    readonly_fields = fields


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ("id", "driver", "kind", "period", "amount", "status", "failure_reason")
    list_filter = ("status", "kind", "provider")
    search_fields = ("=driver__id", "=public_id", "transfer_id", "period")
    inlines = (PayoutEventInline,)
    actions = ("retry",)

    @admin.display(description="Amount")
    def amount(self, obj: Payout) -> str:
        return format_cents(obj.amount_cents, obj.currency)

    @admin.action(description="Retry failed payouts (new payout, with a reason)")
    def retry(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            title="Retry failed payouts",
            apply=lambda p, actor, data: services.payout_retry(
                payout_id=p.id, actor=actor, reason=data["reason"]
            ),
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and request.user.has_perm("payouts.change_payout")


@admin.register(DriverPayoutAccount)
class DriverPayoutAccountAdmin(admin.ModelAdmin):
    """Where a driver is paid at the provider (e.g. a Stripe Connect acct_ id)."""

    list_display = ("driver", "provider", "external_account_id", "updated_at")
    fields = ("driver", "provider", "external_account_id")
    raw_id_fields = ("driver",)
    search_fields = ("=driver__id", "external_account_id")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.payout_account_set(
            driver_id=obj.driver_id,
            provider=obj.provider,
            external_account_id=obj.external_account_id,
        )
        obj.pk = saved.pk


@admin.register(SandboxTransfer)
class SandboxTransferAdmin(ReadOnlyAdmin):
    list_display = ("transfer_id", "destination", "amount_cents", "currency", "status")
    list_filter = ("status",)
    search_fields = ("idempotency_key", "transfer_id", "destination")


# --- tips -----------------------------------------------------------------------------------


@admin.register(TipReview)
class TipReviewAdmin(ReadOnlyAdmin):
    list_display = ("order", "driver", "tips", "status", "requested_by_label", "requested_at")
    list_filter = ("status",)
    search_fields = ("=order__id", "reason")
    actions = ("decide",)

    @admin.display(description="Tip")
    def tips(self, obj: TipReview) -> str:
        old, new = (format_cents(c, obj.currency) for c in (obj.from_tip_cents, obj.to_tip_cents))
        return f"{old} → {new}"

    @admin.action(description="Decide: approve or reject (the driver sees the reason)")
    def decide(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            title="Decide tip reviews",
            form_class=DecisionForm,
            apply=lambda r, actor, data: services.tip_review_decide(
                review_id=r.id, approve=data["approve"], note=data["reason"], actor=actor
            ),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payouts.add_tipreview")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None):  # type: ignore[no-untyped-def, override]
        form = TipReviewRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.tip_review_request(
                    order_id=data["order_id"],
                    tip_cents=data["new_tip"],
                    reason=data["reason"],
                    actor=_actor(request),
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, "Tip review requested; another person decides.")
                return HttpResponseRedirect(reverse("admin:payouts_tipreview_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Ask to lower a tip",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "payouts/admin/form.html", context)


# --- reconciliation -------------------------------------------------------------------------


class AlertInline(ReadOnlyInline):
    model = ReconciliationAlert
    fields = ("check_name", "currency", "driver", "subject", "difference_cents", "message")
    readonly_fields = fields


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """The reconciliation report (M7): each daily run, what it compared and every alert."""

    list_display = ("started_at", "finished_at", "alerts_count", "checked")
    inlines = (AlertInline,)
    change_list_template = "payouts/admin/reconciliation_changelist.html"

    @admin.display(description="Compared")
    def checked(self, obj: ReconciliationRun) -> str:
        return ", ".join(f"{k}: {v}" for k, v in obj.checks.items())

    def get_urls(self) -> list:  # type: ignore[type-arg]
        view = self.admin_site.admin_view
        return [
            path("run/", view(self.run_now), name="payouts_reconciliation_run"),
            *super().get_urls(),
        ]

    def run_now(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:payouts_reconciliationrun_changelist"))
        run = services.reconciliation_run()
        level = messages.ERROR if run.alerts_count else messages.SUCCESS
        self.message_user(request, f"Reconciliation: {run.alerts_count} alert(s).", level)
        return HttpResponseRedirect(
            reverse("admin:payouts_reconciliationrun_change", args=[run.id])
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None):  # type: ignore[no-untyped-def, override]
        extra = {
            "failed_payouts": selectors.payout_list_failed()[:20],
            "open_alerts": ReconciliationAlert.objects.filter(run=self._latest())
            if self._latest()
            else [],
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    @staticmethod
    def _latest() -> ReconciliationRun | None:
        return ReconciliationRun.objects.order_by("-started_at").first()

"""Ops back office for drivers: review queues and decisions. Every decision is an admin action
that asks for a reason on an intermediate page and calls a service; status fields are never
edited by hand."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from drivers import selectors, services, texts
from drivers.forms import ReasonForm
from drivers.models import (
    Appeal,
    BackgroundCheck,
    Document,
    Driver,
    DriverEvent,
    InboundWebhook,
    Vehicle,
)
from spark.lib import admin as admin_kit
from spark.lib import clock
from spark.lib.actors import Actor

Apply = Callable[[Any, Actor, str, str], object]


def reason_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    apply: Apply,
    needs_evidence: bool = False,
    reason_label: str = "Reason (the driver sees it)",
) -> TemplateResponse | None:
    """Ask for the reason (and evidence) on an intermediate page, then apply to each row."""
    form = ReasonForm(
        request.POST if "apply" in request.POST else None, needs_evidence=needs_evidence
    )
    form.fields["reason"].label = reason_label
    return admin_kit.reason_action(
        modeladmin,
        request,
        queryset,
        title=title,
        form=form,
        apply=lambda obj, actor, data: apply(obj, actor, data["reason"], data.get("evidence", "")),
    )


def _status_badge(status: str) -> str:
    colour = {"ok": "#17833a", "warn": "#b25e00", "bad": "#c62828"}.get(
        texts.STATUS_BADGES.get(status, ""), "#234"
    )
    return format_html('<b style="color:{}">{}</b>', colour, status.replace("_", " "))


def _waited(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


class ReadOnlyInline(admin_kit.ReadOnlyInline):
    show_change_link = True


class VehicleInline(ReadOnlyInline):
    model = Vehicle
    fields = ("type", "make", "model", "year", "cargo_capacity_units", "plate")
    readonly_fields = fields


class DocumentInline(ReadOnlyInline):
    model = Document
    fields = ("kind", "status", "expires_on", "is_current", "file_link", "reject_reason")
    readonly_fields = fields
    ordering = ("-is_current", "kind", "-created_at")

    @admin.display(description="File")
    def file_link(self, obj: Document) -> str:
        return _file_link(obj)


class BackgroundCheckInline(ReadOnlyInline):
    model = BackgroundCheck
    fields = ("provider", "status", "result", "adjudication", "adverse_action_due_at")
    readonly_fields = fields


class DriverEventInline(ReadOnlyInline):
    model = DriverEvent
    fields = ("at", "headline", "from_status", "to_status", "actor_label", "reason", "evidence")
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="What")
    def headline(self, obj: DriverEvent) -> str:
        return texts.event_headline(obj)


def _file_link(obj: Document) -> str:
    url = reverse("driver:document_file", kwargs={"public_id": obj.public_id})
    return format_html('<a href="{}">Download {}</a>', url, obj.content_type.split("/")[-1])


class WaitingOnOpsFilter(admin.SimpleListFilter):
    title = "waiting on ops"
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("documents", "Documents to review"),
            ("checks", "Checks to adjudicate (consider)"),
            ("appeals", "Open appeals"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("documents", "checks", "appeals"):
            ids = selectors.driver_list_waiting_on_ops(what=self.value()).values("id")
            return queryset.filter(id__in=ids)
        return queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]


@admin.register(Driver)
class DriverAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "email", "status_badge", "home_market", "is_21_plus", "created_at")
    list_filter = (WaitingOnOpsFilter, "status", "home_market", "is_21_plus")
    search_fields = ("user__username", "user__email", "user__first_name", "user__last_name")
    list_select_related = ("user", "home_market")
    inlines = (VehicleInline, DocumentInline, BackgroundCheckInline, DriverEventInline)
    actions = ("approve", "suspend", "deactivate", "reject_application")

    @admin.display(description="E-mail", ordering="user__email")
    def email(self, obj: Driver) -> str:
        return obj.user.email

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Driver) -> str:
        return _status_badge(obj.status)

    @admin.action(description="Approve / reinstate the selected drivers", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Approve or reinstate drivers",
            apply=lambda d, actor, reason, _: services.driver_approve(
                driver_id=d.id, actor=actor, reason=reason
            ),
        )

    @admin.action(description="Suspend the selected drivers", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Suspend drivers",
            needs_evidence=True,
            apply=lambda d, actor, reason, evidence: services.driver_suspend(
                driver_id=d.id, actor=actor, reason=reason, evidence=evidence
            ),
        )

    @admin.action(description="Deactivate the selected drivers", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Deactivate drivers",
            needs_evidence=True,
            apply=lambda d, actor, reason, evidence: services.driver_deactivate(
                driver_id=d.id, actor=actor, reason=reason, evidence=evidence
            ),
        )

    @admin.action(description="Reject the selected applications", permissions=["change"])
    def reject_application(
        self, request: HttpRequest, queryset: QuerySet
    ) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Reject applications (before screening)",
            apply=lambda d, actor, reason, _: services.driver_reject(
                driver_id=d.id, actor=actor, reason=reason
            ),
        )


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = (
        "driver",
        "kind",
        "status",
        "expires_on",
        "is_current",
        "created_at",
        "file_link",
    )
    list_filter = ("status", "kind", "is_current")
    search_fields = ("driver__user__email", "public_id")
    list_select_related = ("driver__user",)
    ordering = ("created_at",)
    actions = ("approve", "reject")
    # The stored name is never shown (no public URL exists); the link goes through the
    # permission-checked download view. The licence number shows its last 4 characters.
    exclude = ("licence_number", "file")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        hidden = {"licence_number", "file"}
        fields = [f for f in super().get_readonly_fields(request, obj) if f not in hidden]
        return [*fields, "licence_number_masked", "file_link"]

    @admin.display(description="File")
    def file_link(self, obj: Document) -> str:
        return _file_link(obj)

    @admin.display(description="Licence number")
    def licence_number_masked(self, obj: Document) -> str:
        return obj.licence_number_masked

    @admin.action(description="Approve the selected documents", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Approve documents",
            reason_label="Note (what you checked)",
            apply=lambda doc, actor, reason, _: services.document_approve(
                document_id=doc.id, actor=actor, reason=reason
            ),
        )

    @admin.action(description="Reject the selected documents", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Reject documents",
            apply=lambda doc, actor, reason, _: services.document_reject(
                document_id=doc.id, actor=actor, reason=reason
            ),
        )


class NeedsReviewFilter(admin.SimpleListFilter):
    title = "needs review"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("consider", "Consider, undecided"), ("waiting", "In the waiting period")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "consider":
            return queryset.filter(
                status=BackgroundCheck.Status.COMPLETE,
                result=BackgroundCheck.Result.CONSIDER,
                adjudication=BackgroundCheck.Adjudication.NONE,
            )
        if self.value() == "waiting":
            return queryset.filter(adjudication=BackgroundCheck.Adjudication.PRE_ADVERSE_ACTION)
        return queryset


@admin.register(BackgroundCheck)
class BackgroundCheckAdmin(ReadOnlyAdmin):
    list_display = (
        "driver",
        "provider",
        "status",
        "result",
        "adjudication",
        "completed_at",
        "adverse_action_due_at",
    )
    list_filter = (NeedsReviewFilter, "status", "result", "adjudication", "provider")
    search_fields = ("driver__user__email", "candidate_id", "invitation_id", "report_id")
    list_select_related = ("driver__user",)
    actions = ("engage", "pre_adverse_action")

    @admin.action(description="Proceed (engage) with the selected drivers", permissions=["change"])
    def engage(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Proceed despite the report (engage)",
            reason_label="Why the findings do not disqualify (kept for the audit)",
            apply=lambda c, actor, reason, _: services.background_check_engage(
                check_id=c.id, actor=actor, note=reason
            ),
        )

    @admin.action(description="Start adverse action (pre-adverse notice)", permissions=["change"])
    def pre_adverse_action(
        self, request: HttpRequest, queryset: QuerySet
    ) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Send the pre-adverse action notice",
            reason_label="The findings this decision rests on (sent to the driver)",
            apply=lambda c, actor, reason, _: services.background_check_pre_adverse_action(
                check_id=c.id, actor=actor, reason=reason
            ),
        )


class AppealStatusFilter(admin.SimpleListFilter):
    """Open appeals by default: the queue is what ops look at."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("decided", "Decided"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "open") == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(status=Appeal.Status.OPEN)
        if value == "decided":
            return queryset.exclude(status=Appeal.Status.OPEN)
        return queryset


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("id", "driver", "decision", "filed_at", "waiting", "status")
    list_filter = (AppealStatusFilter,)
    search_fields = ("driver__user__email",)
    list_select_related = ("driver__user", "event")
    ordering = ("filed_at",)
    actions = ("uphold", "overturn")

    @admin.display(description="Decision appealed")
    def decision(self, obj: Appeal) -> str:
        return f"{texts.event_headline(obj.event)}: {obj.event.reason[:80]}"

    @admin.display(description="Waiting")
    def waiting(self, obj: Appeal) -> str:
        end = obj.decided_at or clock.now()
        text = _waited(end - obj.filed_at)
        return text if obj.decided_at is None else f"took {text}"

    @admin.action(description="Uphold the decision (the driver stays out)", permissions=["change"])
    def uphold(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Uphold the decision",
            reason_label="Decision note (sent to the driver)",
            apply=lambda a, actor, reason, _: services.appeal_decide(
                appeal_id=a.id, actor=actor, overturn=False, note=reason
            ),
        )

    @admin.action(description="Overturn the decision (reinstate)", permissions=["change"])
    def overturn(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return reason_action(
            self,
            request,
            queryset,
            title="Overturn the decision and reinstate",
            reason_label="Decision note (sent to the driver)",
            apply=lambda a, actor, reason, _: services.appeal_decide(
                appeal_id=a.id, actor=actor, overturn=True, note=reason
            ),
        )


@admin.register(DriverEvent)
class DriverEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "driver", "code", "from_status", "to_status", "actor_label")
    list_filter = ("code", "to_status")
    search_fields = ("driver__user__email", "actor_label")
    list_select_related = ("driver__user",)


@admin.register(InboundWebhook)
class InboundWebhookAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id")
    list_filter = ("provider", "event_type")
    search_fields = ("event_id",)

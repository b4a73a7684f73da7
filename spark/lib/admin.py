"""Admin pieces every app's back office shares: read-only views of service-written rows, and
actions that ask ops for a reason on an intermediate page before a service runs."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from spark.lib.actors import Actor
from spark.lib.errors import ApplicationError

REASON_TEMPLATE = "admin/reason_form.html"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services (append-only or machine-written): ops look, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def reason_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    form: forms.Form,
    apply: Callable[[Any, Actor, dict[str, Any]], object],
    done: str = "Done",
) -> TemplateResponse | None:
    """Show `form` for the selected rows; once valid, apply to each row as the ops user.

    `form` is bound to request.POST when the page was submitted ("apply" in the POST). A domain
    error on one row is reported and the others still run.
    """
    if "apply" in request.POST and form.is_valid():
        actor = Actor.user(request.user, role="ops")
        ok = 0
        for obj in queryset:
            try:
                apply(obj, actor, form.cleaned_data)
                ok += 1
            except ApplicationError as exc:
                modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
        if ok:
            modeladmin.message_user(
                request, f"{done} for {ok} of {len(queryset)}.", messages.SUCCESS
            )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "objects": list(queryset),
        "form": form,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, REASON_TEMPLATE, context)

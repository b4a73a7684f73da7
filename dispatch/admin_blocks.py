"""Ops back office for scheduled blocks: publish (the service's rules, as form errors), the list
with capacity / reserved / requested counts, the lottery drawn on demand once due, and
cancellation with a required reason. A published block is read-only, and reservations only
change through the services. dispatch/admin.py imports this module to register it."""

from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from dispatch import selectors_blocks, services
from dispatch.models import Block, BlockReservation
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import ApplicationError
from spark.lib.money import format_cents

PUBLISH_FIELDS = (
    "market",
    "store",
    "starts_at",
    "ends_at",
    "opens_at",
    "guaranteed_pay_cents",
    "capacity",
    "lottery_window_seconds",
    "forfeit_cutoff_minutes",
)


def _ops(request: HttpRequest) -> Actor:
    return Actor.user(request.user, role="ops")


class BlockPublishForm(forms.ModelForm):
    class Meta:
        model = Block
        fields = PUBLISH_FIELDS
        help_texts = {
            "guaranteed_pay_cents": "In cents: 9000 is $90.00 for the whole block.",
            "opens_at": "When drivers can start asking (empty: now). The first "
            "lottery-window seconds after it are drawn together.",
            "store": "Empty: anywhere in the market.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "opens_at" in self.fields:  # a published block's form has no fields
            self.fields["opens_at"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        store, market = data.get("store"), data.get("market")
        if store is not None and market is not None and store.market_id != market.id:
            self.add_error("store", "That store is not in this market.")
            return data
        try:
            services.block_validate(
                now=clock.now(),
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                opens_at=data.get("opens_at") or clock.now(),
                capacity=data["capacity"],
                guaranteed_pay_cents=data["guaranteed_pay_cents"],
                lottery_window_seconds=data["lottery_window_seconds"],
                forfeit_cutoff_minutes=data["forfeit_cutoff_minutes"],
            )
        except services.InvalidBlock as exc:
            self.add_error(exc.extra.get("field"), exc.message)
        return data

    def validate_constraints(self, exclude: Any = None) -> None:
        """The service's rules above say it better than the database's constraint names."""


class CancelForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Drivers with a request or a reservation are e-mailed this reason.",
    )


class ReservationInline(admin.TabularInline):
    model = BlockReservation
    extra = 0
    can_delete = False
    fields = ("driver", "status", "requested_at", "lottery_weight", "decided_at", "checked_in_at")
    readonly_fields = fields
    ordering = ("status", "requested_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    form = BlockPublishForm
    list_display = (
        "when",
        "market",
        "store",
        "status",
        "pay",
        "capacity",
        "reserved",
        "requested",
        "lottery",
    )
    list_display_links = ("when",)
    list_filter = ("status", "market", "store", "starts_at")
    date_hierarchy = "starts_at"
    ordering = ("-starts_at",)
    actions = ("draw_lottery_now", "cancel_blocks")
    inlines = (ReservationInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Block]:
        return selectors_blocks.block_list_with_counts()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return (*PUBLISH_FIELDS, "status", "reserved", "requested", "lottery", "seed", "history")

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)  # published: read-only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cancel instead: drivers are told why

    def save_model(self, request: HttpRequest, obj: Block, form: Any, change: bool) -> None:
        if change:
            return  # published blocks are read-only
        data = form.cleaned_data
        block = services.block_publish(
            market_id=data["market"].id,
            store_id=data["store"].id if data.get("store") else None,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            opens_at=data.get("opens_at"),
            guaranteed_pay_cents=data["guaranteed_pay_cents"],
            capacity=data["capacity"],
            lottery_window_seconds=data["lottery_window_seconds"],
            forfeit_cutoff_minutes=data["forfeit_cutoff_minutes"],
            actor=_ops(request),
        )
        for field in Block._meta.concrete_fields:  # the admin redirects and logs with `obj`
            setattr(obj, field.attname, getattr(block, field.attname))
        obj._state.adding = False

    @admin.display(description="When (market time)", ordering="starts_at")
    def when(self, obj: Block) -> str:
        tz = ZoneInfo(obj.market.timezone)
        start, end = obj.starts_at.astimezone(tz), obj.ends_at.astimezone(tz)
        return f"{start:%a %b %d, %H:%M}–{end:%H:%M} {start:%Z}"

    @admin.display(description="Guarantee")
    def pay(self, obj: Block) -> str:
        return format_cents(obj.guaranteed_pay_cents, obj.currency)

    @admin.display(description="Reserved")
    def reserved(self, obj: Any) -> int:
        return int(getattr(obj, "reserved_count", 0))

    @admin.display(description="Requested")
    def requested(self, obj: Any) -> int:
        return int(getattr(obj, "requested_count", 0))

    @admin.display(description="Lottery")
    def lottery(self, obj: Block) -> str:
        now = clock.now()
        if obj.lottery_drawn_at is not None:
            return f"drawn {obj.lottery_drawn_at:%Y-%m-%d %H:%M:%S}"
        if obj.status == Block.Status.CANCELLED:
            return "-"
        if now < obj.opens_at:
            return f"opens {obj.opens_at:%Y-%m-%d %H:%M}"
        if now < obj.lottery_closes_at:
            return f"window open until {obj.lottery_closes_at:%H:%M:%S}"
        return "due"

    @admin.display(description="Seed")
    def seed(self, obj: Block) -> str:
        # Secret until the draw (it decides the draw); published after it, for audit.
        return str(obj.lottery_seed) if obj.lottery_drawn_at else "(shown after the draw)"

    @admin.display(description="History")
    def history(self, obj: Block) -> str:
        events = selectors_blocks.block_events(block_id=obj.id).order_by("at", "id")
        return format_html_join(
            "",
            "<div>{} · {} → {} · {}{}</div>",
            (
                (
                    f"{e.at:%Y-%m-%d %H:%M}",
                    e.from_status or "new",
                    e.to_status,
                    e.actor_label,
                    f" · {e.note}" if e.note else "",
                )
                for e in events
            ),
        ) or format_html("<span>{}</span>", "-")

    @admin.action(description="Draw the lottery now (due blocks only)")
    def draw_lottery_now(self, request: HttpRequest, queryset: QuerySet[Block]) -> None:
        now, drawn = clock.now(), 0
        for block in queryset:
            if block.lottery_drawn_at is not None or block.status == Block.Status.CANCELLED:
                self.message_user(request, f"{block}: nothing to draw.", messages.WARNING)
            elif now < block.lottery_closes_at:
                when = f"{block.lottery_closes_at:%Y-%m-%d %H:%M:%S} UTC"
                self.message_user(request, f"{block}: not due until {when}.", messages.WARNING)
            else:
                services.block_lottery_draw(block_id=block.id, actor=_ops(request))
                drawn += 1
        if drawn:
            self.message_user(request, f"Drew {drawn} lotteries.", messages.SUCCESS)

    @admin.action(description="Cancel blocks (asks for a reason)")
    def cancel_blocks(
        self, request: HttpRequest, queryset: QuerySet[Block]
    ) -> TemplateResponse | None:
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for block in queryset:
                try:
                    services.block_cancel(
                        block_id=block.id, actor=_ops(request), reason=form.cleaned_data["reason"]
                    )
                    done += 1
                except ApplicationError as exc:
                    self.message_user(request, f"{block}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(request, f"Cancelled {done} blocks.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel blocks",
            "objects": list(queryset),
            "form": form,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "dispatch/blocks/admin/cancel.html", context)


@admin.register(BlockReservation)
class BlockReservationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "block",
        "driver",
        "status",
        "requested_at",
        "lottery_weight",
        "decided_at",
        "checked_in_at",
    )
    list_filter = ("status", "block__market", "block__starts_at")
    list_select_related = ("block", "driver__user")
    search_fields = ("driver__user__email", "driver__user__last_name", "block__public_id")
    ordering = ("-requested_at",)
    readonly_fields = ("history",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="History")
    def history(self, obj: BlockReservation) -> str:
        events = selectors_blocks.block_reservation_events(reservation_id=obj.id)
        return format_html_join(
            "",
            "<div>{} · {} → {} · {} · {}</div>",
            (
                (
                    f"{e.at:%Y-%m-%d %H:%M:%S}",
                    e.from_status or "new",
                    e.to_status,
                    e.actor_label,
                    e.note,
                )
                for e in events
            ),
        )

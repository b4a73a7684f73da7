"""Proof of delivery for disputes: a printable page per order, the photo behind the same
membership check, and a CSV export of a date range."""

import csv
import mimetypes
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from spark.lib import clock
from spark.store import selectors
from spark.store.access import store_context, store_page
from spark.store.forms import PodExportForm

CSV_COLUMNS = [
    "order_id",
    "external_order_id",
    "status",
    "customer_name",
    "dropoff_address",
    "window_start",
    "window_end",
    "delivered_at",
    "on_time",
    "pod_lat",
    "pod_lng",
    "distance_from_address_m",
    "signature_name",
    "pin_ok",
    "id_checked",
    "photo_url",
    "undeliverable_reason",
    "driver",
]


@store_page
@require_GET
def order_pod(request: HttpRequest, store: Any, order: Any) -> HttpResponse:
    stop = selectors.pod_stop_for_order(order_id=order.id)
    context = store_context(
        request,
        store,
        order=order,
        stop=stop,
        distance_m=selectors.pod_distance_m(order, stop),
        printed_at=clock.now(),
        nav="proofs",
    )
    return render(request, "store/pod.html", context)


@store_page
@require_GET
def order_pod_photo(request: HttpRequest, store: Any, order: Any) -> FileResponse:
    """The photo is private: only members of the order's store get it, never a public URL."""
    stop = selectors.pod_stop_for_order(order_id=order.id)
    if stop is None or not stop.pod_photo:
        raise Http404("No photo")
    content_type = mimetypes.guess_type(stop.pod_photo.name)[0] or "application/octet-stream"
    if not content_type.startswith("image/"):
        content_type = "application/octet-stream"
    response = FileResponse(stop.pod_photo.open("rb"), content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="pod-{order.external_order_id}.jpg"'
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _range(store: Any, form: PodExportForm) -> tuple[datetime, datetime]:
    tz = ZoneInfo(store.market.timezone)
    start = datetime.combine(form.cleaned_data["start"], time.min, tzinfo=tz)
    end = datetime.combine(form.cleaned_data["end"] + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def _export_form(request: HttpRequest, store: Any) -> PodExportForm:
    today = clock.now().astimezone(ZoneInfo(store.market.timezone)).date()
    data = request.GET if "start" in request.GET else {"start": today, "end": today}
    return PodExportForm(data)


@store_page
@require_GET
def proofs(request: HttpRequest, store: Any) -> HttpResponse:
    """Delivered and undeliverable orders of a date range, each with its proof."""
    form = _export_form(request, store)
    rows, status = [], 400
    if form.is_valid():
        start, end = _range(store, form)
        rows, status = selectors.pod_rows_for_store(store=store, start=start, end=end), 200
    context = store_context(request, store, form=form, rows=rows, nav="proofs")
    return render(request, "store/proofs.html", context, status=status)


@store_page
@require_GET
def proofs_csv(request: HttpRequest, store: Any) -> HttpResponse:
    form = _export_form(request, store)
    if not form.is_valid():
        return HttpResponse("Invalid date range.", status=400, content_type="text/plain")
    start, end = _range(store, form)
    rows = selectors.pod_rows_for_store(store=store, start=start, end=end)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"pod-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    tz = ZoneInfo(store.market.timezone)
    for row in rows:
        writer.writerow([_cell(v) for v in _csv_row(request, store, row, tz)])
    return response


def _csv_row(request: HttpRequest, store: Any, row: selectors.PodRow, tz: ZoneInfo) -> list:
    order, stop = row.order, row.stop
    photo = ""
    if stop is not None and stop.pod_photo:
        path = reverse("store:order_pod_photo", args=[store.public_id, order.public_id])
        photo = request.build_absolute_uri(path)

    def local(dt: datetime | None) -> str:
        return dt.astimezone(tz).isoformat(timespec="seconds") if dt else ""

    return [
        order.public_id,
        order.external_order_id,
        order.status,
        order.customer_name,
        order.dropoff_address,
        local(order.dropoff_window_start),
        local(order.dropoff_window_end),
        local(stop.delivered_at if stop else None),
        {True: "yes", False: "no", None: ""}[row.on_time],
        stop.pod_lat if stop else "",
        stop.pod_lng if stop else "",
        "" if row.distance_m is None else row.distance_m,
        stop.pod_signature_name if stop else "",
        _yes_no(stop.pod_pin_ok if stop else None),
        _yes_no(stop.pod_id_checked if stop else None),
        photo,
        stop.undeliverable_reason if stop else "",
        order.courier_name,
    ]


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "not required"}[value]


def _cell(value: Any) -> str:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection); numbers and
    ids are written as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return str(value)

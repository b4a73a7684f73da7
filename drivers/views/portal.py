"""The onboarding checklist and its steps: profile, vehicle, documents, background check,
activity (with the reasons for every decision) and appeals."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from drivers import selectors, services
from drivers.forms import (
    AppealForm,
    DocumentUploadForm,
    ProfileForm,
    ScreeningConsentForm,
    VehicleForm,
)
from drivers.models import BackgroundCheck, Document, Driver
from drivers.views.common import actor_for, attempt, driver_page, page, posted
from spark.lib.errors import ApplicationError, NotFound


@require_GET
@driver_page
def home(request: HttpRequest, driver: Driver) -> HttpResponse:
    checklist = selectors.driver_checklist(
        driver=driver, reminder_days=settings.DRIVER_DOCUMENT_EXPIRY_REMINDER_DAYS
    )
    events = selectors.driver_event_list(driver_id=driver.id, limit=5)
    return page(request, "driver/home.html", driver, {"checklist": checklist, "events": events})


@require_http_methods(["GET", "POST"])
@driver_page
def profile(request: HttpRequest, driver: Driver) -> HttpResponse:
    form = ProfileForm(posted(request), driver=driver)
    if request.method == "POST" and form.is_valid():
        done = attempt(
            form,
            lambda: services.driver_profile_update(
                driver_id=driver.id, actor=actor_for(request), **form.service_kwargs()
            ),
        )
        if done is not None:
            messages.success(request, "Profile saved.")
            return redirect("driver:home")
    status = 400 if form.errors else 200
    return page(request, "driver/profile.html", driver, {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@driver_page
def vehicle(request: HttpRequest, driver: Driver) -> HttpResponse:
    current = getattr(driver, "vehicle", None)
    initial = {}
    if current is not None:
        initial = {
            "vehicle_type": current.type,
            "make": current.make,
            "model": current.model,
            "year": current.year,
            "cargo_capacity_units": current.cargo_capacity_units,
            "plate": current.plate,
        }
    form = VehicleForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = attempt(
            form,
            lambda: services.vehicle_save(
                driver_id=driver.id,
                actor=actor_for(request),
                make=data["make"],
                model=data["model"],
                year=data["year"],
                vehicle_type=data["vehicle_type"],
                cargo_capacity_units=data["cargo_capacity_units"],
                plate=data["plate"],
            ),
        )
        if done is not None:
            messages.success(request, "Vehicle saved.")
            return redirect("driver:home")
    status = 400 if form.errors else 200
    return page(request, "driver/vehicle.html", driver, {"form": form}, status=status)


def _document_slots(driver: Driver, forms: dict[str, DocumentUploadForm] | None = None) -> list:
    checklist = selectors.driver_checklist(
        driver=driver, reminder_days=settings.DRIVER_DOCUMENT_EXPIRY_REMINDER_DAYS
    )
    forms = forms or {}
    return [
        {"slot": slot, "form": forms.get(slot.kind) or DocumentUploadForm(kind=slot.kind)}
        for slot in checklist.documents
    ]


@require_GET
@driver_page
def documents(request: HttpRequest, driver: Driver) -> HttpResponse:
    return page(request, "driver/documents.html", driver, {"cards": _document_slots(driver)})


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops reading a file part past the limit, so a huge upload never lands on disk."""

    def __init__(self, request: HttpRequest, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes, self.received = max_bytes, 0

    def new_file(self, *args: object, **kwargs: object) -> None:
        super().new_file(*args, **kwargs)  # type: ignore[arg-type]
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.request.upload_too_large = True  # type: ignore[union-attr]
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt  # the handler must be installed before CSRF reads the body; checked below
@require_POST
def document_upload(request: HttpRequest, kind: str) -> HttpResponse:
    request.upload_handlers.insert(
        0, SizeLimitUploadHandler(request, settings.DRIVER_DOCUMENT_MAX_BYTES)
    )
    return _document_upload(request, kind=kind)


@csrf_protect
@driver_page
def _document_upload(request: HttpRequest, driver: Driver, kind: str) -> HttpResponse:
    if kind not in Document.Kind.values:
        raise Http404("No such document kind")
    form = DocumentUploadForm(request.POST, request.FILES, kind=kind)
    if getattr(request, "upload_too_large", False):
        form.add_error(None, "The file is larger than 10 MB.")
    elif form.is_valid():
        data = form.cleaned_data
        done = attempt(
            form,
            lambda: services.document_upload(
                driver_id=driver.id,
                actor=actor_for(request),
                kind=kind,
                file=data["file"],
                expires_on=data["expires_on"],
                licence_number=data.get("licence_number", ""),
            ),
        )
        if done is not None:
            messages.success(request, f"{done.get_kind_display()} uploaded; we will review it.")
            if request.htmx:
                return HttpResponseClientRedirect(reverse("driver:documents"))
            return redirect("driver:documents")
    cards = _document_slots(driver, {kind: form})
    if request.htmx:
        card = next(c for c in cards if c["slot"].kind == kind)
        return page(request, "driver/_document_card.html", driver, card, status=422)
    return page(request, "driver/documents.html", driver, {"cards": cards}, status=422)


@require_GET
@login_required(login_url=settings.DRIVER_LOGIN_URL)
def document_file(request: HttpRequest, public_id: str) -> FileResponse:
    """The file, to its owner or to ops allowed to view documents; 404 to anyone else.
    Always a download (never rendered inline), and never cached."""
    try:
        document = selectors.document_get_for_viewer(user=request.user, public_id=public_id)
    except NotFound as exc:
        raise Http404("No such document") from exc
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The file is missing") from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"{document.kind}-{document.public_id.hex[:8]}{document.extension}",
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@driver_page
def screening(request: HttpRequest, driver: Driver) -> HttpResponse:
    form = ScreeningConsentForm(posted(request))
    if request.method == "POST" and form.is_valid():
        check = attempt(
            form,
            lambda: services.background_check_start(driver_id=driver.id, actor=actor_for(request)),
        )
        if check is not None:
            return redirect(check.invitation_url)
    checklist = selectors.driver_checklist(driver=driver)
    context = {"form": form, "checklist": checklist, "check": checklist.check}
    return page(
        request, "driver/screening.html", driver, context, status=400 if form.errors else 200
    )


@require_GET
@driver_page
def screening_status(request: HttpRequest, driver: Driver) -> HttpResponse:
    """The htmx-polled status card; polling stops once the check is no longer running."""
    check = selectors.background_check_latest(driver_id=driver.id)
    response = page(request, "driver/_screening_status.html", driver, {"check": check})
    if check is None or check.status not in BackgroundCheck.OPEN:
        response.status_code = 286  # htmx: stop polling
    return response


@require_http_methods(["GET", "POST"])
@driver_page
def screening_sandbox(request: HttpRequest, driver: Driver, invitation_id: str) -> HttpResponse:
    """The sandbox provider's hosted invitation (a real provider hosts this page itself)."""
    check = selectors.background_check_get_for_driver(
        driver_id=driver.id, provider="sandbox", invitation_id=invitation_id
    )
    error = ""
    if request.method == "POST":
        try:
            services.sandbox_invitation_submit(driver_id=driver.id, invitation_id=invitation_id)
        except ApplicationError as exc:
            error = exc.message
        else:
            messages.success(request, "Submitted. Your report usually takes a few seconds here.")
            return redirect("driver:screening")
    context = {"check": check, "error": error}
    return page(request, "driver/screening_sandbox.html", driver, context)


@require_GET
@driver_page
def activity(request: HttpRequest, driver: Driver) -> HttpResponse:
    events = selectors.driver_event_list(driver_id=driver.id, limit=100)
    return page(request, "driver/activity.html", driver, {"events": events})


@require_GET
@driver_page
def appeals(request: HttpRequest, driver: Driver) -> HttpResponse:
    context = {
        "appeals": selectors.appeal_list_for_driver(driver_id=driver.id),
        "appealable": selectors.driver_event_appealable(driver=driver),
    }
    return page(request, "driver/appeals.html", driver, context)


@require_http_methods(["GET", "POST"])
@driver_page
def appeal_new(request: HttpRequest, driver: Driver, event_id: int) -> HttpResponse:
    event = selectors.driver_event_appealable(driver=driver)
    if event is None or event.id != event_id:
        raise NotFound("No decision to appeal.")
    form = AppealForm(posted(request))
    if request.method == "POST" and form.is_valid():
        appeal = attempt(
            form,
            lambda: services.appeal_file(
                driver_id=driver.id,
                event_id=event.id,
                text=form.cleaned_data["text"],
                actor=actor_for(request),
            ),
        )
        if appeal is not None:
            messages.success(request, "Appeal sent. We will e-mail you the decision.")
            return redirect("driver:appeal_detail", appeal_id=appeal.id)
    context = {"form": form, "event": event}
    status = 400 if form.errors else 200
    return page(request, "driver/appeal_form.html", driver, context, status=status)


@require_GET
@driver_page
def appeal_detail(request: HttpRequest, driver: Driver, appeal_id: int) -> HttpResponse:
    appeal = selectors.appeal_get_for_driver(driver_id=driver.id, appeal_id=appeal_id)
    return page(request, "driver/appeal_detail.html", driver, {"appeal": appeal})

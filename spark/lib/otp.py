"""Two-factor log-in for ops accounts (django-otp, TOTP).

With SPARK_OPS_2FA on, a staff or superuser session that has not verified a TOTP device reaches
no page but the two-factor step and log-out: the admin, the ops console and staff views of
driver documents all need `request.user.is_verified()`. A staff user with no device yet enrols
one on first log-in (secret plus QR code, confirmed by a first code). Drivers and store staff
are not staff accounts and never see any of it.
"""

import base64
import functools
import re
from collections.abc import Callable
from urllib.parse import urlencode

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control
from django_otp.plugins.otp_totp.models import TOTPDevice

from spark.lib.api import error_body

# Pages an unverified staff session may still open: the two-factor step itself and log-outs.
_OPEN_URL_NAMES = (
    "otp_verify",
    "otp_setup",
    "healthz",
    "admin:logout",
    "driver:logout",
    "store:logout",
)


def is_elevated(user: object) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and (getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))
    )


def needs_second_factor(user: object) -> bool:
    """A staff session that has not verified a device (while the requirement is on)."""
    if not settings.SPARK_OPS_2FA or not is_elevated(user):
        return False
    is_verified = getattr(user, "is_verified", None)
    return not (is_verified is not None and is_verified())


@functools.cache
def _open_paths() -> frozenset[str]:
    paths = set()
    for name in _OPEN_URL_NAMES:
        try:
            paths.add(reverse(name))
        except NoReverseMatch:
            continue
    return frozenset(paths)


class OpsTwoFactorMiddleware:
    """After django-otp's OTPMiddleware: sends unverified staff sessions to the two-factor step.

    Pages get a redirect (the step comes back to the page); API calls and form posts get 403.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Without a session cookie the session is empty and its user anonymous: no staff
        # session to gate, so an API key or driver token request skips loading the user.
        if (
            settings.SESSION_COOKIE_NAME in request.COOKIES
            and needs_second_factor(getattr(request, "user", None))
            and not self._open(request)
        ):
            return self._second_factor_required(request)
        return self.get_response(request)

    @staticmethod
    def _open(request: HttpRequest) -> bool:
        path = request.path_info
        return path in _open_paths() or path.startswith("/" + settings.STATIC_URL.lstrip("/"))

    @staticmethod
    def _second_factor_required(request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and not request.path_info.startswith("/api/"):
            return HttpResponseRedirect(_step_url(request.user, request.get_full_path()))
        body = error_body("two_factor_required", "Verify your two-factor device first.")
        return JsonResponse(body, status=403)


def _step_url(user: object, next_url: str) -> str:
    has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    name = "otp_verify" if has_device else "otp_setup"
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("ops:index")


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token = re.sub(r"\s+", "", self.cleaned_data["token"])
        if not token.isdigit():
            raise forms.ValidationError("Enter the 6-digit code.")
        return token


def _staff_step(
    view: Callable[[HttpRequest, str], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Log-in first; users who need no second factor (now) go straight on."""

    @cache_control(private=True, no_store=True)
    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        next_url = _next_url(request)
        if not is_elevated(request.user) or request.user.is_verified():
            return HttpResponseRedirect(next_url)
        return view(request, next_url)

    return wrapper


def _verified(request: HttpRequest, device: TOTPDevice, next_url: str) -> HttpResponse:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session id for the now stronger session
    return HttpResponseRedirect(next_url)


@_staff_step
def otp_verify(request: HttpRequest, next_url: str) -> HttpResponse:
    devices = list(TOTPDevice.objects.devices_for_user(request.user, confirmed=True))
    if not devices:
        return HttpResponseRedirect(f"{reverse('otp_setup')}?{urlencode({'next': next_url})}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        for device in devices:
            # Per device, in a transaction, with django-otp's throttling after failures.
            if django_otp.verify_token(request.user, device.persistent_id, token):
                return _verified(request, device, next_url)
        form.add_error("token", "That code is not right, or it was already used. Try the next.")
    return render(request, "otp/verify.html", {"form": form, "next": next_url})


@_staff_step
def otp_setup(request: HttpRequest, next_url: str) -> HttpResponse:
    """First log-in: one unconfirmed device per user until a first code confirms it."""
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        # Enrolling another device takes a verified session (or ops removing the old one).
        return HttpResponseRedirect(f"{reverse('otp_verify')}?{urlencode({'next': next_url})}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            if device.verify_token(form.cleaned_data["token"]):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                return _verified(request, device, next_url)
        form.add_error("token", "That code is not right. Check the app's clock and try again.")
    context = {
        "form": form,
        "next": next_url,
        "secret": secret_for_display(device),
        "qr_svg": qr_svg(device.config_url),
    }
    return render(request, "otp/setup.html", context)


def secret_for_display(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(data: str) -> str:
    """An inline SVG QR code, made here: the secret never leaves the server."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    return re.sub(
        r'^<svg width="[^"]*" height="[^"]*"',
        '<svg width="240" height="240" role="img" aria-label="QR code for your authenticator app"',
        svg,
        count=1,
    )

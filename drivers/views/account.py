"""Sign-up, log-in (django-axes locks a username + IP after 3 failures), log-out and
password reset with Django's own views and our templates."""

import math
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from drivers import selectors, services
from drivers.forms import LoginForm, SignupForm
from drivers.views.common import attempt, page, posted
from spark.lib import throttle

# Sign-up floods (A6): at most this many sign-up posts per client IP per hour, valid or not.
SIGNUPS_PER_IP = 10
SIGNUP_WINDOW_SECONDS = 3600


def _signup_limited(request: HttpRequest) -> float | None:
    """Counts this post against the client's IP (as django-axes sees it, proxies included):
    None while within the limit, else the seconds to wait."""
    ip = get_client_ip_address(request) or "unknown"
    return throttle.hit(f"signup:{ip}", limit=SIGNUPS_PER_IP, seconds=SIGNUP_WINDOW_SECONDS)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and selectors.driver_get_for_user(user_id=request.user.id):
        return redirect("driver:home")
    form = SignupForm(posted(request))
    wait = _signup_limited(request) if request.method == "POST" else None
    if wait is not None:
        form.add_error(None, "Too many sign-ups from your network. Try again later.")
        response = page(request, "driver/auth/signup.html", None, {"form": form}, status=429)
        response["Retry-After"] = str(math.ceil(wait))
        return response
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        driver = attempt(
            form,
            lambda: services.driver_signup(
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                phone=data["phone"],
                home_market_id=data["home_market"].id,
            ),
        )
        if driver is not None:
            login(request, driver.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Spark! Let's get you on the road.")
            return redirect("driver:home")
    status = 400 if form.errors else 200
    return page(request, "driver/auth/signup.html", None, {"form": form}, status=status)


class LoginView(auth_views.LoginView):
    template_name = "driver/auth/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    next_page = reverse_lazy("driver:home")

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("driver:login")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "driver/auth/password_reset_form.html"
    email_template_name = "driver/auth/password_reset_email.txt"
    subject_template_name = "driver/auth/password_reset_subject.txt"
    success_url = reverse_lazy("driver:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "driver/auth/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "driver/auth/password_reset_confirm.html"
    success_url = reverse_lazy("driver:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "driver/auth/password_reset_complete.html"

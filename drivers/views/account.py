"""Sign-up, log-in (django-axes locks a username + IP after 3 failures), log-out and
password reset with Django's own views and our templates."""

from typing import Any

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


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and selectors.driver_get_for_user(user_id=request.user.id):
        return redirect("driver:home")
    form = SignupForm(posted(request))
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

"""Who may see the ops console: staff users. Anonymous visitors go to the admin log-in;
any other logged-in user (a driver, store staff) gets 403 on every ops page (A4)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control

from spark.lib.errors import NotFound


def ops_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @cache_control(private=True, no_store=True)
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (user.is_active and user.is_staff):
            return render(request, "ops/forbidden.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper

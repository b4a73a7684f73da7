"""Who may see a store page: a logged-in member of that store, and nobody else.

Every store URL carries the store's public id; a store the user is not a member of is 404
(its existence is not disclosed), and so is any order of another store.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control

from orders import selectors as order_selectors
from spark.lib.actors import Actor
from spark.lib.errors import NotFound

LOGIN_URL = "store:login"


def store_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view gets the member's store (and the store's order, when the URL names one)."""

    @login_required(login_url=LOGIN_URL)
    @cache_control(private=True, no_store=True)
    @wraps(view)
    def wrapper(request: HttpRequest, store_id: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            store = order_selectors.store_get_for_user(user_id=request.user.id, public_id=store_id)
            if "order_id" in kwargs:
                kwargs["order"] = order_selectors.order_get_for_store(
                    store_id=store.id, public_id=kwargs.pop("order_id")
                )
            return view(request, store, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def actor_for(request: HttpRequest) -> Actor:
    return Actor.user(request.user, role="store")


def store_context(request: HttpRequest, store: Any, **extra: Any) -> dict[str, Any]:
    """What every store page shows: the store, and whether the user has others to switch to."""
    others = order_selectors.store_list_for_user(user_id=request.user.id).exclude(id=store.id)
    return {"store": store, "has_other_stores": others.exists(), **extra}

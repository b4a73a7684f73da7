from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dispatch.urls import api_urlpatterns as driver_api
from drivers.api import ScreeningWebhookApi
from orders.urls import api_urlpatterns as order_api
from orders.urls import tracking_urlpatterns
from spark import views
from spark.lib import health, otp

urlpatterns = [
    # The API first: Django tries the patterns in order on every request, and these are the
    # busy ones (a location ping every few seconds per driver). No pattern below overlaps them.
    path("api/v1/driver/", include((driver_api, "driver-api"))),
    path("api/v1/", include((order_api, "api"))),
    path(
        "api/v1/webhooks/screening/<str:provider>",
        ScreeningWebhookApi.as_view(),
        name="screening_webhook",
    ),
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("account/2fa/", otp.otp_verify, name="otp_verify"),
    path("account/2fa/setup/", otp.otp_setup, name="otp_setup"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("t/", include((tracking_urlpatterns, "tracking"))),
    path("driver/work/", include("dispatch.urls")),
    path("driver/blocks/", include(("dispatch.urls_blocks", "blocks"))),
    path("driver/earnings/", include("payouts.urls")),
    path("driver/", include("drivers.urls")),
    path("store/", include("spark.store.urls")),
    path("ops/", include("spark.ops.urls")),
]

# A database or broker outage met in a middleware (before any view) answers 503, not 500 (Q3).
handler500 = "spark.lib.middleware.server_error"

from django.urls import path

from orders import api, views

api_urlpatterns = [
    path("quotes", api.QuoteCreateApi.as_view(), name="quote-create"),
    path("orders", api.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<uuid:public_id>", api.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<uuid:public_id>/ready", api.OrderReadyApi.as_view(), name="order-ready"),
    path("orders/<uuid:public_id>/cancel", api.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<uuid:public_id>/tip", api.OrderTipApi.as_view(), name="order-tip"),
    path("stores", api.StoreListApi.as_view(), name="store-list"),
    path("webhooks", api.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<uuid:public_id>", api.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:public_id>/rotate-secret",
        api.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
]

tracking_urlpatterns = [
    path("<str:token>/", views.tracking_page, name="page"),
]

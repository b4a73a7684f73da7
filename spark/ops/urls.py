"""The ops console, mounted at /ops/ (namespace "ops"); staff only."""

from django.urls import path

from spark.ops import views

app_name = "ops"

urlpatterns = [
    path("", views.index, name="index"),
    path("markets/<slug:slug>/", views.market, name="market"),
    path("markets/<slug:slug>/metrics.json", views.market_metrics, name="market_metrics"),
    path("queues/", views.queue_list, name="queues"),
    path("orders/", views.order_search, name="orders"),
    path("orders/<uuid:public_id>/", views.order_detail, name="order"),
]

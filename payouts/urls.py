"""The driver's earnings pages, mounted at /driver/earnings/ (namespace "payouts")."""

from django.urls import path

from payouts import views

app_name = "payouts"

urlpatterns = [
    path("", views.home, name="home"),
    path("trips/<uuid:trip_public_id>/", views.trip_detail, name="trip"),
    path("statements/", views.statements, name="statements"),
    path("statements/<str:week>/", views.statement_detail, name="statement"),
    path("statements/<str:week>.csv", views.statement_csv, name="statement_csv"),
    path("payouts/", views.payouts, name="payouts"),
    path("instant-pay/", views.instant_pay, name="instant_pay"),
]

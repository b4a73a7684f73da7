"""Driver portal pages for scheduled blocks, mounted at /driver/blocks/ (namespace "blocks")."""

from django.urls import path

from dispatch import views_blocks as views

block_urlpatterns = [
    path("", views.block_list, name="list"),
    path("mine/", views.block_mine, name="mine"),
    path("<uuid:public_id>/", views.block_detail, name="detail"),
    path("<uuid:public_id>/request/", views.block_request, name="request"),
    path("reservations/<int:reservation_id>/", views.reservation_detail, name="reservation"),
    path(
        "reservations/<int:reservation_id>/release/",
        views.reservation_release,
        name="release",
    ),
]

urlpatterns = block_urlpatterns  # for include("dispatch.urls_blocks")

"""The store dashboard, mounted at /store/ (namespace "store")."""

from django.urls import path

from spark.store import proofs, views

app_name = "store"

ORDER = "<uuid:store_id>/orders/<uuid:order_id>/"

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("<uuid:store_id>/", views.board, name="board"),
    path("<uuid:store_id>/proofs/", proofs.proofs, name="proofs"),
    path("<uuid:store_id>/proofs.csv", proofs.proofs_csv, name="proofs_csv"),
    path(ORDER, views.order_detail, name="order"),
    path(ORDER + "ready", views.order_ready, name="order_ready"),
    path(ORDER + "handoff", views.order_handoff, name="order_handoff"),
    path(ORDER + "return", views.order_return, name="order_return"),
    path(ORDER + "cancel", views.order_cancel, name="order_cancel"),
    path(ORDER + "proof/", proofs.order_pod, name="order_pod"),
    path(ORDER + "proof/photo", proofs.order_pod_photo, name="order_pod_photo"),
]

from django.urls import path

from dispatch import api

api_urlpatterns = [
    path("me", api.DriverMeApi.as_view(), name="me"),
    path("online", api.DriverOnlineApi.as_view(), name="online"),
    path("offline", api.DriverOfflineApi.as_view(), name="offline"),
    path("location", api.DriverLocationApi.as_view(), name="location"),
    path("offers", api.OfferListApi.as_view(), name="offer-list"),
    path("offers/<uuid:public_id>/accept", api.OfferAcceptApi.as_view(), name="offer-accept"),
    path("offers/<uuid:public_id>/decline", api.OfferDeclineApi.as_view(), name="offer-decline"),
    path("trips/current", api.TripCurrentApi.as_view(), name="trip-current"),
    path("trips/<uuid:public_id>", api.TripDetailApi.as_view(), name="trip-detail"),
    path(
        "trips/<uuid:public_id>/arrive-at-store",
        api.TripArriveAtStoreApi.as_view(),
        name="trip-arrive-at-store",
    ),
    path("trips/<uuid:public_id>/pickup", api.TripPickupApi.as_view(), name="trip-pickup"),
    path(
        "trips/<uuid:public_id>/stops/<uuid:order_id>/arrive",
        api.StopArriveApi.as_view(),
        name="stop-arrive",
    ),
    path(
        "trips/<uuid:public_id>/stops/<uuid:order_id>/deliver",
        api.StopDeliverApi.as_view(),
        name="stop-deliver",
    ),
    path(
        "trips/<uuid:public_id>/stops/<uuid:order_id>/undeliverable",
        api.StopUndeliverableApi.as_view(),
        name="stop-undeliverable",
    ),
    path(
        "trips/<uuid:public_id>/stops/<uuid:order_id>/return",
        api.StopReturnApi.as_view(),
        name="stop-return",
    ),
]

urlpatterns: list = []

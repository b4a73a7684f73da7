from django.urls import path

from dispatch import api
from dispatch.views import trip, work

api_urlpatterns = [
    path("token", api.DriverTokenApi.as_view(), name="token"),
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

# The driver portal's work pages, mounted at /driver/work/ (namespace "work").
STOP = "trips/<uuid:public_id>/stops/<uuid:order_id>"
portal_urlpatterns = [
    path("", work.home, name="home"),
    path("online", work.go_online, name="online"),
    path("offline", work.go_offline, name="offline"),
    path("offers/", work.offers, name="offers"),
    path("offers/<uuid:public_id>/accept", work.offer_accept, name="offer-accept"),
    path("offers/<uuid:public_id>/decline", work.offer_decline, name="offer-decline"),
    path("trips/", work.trips, name="trips"),
    path("trips/<uuid:public_id>/", trip.trip_detail, name="trip"),
    path("trips/<uuid:public_id>/arrive-at-store", trip.arrive_at_store, name="arrive-at-store"),
    path("trips/<uuid:public_id>/pickup", trip.pickup, name="pickup"),
    path(f"{STOP}/arrive", trip.stop_arrive, name="stop-arrive"),
    path(f"{STOP}/deliver", trip.stop_deliver, name="stop-deliver"),
    path(f"{STOP}/undeliverable", trip.stop_undeliverable, name="stop-undeliverable"),
    path(f"{STOP}/return", trip.stop_return, name="stop-return"),
]

# include("dispatch.urls") mounts the portal pages; the API is mounted by its own list.
app_name = "work"
urlpatterns = portal_urlpatterns

"""The driver JSON API under /api/v1/driver/: the portal's scripts use it, and a native app
could. Session or token auth; every object is scoped to the signed-in driver (404 otherwise)."""

from functools import cached_property
from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.fields import empty
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch import selectors, services
from dispatch.auth import (
    KEYWORD,
    MAX_AGE_SECONDS,
    DriverPrincipal,
    DriverTokenAuthentication,
    driver_token_for,
)
from dispatch.models import Offer, Trip
from drivers import selectors as driver_selectors
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.api import represent
from spark.lib.geo import MAX_LATITUDE, Point
from spark.lib.throttle import FixedWindowThrottle

ERROR = inline_serializer(
    "DriverError",
    {
        "error": inline_serializer(
            "DriverErrorBody", {"code": serializers.CharField(), "message": serializers.CharField()}
        )
    },
)
ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 415: ERROR, 422: ERROR}


class IsDriver(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, DriverPrincipal):  # a driver token: no database read
            view.driver_id = user.driver_id
            return True
        if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
            return False
        view.driver_id = driver_selectors.driver_id_for_user(user_id=user.pk)
        return view.driver_id is not None


class DriverApi(APIView):
    authentication_classes = (
        DriverTokenAuthentication,
        SessionAuthentication,
        TokenAuthentication,
    )
    permission_classes = (IsDriver,)
    driver_id: int | None = None

    @cached_property
    def driver(self) -> Any:
        """The whole driver row, loaded only by the views that need more than the id."""
        return driver_selectors.driver_get(driver_id=self.driver_id)

    @property
    def actor(self) -> Actor:
        user = self.request.user
        if isinstance(user, DriverPrincipal):
            return Actor(label=f"driver:{user.driver_id}")
        return Actor.user(user, role="driver")

    @property
    def market_id(self) -> int:
        user = self.request.user
        if isinstance(user, DriverPrincipal):
            return user.market_id
        return self.driver.home_market_id


class Location(serializers.Serializer):
    # Beyond MAX_LATITUDE (Web Mercator's range) no market lies: a 400.
    lat = serializers.FloatField(min_value=-MAX_LATITUDE, max_value=MAX_LATITUDE)
    lng = serializers.FloatField(min_value=-180, max_value=180)

    @classmethod
    def point(cls, data: Any, *, required: bool = True) -> Point | None:
        """The point in a request, validated as the fields above say (same messages).

        Written out rather than through `cls(data=data).is_valid()`: a location ping does
        nothing else, and building a serializer costs more than the rest of the ping (P8).
        """
        if not hasattr(data, "get"):
            raise serializers.ValidationError({"non_field_errors": ["Send lat and lng."]})
        if not required and data.get("lat") in (None, ""):
            return None
        lat, lng = data.get("lat"), data.get("lng")
        # JSON numbers in range: what the fields below would accept, as floats (a ping's usual
        # case); anything else gets the fields, and so their exact messages.
        if (
            type(lat) in (int, float)
            and type(lng) in (int, float)
            and -MAX_LATITUDE <= lat <= MAX_LATITUDE
            and -180 <= lng <= 180
        ):
            return Point(float(lat), float(lng))
        values, errors = {}, {}
        for name, field in cls._declared_fields.items():
            try:
                values[name] = field.run_validation(data.get(name, empty))
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        return Point(values["lat"], values["lng"])


class OfferOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    trip_id = serializers.UUIDField(source="trip.public_id")
    status = serializers.ChoiceField(choices=Offer.Status.choices)
    is_broadcast = serializers.BooleanField()
    expires_at = serializers.DateTimeField()
    store_name = serializers.CharField()
    stops = serializers.ListField(child=serializers.DictField())
    pickup_km = serializers.FloatField()
    engaged_miles = serializers.FloatField()
    estimated_minutes = serializers.FloatField()
    currency = serializers.CharField()
    base_cents = serializers.IntegerField()
    distance_cents = serializers.IntegerField()
    time_cents = serializers.IntegerField()
    extra_stops_cents = serializers.IntegerField()
    boost_cents = serializers.IntegerField()
    tip_cents = serializers.IntegerField()
    total_cents = serializers.IntegerField()
    cents_per_mile = serializers.IntegerField()
    cents_per_hour = serializers.IntegerField()
    contains_alcohol = serializers.BooleanField()
    reason = serializers.DictField(help_text="Why this offer came to you: cost terms and rank.")


class StopOutput(serializers.Serializer):
    order_id = serializers.UUIDField(source="order.public_id")
    sequence = serializers.IntegerField()
    status = serializers.CharField()
    order_status = serializers.CharField(source="order.status")
    customer_first_name = serializers.SerializerMethodField()
    address = serializers.CharField(source="order.dropoff_address")
    lat = serializers.FloatField(source="order.dropoff_lat")
    lng = serializers.FloatField(source="order.dropoff_lng")
    instructions = serializers.CharField(source="order.dropoff_instructions")
    items = serializers.ListField(source="order.items", child=serializers.DictField())
    eta_at = serializers.DateTimeField()
    requirements = serializers.SerializerMethodField()

    def get_customer_first_name(self, stop: Any) -> str:
        return (stop.order.customer_name or "").split(" ")[0]

    def get_requirements(self, stop: Any) -> dict[str, bool]:
        o = stop.order
        return {
            "photo": not o.signature_required,
            "signature": o.signature_required,
            "pin": o.pin_required,
            "id_check": o.contains_alcohol,
            "contactless": o.contactless,
        }


class TripOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=Trip.Status.choices)
    store = inline_serializer(
        "TripStore",
        {
            "name": serializers.CharField(),
            "address": serializers.CharField(),
            "lat": serializers.FloatField(),
            "lng": serializers.FloatField(),
            "pickup_instructions": serializers.CharField(),
        },
    )
    stops = StopOutput(many=True)
    offer = OfferOutput(allow_null=True)

    def to_representation(self, trip: Trip) -> dict:
        stops = _stops_with_orders(trip)
        offer = selectors.offer_accepted_for_trip(trip_id=trip.id)
        return {
            "id": str(trip.public_id),
            "status": trip.status,
            "store": {
                "name": trip.store.name,
                "address": trip.store.address,
                "lat": trip.store.lat,
                "lng": trip.store.lng,
                "pickup_instructions": trip.store.pickup_instructions,
            },
            "stops": StopOutput(stops, many=True).data,
            "offer": OfferOutput(offer).data if offer else None,
        }


def _orders(stops: list[Any]) -> list[Any]:
    from orders import selectors as order_selectors

    return list(order_selectors.order_list_by_ids(ids=[s.order_id for s in stops]))


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    can_go_online = serializers.BooleanField()
    is_online = serializers.BooleanField()
    market = serializers.CharField()
    current_trip_id = serializers.UUIDField(allow_null=True)
    open_offers = serializers.IntegerField()


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class DriverTokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Driver <token>`.")
    expires_in = serializers.IntegerField(help_text="Seconds.")


class TooManyFailures(exceptions.Throttled):
    default_detail = "Too many failed log-ins: try again later."


class DriverTokenApi(APIView):
    """A native app's log-in: username and password for a driver token (django-axes counts
    the failures and locks the username and IP out, as on the portal's log-in page)."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        request=TokenInput,
        responses={200: DriverTokenOutput, 400: ERROR, 401: ERROR, 403: ERROR, 429: ERROR},
        tags=["driver"],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        s = TokenInput(data=request.data)
        s.is_valid(raise_exception=True)
        user = authenticate(request._request, **s.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise TooManyFailures()
        if user is None:
            raise exceptions.AuthenticationFailed("Wrong username or password.")
        driver = driver_selectors.driver_get_for_user(user_id=user.pk)
        if driver is None:
            raise exceptions.PermissionDenied("This account is not a driver's.")
        token = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
        return Response({"token": token, "expires_in": MAX_AGE_SECONDS})

    def get_authenticate_header(self, request: Request) -> str:
        return KEYWORD  # a wrong password is a 401 that says which scheme to use


class DriverMeApi(DriverApi):
    @extend_schema(responses={200: MeOutput, **ERRORS}, tags=["driver"])
    def get(self, request: Request) -> Response:
        d = self.driver
        availability = selectors.availability_get(driver_id=d.id)
        trip = selectors.trip_current_for_driver(driver_id=d.id)
        return Response(
            MeOutput(
                {
                    "id": d.id,
                    "name": d.user.get_full_name() or d.user.get_username(),
                    "status": d.status,
                    "can_go_online": driver_selectors.driver_can_go_online(driver_id=d.id),
                    "is_online": bool(availability and availability.is_online),
                    "market": d.home_market.name,
                    "current_trip_id": trip.public_id if trip else None,
                    "open_offers": selectors.offer_list_open_for_driver(
                        driver_id=d.id, now=clock.now()
                    ).count(),
                }
            ).data
        )


class DriverOnlineApi(DriverApi):
    @extend_schema(
        request=Location,
        responses={200: None, **ERRORS},
        tags=["driver"],
        description="Go online. The response's driver_token authenticates the driver API "
        "(Authorization: Driver <token>) without a database round trip.",
    )
    def post(self, request: Request) -> Response:
        point = Location.point(request.data)
        row = services.driver_go_online(driver_id=self.driver_id, lat=point.lat, lng=point.lng)
        token = driver_token_for(driver_id=self.driver_id, market_id=row.market_id)
        return Response({"is_online": True, "driver_token": token})


class DriverOfflineApi(DriverApi):
    @extend_schema(request=None, responses={200: None, **ERRORS}, tags=["driver"])
    def post(self, request: Request) -> Response:
        services.driver_go_offline(driver_id=self.driver_id)
        return Response({"is_online": False})


class DriverLocationApi(DriverApi):
    """A ping: with a driver token, no PostgreSQL at all in production (Redis; see services)."""

    @extend_schema(request=Location, responses={200: None, **ERRORS}, tags=["driver"])
    def post(self, request: Request) -> Response:
        point = Location.point(request.data)
        pos = services.driver_location_update(
            driver_id=self.driver_id, market_id=self.market_id, lat=point.lat, lng=point.lng
        )
        return Response({"lat": pos.lat, "lng": pos.lng, "at": pos.at})


class OfferListApi(DriverApi):
    @extend_schema(responses={200: OfferOutput(many=True), **ERRORS}, tags=["driver"])
    def get(self, request: Request) -> Response:
        offers = selectors.offer_list_open_for_driver(driver_id=self.driver_id, now=clock.now())
        return Response([represent(OfferOutput, o) for o in offers])


class OfferAcceptApi(DriverApi):
    throttle_classes = (FixedWindowThrottle,)
    throttle_scope = "offer_accept"

    @extend_schema(
        request=None,
        responses={200: OfferOutput, **ERRORS, 429: ERROR},  # 429: over the accept rate (A6)
        tags=["driver"],
        description="Take the trip; the winner gets the accepted offer (the trip id "
        "in it leads to /trips/{id}). Anyone later gets 409.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        offer = services.offer_accept(
            offer_public_id=public_id, driver_id=self.driver_id, actor=self.actor
        )
        return Response(represent(OfferOutput, offer))


class DeclineInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, default="")


class OfferDeclineApi(DriverApi):
    @extend_schema(request=DeclineInput, responses={200: OfferOutput, **ERRORS}, tags=["driver"])
    def post(self, request: Request, public_id: str) -> Response:
        data = DeclineInput(data=request.data)
        data.is_valid(raise_exception=True)
        offer = services.offer_decline(
            offer_public_id=public_id,
            driver_id=self.driver_id,
            actor=self.actor,
            reason=data.validated_data["reason"],
        )
        return Response(represent(OfferOutput, offer))


class TripCurrentApi(DriverApi):
    @extend_schema(responses={200: TripOutput, 204: None, **ERRORS}, tags=["driver"])
    def get(self, request: Request) -> Response:
        trip = selectors.trip_current_for_driver(driver_id=self.driver_id)
        return Response(TripOutput(trip).data) if trip else Response(status=204)


class TripApi(DriverApi):
    """A trip of the signed-in driver's (404 otherwise); the step views below POST only."""

    def trip(self, public_id: str) -> Trip:
        return selectors.trip_get_for_driver(driver_id=self.driver_id, public_id=public_id)

    def respond(self, public_id: str) -> Response:
        return Response(TripOutput(self.trip(public_id)).data)


class TripDetailApi(TripApi):
    @extend_schema(responses={200: TripOutput, **ERRORS}, tags=["driver"])
    def get(self, request: Request, public_id: str) -> Response:
        return self.respond(public_id)


class TripArriveAtStoreApi(TripApi):
    @extend_schema(request=Location, responses={200: TripOutput, **ERRORS}, tags=["driver"])
    def post(self, request: Request, public_id: str) -> Response:
        trip = self.trip(public_id)
        services.trip_arrive_at_store(
            trip_id=trip.id,
            driver_id=self.driver_id,
            actor=self.actor,
            location=Location.point(request.data),
        )
        return self.respond(public_id)


class PickupInput(Location):
    codes = serializers.DictField(
        child=serializers.CharField(max_length=8),
        help_text="{order_id: pickup code} for every order",
    )


class TripPickupApi(TripApi):
    @extend_schema(request=PickupInput, responses={200: TripOutput, **ERRORS}, tags=["driver"])
    def post(self, request: Request, public_id: str) -> Response:
        trip = self.trip(public_id)  # 404 before 400: say nothing of others' trips
        data = PickupInput(data=request.data)
        data.is_valid(raise_exception=True)
        by_public = {str(s.order.public_id): s.order_id for s in _stops_with_orders(trip)}
        codes = {by_public[k]: v for k, v in data.validated_data["codes"].items() if k in by_public}
        services.trip_confirm_pickup(
            trip_id=trip.id,
            driver_id=self.driver_id,
            actor=self.actor,
            codes=codes,
            location=Point(data.validated_data["lat"], data.validated_data["lng"]),
        )
        return self.respond(public_id)


def _stops_with_orders(trip: Trip) -> list[Any]:
    stops = list(trip.stops.all())
    orders = {o.id: o for o in _orders(stops)}
    for stop in stops:
        stop.order = orders[stop.order_id]
    return stops


class StopApi(TripApi):
    def stop_order_id(self, trip: Trip, order_id: str) -> int:
        for stop in _stops_with_orders(trip):
            if str(stop.order.public_id) == str(order_id):
                return stop.order_id
        from spark.lib.errors import NotFound

        raise NotFound("No such stop on this trip.")


class StopArriveApi(StopApi):
    @extend_schema(request=Location, responses={200: TripOutput, **ERRORS}, tags=["driver"])
    def post(self, request: Request, public_id: str, order_id: str) -> Response:
        trip = self.trip(public_id)
        services.trip_stop_arrive(
            trip_id=trip.id,
            driver_id=self.driver_id,
            order_id=self.stop_order_id(trip, order_id),
            actor=self.actor,
            location=Location.point(request.data),
        )
        return self.respond(public_id)


class DeliverInput(Location):
    photo = serializers.ImageField(required=False)
    signature_name = serializers.CharField(max_length=200, required=False, default="")
    pin = serializers.CharField(max_length=8, required=False, default="")
    id_checked = serializers.BooleanField(required=False, default=False)


MAX_PHOTO_BYTES = 10 * 1024 * 1024


class StopDeliverApi(StopApi):
    parser_classes = (MultiPartParser, FormParser, JSONParser)

    @extend_schema(
        request={"multipart/form-data": DeliverInput},
        responses={200: TripOutput, **ERRORS},
        tags=["driver"],
    )
    def post(self, request: Request, public_id: str, order_id: str) -> Response:
        trip = self.trip(public_id)  # 404 before 400: say nothing of others' trips
        data = DeliverInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("photo") and v["photo"].size > MAX_PHOTO_BYTES:
            raise serializers.ValidationError({"photo": ["At most 10 MB."]})
        services.trip_stop_deliver(
            trip_id=trip.id,
            driver_id=self.driver_id,
            order_id=self.stop_order_id(trip, order_id),
            actor=self.actor,
            location=Point(v["lat"], v["lng"]),
            proof=services.Proof(
                photo=v.get("photo"),
                signature_name=v["signature_name"],
                pin=v["pin"],
                id_checked=v["id_checked"],
            ),
        )
        return self.respond(public_id)


class UndeliverableInput(Location):
    reason = serializers.CharField(max_length=300)


class StopUndeliverableApi(StopApi):
    @extend_schema(
        request=UndeliverableInput, responses={200: TripOutput, **ERRORS}, tags=["driver"]
    )
    def post(self, request: Request, public_id: str, order_id: str) -> Response:
        trip = self.trip(public_id)  # 404 before 400: say nothing of others' trips
        data = UndeliverableInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.trip_stop_undeliverable(
            trip_id=trip.id,
            driver_id=self.driver_id,
            order_id=self.stop_order_id(trip, order_id),
            actor=self.actor,
            reason=data.validated_data["reason"],
            location=Point(data.validated_data["lat"], data.validated_data["lng"]),
        )
        return self.respond(public_id)


class StopReturnApi(StopApi):
    @extend_schema(request=Location, responses={200: TripOutput, **ERRORS}, tags=["driver"])
    def post(self, request: Request, public_id: str, order_id: str) -> Response:
        trip = self.trip(public_id)
        services.trip_stop_return(
            trip_id=trip.id,
            driver_id=self.driver_id,
            order_id=self.stop_order_id(trip, order_id),
            actor=self.actor,
            location=Location.point(request.data, required=False),
        )
        return self.respond(public_id)

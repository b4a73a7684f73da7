"""The dispatch app's only public write API. Other apps import this module, never the parts."""

from dispatch.services.availability import (
    NotEligible,
    driver_go_offline,
    driver_go_online,
    driver_location_update,
    driver_locations_flush,
)
from dispatch.services.offers import (
    DriverBusy,
    OfferExpired,
    OfferNotAvailable,
    offer_accept,
    offer_decline,
    offers_expire_due,
)
from dispatch.services.pricing import Pay, trip_pay
from dispatch.services.rounds import dispatch_round_run
from dispatch.services.trips import (
    Proof,
    ProofMissing,
    trip_arrive_at_store,
    trip_cancel,
    trip_confirm_pickup,
    trip_reassign,
    trip_stop_arrive,
    trip_stop_deliver,
    trip_stop_return,
    trip_stop_undeliverable,
    trips_drop_cancelled_orders,
)

__all__ = [
    "DriverBusy",
    "NotEligible",
    "OfferExpired",
    "OfferNotAvailable",
    "Pay",
    "Proof",
    "ProofMissing",
    "dispatch_round_run",
    "driver_go_offline",
    "driver_go_online",
    "driver_location_update",
    "driver_locations_flush",
    "offer_accept",
    "offer_decline",
    "offers_expire_due",
    "trip_arrive_at_store",
    "trip_cancel",
    "trip_confirm_pickup",
    "trip_pay",
    "trip_reassign",
    "trip_stop_arrive",
    "trip_stop_deliver",
    "trip_stop_return",
    "trip_stop_undeliverable",
    "trips_drop_cancelled_orders",
]

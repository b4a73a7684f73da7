"""Great-circle distances and the ETA interface.

The default ETA is the great-circle distance times a detour factor at a constant speed; a road
router (OSRM, Valhalla) can replace it behind the same `EtaModel` protocol.
"""

import math
from dataclasses import dataclass
from typing import Protocol

EARTH_RADIUS_KM = 6371.0088
KM_PER_MILE = 1.609344


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float


# Web Mercator's (and Redis GEO's) latitude range: no city we can serve lies beyond it, and the
# maps and Redis indexes we might use refuse such points.
MAX_LATITUDE = 85.05112878


def is_valid_coordinate(lat: float, lng: float) -> bool:
    return (
        -MAX_LATITUDE <= lat <= MAX_LATITUDE
        and -180.0 <= lng <= 180.0
        and not (lat == 0 and lng == 0)
    )


def haversine_km(a: Point, b: Point) -> float:
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlng = math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def km_to_miles(km: float) -> float:
    return km / KM_PER_MILE


class EtaModel(Protocol):
    def road_km(self, a: Point, b: Point) -> float: ...

    def travel_seconds(self, a: Point, b: Point) -> float: ...


@dataclass(frozen=True)
class GreatCircleEta:
    """Straight-line distance x detour factor, driven at a constant average speed."""

    speed_kmh: float = 30.0
    detour_factor: float = 1.3

    def road_km(self, a: Point, b: Point) -> float:
        return haversine_km(a, b) * self.detour_factor

    def travel_seconds(self, a: Point, b: Point) -> float:
        return self.road_km(a, b) / self.speed_kmh * 3600.0

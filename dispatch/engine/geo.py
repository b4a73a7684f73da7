"""Vectorised great-circle distances, a local projection for the KD-tree, and the ETA interface.

The default `HaversineEta` is great-circle km times a detour factor at a constant speed. A road
router (OSRM, Valhalla, an ML ETA) can replace it: implement `EtaModel.legs` and set
`detour_lower_bound` to a factor by which road km is never below great-circle km (1.0 is always
safe); the candidate search uses it to turn a road-km limit into a straight-line search radius.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dispatch.engine.types import EngineConfig

EARTH_RADIUS_KM = 6371.0088

FloatArray = NDArray[np.float64]


def haversine_km(lat1: ArrayLike, lng1: ArrayLike, lat2: ArrayLike, lng2: ArrayLike) -> FloatArray:
    """Great-circle km, elementwise with numpy broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlng = np.radians(np.asarray(lng2, dtype=float) - np.asarray(lng1, dtype=float))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular km around a reference latitude: accurate to ~0.1 % across a city."""

    lat0: float
    lng0: float

    @classmethod
    def around(cls, lats: FloatArray, lngs: FloatArray) -> LocalProjection:
        if len(lats) == 0:
            return cls(0.0, 0.0)
        return cls(float(np.mean(lats)), float(np.mean(lngs)))

    def xy(self, lats: ArrayLike, lngs: ArrayLike) -> FloatArray:
        k = np.pi / 180.0 * EARTH_RADIUS_KM
        x = (np.asarray(lngs, dtype=float) - self.lng0) * k * np.cos(np.radians(self.lat0))
        y = (np.asarray(lats, dtype=float) - self.lat0) * k
        return np.column_stack([x, y])


class EtaModel(Protocol):
    """Road km and drive seconds between points, elementwise with numpy broadcasting."""

    @property
    def detour_lower_bound(self) -> float: ...

    def legs(
        self, from_lat: ArrayLike, from_lng: ArrayLike, to_lat: ArrayLike, to_lng: ArrayLike
    ) -> tuple[FloatArray, FloatArray]: ...


@dataclass(frozen=True, slots=True)
class HaversineEta:
    speed_kmh: float = 30.0
    detour_factor: float = 1.3

    @classmethod
    def from_config(cls, config: EngineConfig) -> HaversineEta:
        return cls(speed_kmh=config.speed_kmh, detour_factor=config.detour_factor)

    @property
    def detour_lower_bound(self) -> float:
        return self.detour_factor

    def legs(
        self, from_lat: ArrayLike, from_lng: ArrayLike, to_lat: ArrayLike, to_lng: ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        km = haversine_km(from_lat, from_lng, to_lat, to_lng) * self.detour_factor
        return km, km * (3600.0 / self.speed_kmh)

"""A market map drawn as SVG with no tile server: lat/lng projected onto a plain background.

Equirectangular projection around the points' middle latitude (x = lng * cos(lat0), y = -lat),
scaled to fit the box with the aspect kept: at city scale the distortion is far below what a
glance at the map can see. A grid and a scale bar in km give the distances.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

KM_PER_DEGREE = 111.32
NICE_KM = (0.5, 1, 2, 5, 10, 20, 50, 100)


@dataclass(frozen=True)
class Marker:
    kind: str  # store, driver-free, driver-busy, order-<stage>
    lat: float
    lng: float
    label: str
    x: float = 0.0
    y: float = 0.0


@dataclass
class SvgMap:
    width: int
    height: int
    markers: list[Marker] = field(default_factory=list)
    grid_px: float = 0.0
    scale_km: float = 0.0
    grid_x: list[float] = field(default_factory=list)
    grid_y: list[float] = field(default_factory=list)

    # Drawn bottom to top: orders, then drivers, then stores.
    @property
    def orders(self) -> list[Marker]:
        return [m for m in self.markers if m.kind.startswith("order")]

    @property
    def drivers(self) -> list[Marker]:
        return [m for m in self.markers if m.kind.startswith("driver")]

    @property
    def stores(self) -> list[Marker]:
        return [m for m in self.markers if m.kind == "store"]


def build(
    markers: Iterable[Marker],
    *,
    centre: tuple[float, float],
    width: int = 640,
    height: int = 420,
    pad: int = 28,
    min_span_km: float = 4.0,
) -> SvgMap:
    """Place the markers in a width x height box; `centre` keeps an empty market in view."""
    items = list(markers)
    lats = [m.lat for m in items] + [centre[0]]
    lngs = [m.lng for m in items] + [centre[1]]
    k = math.cos(math.radians((min(lats) + max(lats)) / 2))
    # Spans in km, never below min_span_km so that one store alone is not blown up.
    span_y = max((max(lats) - min(lats)) * KM_PER_DEGREE, min_span_km)
    span_x = max((max(lngs) - min(lngs)) * KM_PER_DEGREE * k, min_span_km)
    px_per_km = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    mid_lat, mid_lng = (min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2

    def xy(lat: float, lng: float) -> tuple[float, float]:
        x = width / 2 + (lng - mid_lng) * KM_PER_DEGREE * k * px_per_km
        y = height / 2 - (lat - mid_lat) * KM_PER_DEGREE * px_per_km
        return round(x, 1), round(y, 1)

    placed = [Marker(m.kind, m.lat, m.lng, m.label, *xy(m.lat, m.lng)) for m in items]
    scale_km = _nice_km(width / 5 / px_per_km)
    step = scale_km * px_per_km
    return SvgMap(
        width=width,
        height=height,
        markers=placed,
        grid_px=round(step, 1),
        scale_km=scale_km,
        grid_x=_ticks(width / 2, step, width),
        grid_y=_ticks(height / 2, step, height),
    )


def _nice_km(km: float) -> float:
    """The largest round distance not longer than `km` (the grid step and the scale bar)."""
    fitting = [n for n in NICE_KM if n <= km]
    return fitting[-1] if fitting else NICE_KM[0]


def _ticks(origin: float, step: float, limit: float) -> list[float]:
    if step <= 0:
        return []
    first = origin - math.floor(origin / step) * step
    return [round(first + i * step, 1) for i in range(int((limit - first) / step) + 1)]

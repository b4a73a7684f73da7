"""How the portal and the admin show dispatch data: money lines, the reasons of an offer in
plain words, and a map projection for SVG maps drawn without a tile server. No rules here."""

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from spark.lib.money import format_cents

# --- money and pay --------------------------------------------------------------------------


def money(cents: int | None, currency: str = "USD") -> str:
    return format_cents(cents or 0, currency)


def pay_lines(pay: Any) -> list[tuple[str, str, str]]:
    """(label, explanation, amount) of each non-zero line of an offer's pay (model or dict)."""
    get = pay.get if isinstance(pay, dict) else lambda name: getattr(pay, name)
    currency = get("currency")
    miles = get("engaged_miles")
    lines = [
        ("Base pay", "for the trip", get("base_cents")),
        ("Distance", f"{miles:.1f} mi, including the drive to the store", get("distance_cents")),
        ("Time", f"about {get('estimated_minutes'):.0f} minutes", get("time_cents")),
        ("Extra stops", _more_stops(len(get("stops")) - 1), get("extra_stops_cents")),
        ("Boost", "this trip waited for a driver", get("boost_cents")),
        ("Customer tip", "100% yours", get("tip_cents")),
    ]
    return [(label, why, money(cents, currency)) for label, why, cents in lines if cents]


def _more_stops(n: int) -> str:
    return f"{n} more drop-off{'' if n == 1 else 's'}"


def rates(pay: Any) -> dict[str, str]:
    get = pay.get if isinstance(pay, dict) else lambda name: getattr(pay, name)
    currency = get("currency")
    return {
        "total": money(get("total_cents"), currency),
        "per_mile": money(get("cents_per_mile"), currency),
        "per_hour": money(get("cents_per_hour"), currency),
        "miles": f"{get('engaged_miles'):.1f}",
        "minutes": f"{get('estimated_minutes'):.0f}",
        "tip": money(get("tip_cents"), currency),
    }


# --- why this offer -------------------------------------------------------------------------


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _minutes(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    return "under a minute" if minutes == 0 else f"about {minutes} min"


def reason_sentences(reason: dict[str, Any]) -> list[str]:
    """The cost terms and rank of an offer's `reason` in words a driver understands."""
    if not reason:
        return ["This offer has no recorded reason."]
    if reason.get("policy") == "broadcast":
        rounds = reason.get("unaccepted_rounds", 0)
        return [
            f"No driver took this trip in {rounds} rounds, so it went to every eligible driver "
            "nearby at once: the first to accept gets it."
        ]
    out = []
    rank = reason.get("rank")
    if rank == 1:
        out.append("You were the best-placed driver for this trip.")
    elif rank:
        out.append(
            f"You were the {_ordinal(int(rank))} best-placed driver; the drivers ahead of you "
            "were better matched to other trips in the same round."
        )
    terms = reason.get("terms") or {}
    if "pickup_eta_s" in terms:
        km = reason.get("pickup_km")
        far = f" ({km * 0.621371:.1f} mi)" if km is not None else ""
        out.append(f"You are {_minutes(terms['pickup_eta_s'])}{far} from the store.")
    late = terms.get("lateness_risk")
    if late is not None:
        out.append(
            "You can reach every drop-off inside its delivery window."
            if late < 30
            else f"Some risk of arriving late: {_minutes(late)} past the window expected."
        )
    if terms.get("fairness", 0) < -0.5:
        out.append("You have driven few hours this week, which moves you up a little.")
    if terms.get("block_bonus", 0) > 0:
        out.append("You are working a scheduled block, so you get trips first.")
    policy = reason.get("policy")
    if policy == "optimal":
        out.append(
            "Trips and drivers are matched together for the whole area, to keep pickups short "
            "and deliveries on time for everyone."
        )
    elif policy == "greedy":
        out.append("Trips are matched one at a time, oldest first, to the nearest free driver.")
    return out


def reason_short(reason: dict[str, Any]) -> str:
    """One line for the admin list: policy, rank and the cost terms in seconds."""
    if not reason:
        return "—"
    if reason.get("policy") == "broadcast":
        return f"broadcast after {reason.get('unaccepted_rounds', 0)} rounds"
    terms = ", ".join(f"{k}={v:g}" for k, v in (reason.get("terms") or {}).items())
    policy, rank, cost = reason.get("policy", "?"), reason.get("rank", "?"), reason.get("cost", "?")
    return f"{policy} rank {rank}, cost {cost} ({terms})"


# --- time -----------------------------------------------------------------------------------


def as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(str(value))


def seconds_left(expires_at: datetime, now: datetime) -> int:
    return max(0, int((expires_at - now).total_seconds()))


def countdown(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


# --- maps -----------------------------------------------------------------------------------

KM_PER_DEG_LAT = 111.32
KM_PER_MILE = 1.609344
NICE_MILES = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50)


@dataclass
class Marker:
    kind: str  # store, stop, driver, centre
    lat: float
    lng: float
    label: str = ""
    state: str = ""
    title: str = ""
    x: float = 0
    y: float = 0


@dataclass
class SvgMap:
    """An equirectangular projection of a few points into a width x height box.

    x = W/2 + (lng - lng0) * cos(lat0) * k, y = H/2 - (lat - lat0) * k. The same numbers go to
    the page's script (data attributes), which projects the live position and inverts clicks.
    """

    markers: list[Marker]
    width: int = 360
    height: int = 240
    pad: int = 28
    min_span_km: float = 1.5
    lat0: float = 0
    lng0: float = 0
    cos0: float = 1
    k: float = 1
    route: list[tuple[float, float]] = field(default_factory=list)
    approach: list[tuple[float, float]] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)
    scale_miles: float = 1
    scale_px: float = 0

    def __post_init__(self) -> None:
        points = [(m.lat, m.lng) for m in self.markers] or [(0.0, 0.0)]
        lats, lngs = [p[0] for p in points], [p[1] for p in points]
        self.lat0 = (min(lats) + max(lats)) / 2
        self.lng0 = (min(lngs) + max(lngs)) / 2
        self.cos0 = math.cos(math.radians(self.lat0))
        min_span = self.min_span_km / KM_PER_DEG_LAT
        span_y = max(max(lats) - min(lats), min_span)
        span_x = max((max(lngs) - min(lngs)) * self.cos0, min_span)
        self.k = min((self.width - 2 * self.pad) / span_x, (self.height - 2 * self.pad) / span_y)
        for m in self.markers:
            m.x, m.y = self.xy(m.lat, m.lng)
        self._scale()

    def xy(self, lat: float, lng: float) -> tuple[float, float]:
        x = self.width / 2 + (lng - self.lng0) * self.cos0 * self.k
        y = self.height / 2 - (lat - self.lat0) * self.k
        return round(x, 1), round(y, 1)

    def _scale(self) -> None:
        """A scale bar of a round number of miles, and grid lines at the same spacing."""
        px_per_mile = self.k / KM_PER_DEG_LAT * KM_PER_MILE
        fits = [mi for mi in NICE_MILES if mi * px_per_mile <= self.width / 3]
        self.scale_miles = fits[-1] if fits else NICE_MILES[0]
        step = round(self.scale_miles * px_per_mile, 1)
        self.scale_px = step
        longest = max(self.width, self.height)
        self.grid = [round(i * step, 1) for i in range(1, int(longest / step) + 1)] if step else []

    def polyline(self, points: list[tuple[float, float]]) -> str:
        return " ".join(f"{x},{y}" for x, y in (self.xy(lat, lng) for lat, lng in points))

    @property
    def scale_label(self) -> str:
        return f"{self.scale_miles:g} mi"

    @property
    def data(self) -> dict[str, float]:
        return {
            "lat0": self.lat0,
            "lng0": self.lng0,
            "cos0": self.cos0,
            "k": self.k,
            "w": self.width,
            "h": self.height,
        }

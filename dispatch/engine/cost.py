"""The cost of giving trip t to driver d, in seconds (lower is better).

    cost(t, d) = pickup_eta_s + lateness_risk + fairness - block_bonus

    pickup_eta_s  = drive seconds from the driver to the store (the ETA model).
    lateness_risk = lateness_weight * sum over drop-offs j of E[max(0, S_j + e_j - end_j)]
                    where S_j is the planned service time at drop-off j when the driver leaves the
                    store at max(now + pickup_eta_s, ready_at) + handoff_pickup_s (waiting for a
                    window to open when early), end_j is the drop-off window end, and the ETA error
                    e_j ~ Normal(0, sigma_j), sigma_j = max(eta_sigma_min_s,
                    eta_sigma_fraction * (pickup_eta_s + drive to j)). For m = S_j - end_j,
                    E[max(0, m + e)] = sigma * pdf(m / sigma) + m * cdf(m / sigma): the expected
                    seconds late, close to 0 with slack and to m when surely late.
    fairness      = -fairness_weight_s * (1 - min(hours_this_week, cap) / cap): drivers with fewer
                    hours this week get a discount of up to fairness_weight_s.
    block_bonus   = block_bonus_s for a driver on a scheduled block, else 0: block drivers get trips
                    first unless they are much farther away.

Leaving a trip unassigned costs `unassigned_penalty_s` per order on it, far above any arc, so the
optimal matcher first serves as many orders as it can, then minimises the sum of costs. When
drivers are scarce, a driver therefore goes to a trip of three orders before a trip of one: the
others wait for the next round either way, and fewer orders wait. An order that has waited
longer than `waiting_grace_s` weighs more, 1 + (waited - grace) / waiting_scale_s (by default
an order ready for 45 minutes weighs as much as three fresh ones): without it, an order that
never fits a batch could wait until the shop gives up. Within the grace, which trips a scarce
driver serves is decided by the orders they carry and the arc costs alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from dispatch.engine.candidates import Arcs, DriverArrays, TripArrays
from dispatch.engine.types import EngineConfig

FloatArray = NDArray[np.float64]

TERM_NAMES = ("pickup_eta_s", "lateness_risk", "fairness", "block_bonus")
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True, slots=True, eq=False)
class ArcCosts:
    total: FloatArray
    pickup_eta_s: FloatArray
    lateness_risk: FloatArray
    fairness: FloatArray
    block_bonus: FloatArray
    pickup_at: FloatArray  # arrival at the store
    service_at: FloatArray  # (A, N) planned hand-off times, in stop order

    def terms(self, i: int) -> dict[str, float]:
        return {name: float(getattr(self, name)[i]) for name in TERM_NAMES}


def unassigned_costs(trips: TripArrays, *, now: float, config: EngineConfig) -> FloatArray:
    """The cost of leaving each trip without a driver this round (see the module docstring)."""
    weight = trips.n_orders.astype(np.float64)
    if config.waiting_scale_s > 0:
        # padding has ready_at = inf: it never waits
        overdue = np.maximum(now - trips.order_ready - config.waiting_grace_s, 0.0)
        weight = weight + overdue.sum(axis=1) / config.waiting_scale_s
    return config.unassigned_penalty_s * weight


def expected_lateness(mean_late: FloatArray, sigma: FloatArray) -> FloatArray:
    """E[max(0, X)] for X ~ Normal(mean_late, sigma**2)."""
    z = mean_late / sigma
    return sigma * _INV_SQRT_2PI * np.exp(-0.5 * z * z) + mean_late * ndtr(z)


def arc_costs(
    trips: TripArrays, drivers: DriverArrays, arcs: Arcs, *, now: float, config: EngineConfig
) -> ArcCosts:
    t, d = arcs.trip, arcs.driver
    pickup_at = now + arcs.pickup_s
    depart = np.maximum(pickup_at, trips.ready_at[t]) + config.handoff_pickup_s
    offset = trips.offset[t]
    service_at = np.maximum(depart[:, None] + offset, trips.floor[t])
    sigma = np.maximum(
        config.eta_sigma_min_s, config.eta_sigma_fraction * (arcs.pickup_s[:, None] + offset)
    )
    late = expected_lateness(service_at - trips.window_end[t], sigma).sum(axis=1)
    lateness_risk = config.lateness_weight * late
    hours = np.minimum(drivers.hours[d], config.fairness_hours_cap) / max(
        config.fairness_hours_cap, 1e-9
    )
    fairness = -config.fairness_weight_s * (1.0 - hours)
    block_bonus = np.where(drivers.on_block[d], config.block_bonus_s, 0.0)
    return ArcCosts(
        total=arcs.pickup_s + lateness_risk + fairness - block_bonus,
        pickup_eta_s=arcs.pickup_s,
        lateness_risk=lateness_risk,
        fairness=fairness,
        block_bonus=block_bonus,
        pickup_at=pickup_at,
        service_at=service_at,
    )

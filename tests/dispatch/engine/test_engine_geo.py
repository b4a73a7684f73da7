"""Distances, the local projection and the default ETA model."""

import numpy as np
import pytest

from dispatch.engine import EngineConfig, HaversineEta
from dispatch.engine.geo import LocalProjection, haversine_km


def test_haversine_km_of_one_degree_of_latitude():
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(111.195, rel=1e-4)


def test_haversine_km_broadcasts_points_against_points():
    km = haversine_km(
        np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((1, 3)), np.array([[0.0, 1.0, 2.0]])
    )
    assert km.shape == (2, 3)
    assert km[0, 0] == 0.0
    assert km[1, 2] == pytest.approx(2 * 111.195, rel=1e-4)


def test_local_projection_matches_great_circle_across_a_city():
    rng = np.random.default_rng(0)
    lat = 36.37 + rng.uniform(-0.15, 0.15, size=(200, 2))
    lng = -94.21 + rng.uniform(-0.2, 0.2, size=(200, 2))
    xy = LocalProjection(36.37, -94.21).xy(lat.ravel(), lng.ravel()).reshape(200, 2, 2)
    flat = np.hypot(*(xy[:, 0] - xy[:, 1]).T)
    assert np.allclose(flat, haversine_km(lat[:, 0], lng[:, 0], lat[:, 1], lng[:, 1]), rtol=5e-3)


def test_haversine_eta_applies_detour_and_speed():
    eta = HaversineEta.from_config(EngineConfig(speed_kmh=36.0, detour_factor=1.5))
    km, secs = eta.legs(0.0, 0.0, 1.0, 0.0)
    assert km == pytest.approx(111.195 * 1.5, rel=1e-4)
    assert secs == pytest.approx(km / 36.0 * 3600.0)
    assert eta.detour_lower_bound == 1.5

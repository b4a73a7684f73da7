"""How the portal words an offer's reason and draws its maps (pure functions)."""

import pytest

from dispatch.views import present


def test_reason_in_plain_words_for_a_matched_offer():
    words = present.reason_sentences(
        {
            "policy": "optimal",
            "rank": 2,
            "terms": {
                "pickup_eta_s": 300,
                "lateness_risk": 240,
                "fairness": -10,
                "block_bonus": 30,
            },
            "pickup_km": 4.0,
        }
    )
    text = " ".join(words)
    assert "2nd best-placed driver" in text
    assert "about 5 min (2.5 mi) from the store" in text
    assert "about 4 min past the window" in text
    assert "few hours this week" in text
    assert "scheduled block" in text
    assert "whole area" in text


def test_reason_in_plain_words_for_a_broadcast():
    [line] = present.reason_sentences({"policy": "broadcast", "unaccepted_rounds": 4})
    assert "4 rounds" in line
    assert "first to accept" in line


@pytest.mark.parametrize(("n", "word"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (11, "11th")])
def test_ordinals(n, word):
    assert present._ordinal(n) == word


def test_the_map_fits_every_marker_in_the_box():
    markers = [
        present.Marker("store", 36.2291, -86.7595),
        present.Marker("stop", 36.178, -86.75),
        present.Marker("driver", 36.25, -86.80),
    ]
    svg = present.SvgMap(markers, width=360, height=240, pad=20)
    for m in markers:
        assert 20 - 0.1 <= m.x <= 340 + 0.1
        assert 20 - 0.1 <= m.y <= 220 + 0.1
    north = svg.xy(36.3, -86.75)[1]
    south = svg.xy(36.1, -86.75)[1]
    assert north < south  # north is up
    assert svg.scale_label.endswith(" mi")
    assert 0 < svg.scale_px <= 120


def test_a_single_point_still_makes_a_map():
    svg = present.SvgMap([present.Marker("driver", 36.2, -86.7)])
    assert svg.markers[0].x == svg.width / 2
    assert svg.markers[0].y == svg.height / 2


def test_pay_lines_leave_out_zero_lines():
    offer = {
        "currency": "USD",
        "engaged_miles": 5.0,
        "estimated_minutes": 29,
        "stops": [{}],
        "base_cents": 400,
        "distance_cents": 346,
        "time_cents": 290,
        "extra_stops_cents": 0,
        "boost_cents": 0,
        "tip_cents": 500,
    }
    labels = [label for label, _, _ in present.pay_lines(offer)]
    assert labels == ["Base pay", "Distance", "Time", "Customer tip"]

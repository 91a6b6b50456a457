import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.loadtest.profiles import LoadProfile, arrival_offsets


def test_cumulative_matches_numeric_integral() -> None:
    p = LoadProfile.morning_peak(100, 60)
    grid = np.linspace(0, 60, 600_001)
    numeric = np.concatenate([[0], np.cumsum(np.diff(grid) * (p.rate_at(grid[:-1]) + p.rate_at(grid[1:])) / 2)])
    for t in (0.0, 5.0, 13.7, 30.0, 59.9, 60.0):
        assert p.cumulative(t) == pytest.approx(numeric[round(t * 10_000)], rel=1e-6, abs=1e-6)


def test_morning_peak_shape() -> None:
    p = LoadProfile.morning_peak(200, 100, base_share=0.25)
    assert p.rate_at(1.0) == pytest.approx(50)
    assert p.rate_at(50.0) == pytest.approx(200)
    assert p.rate_at(95.0) == pytest.approx(50)
    assert p.peak_rate == 200


@pytest.mark.parametrize("name", ["steady", "ramp", "morning-peak"])
def test_poisson_arrivals_follow_the_profile(name: str) -> None:
    p = LoadProfile.named(name, 400, 20)
    t = arrival_offsets(p, seed=1)
    expected = p.expected_requests()
    assert abs(len(t) - expected) < 5 * np.sqrt(expected)
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] <= 20
    # arrivals per half of the run follow Λ
    half = float(p.cumulative(10.0))
    assert abs(np.sum(t < 10) - half) < 5 * np.sqrt(half) + 1
    assert np.array_equal(t, arrival_offsets(p, seed=1))
    assert not np.array_equal(t[:50], arrival_offsets(p, seed=2)[:50])


def test_gamma_arrivals_are_burstier() -> None:
    p = LoadProfile.steady(1000, 30)
    cv_poisson = np.std(np.diff(arrival_offsets(p, seed=4))) / np.mean(np.diff(arrival_offsets(p, seed=4)))
    g = np.diff(arrival_offsets(p, process="gamma", cv=2.0, seed=4))
    assert cv_poisson == pytest.approx(1.0, abs=0.05)
    assert np.std(g) / np.mean(g) == pytest.approx(2.0, abs=0.2)
    u = np.diff(arrival_offsets(p, process="uniform"))
    assert np.allclose(u, 1e-3, atol=1e-5)


def test_invalid_profiles_raise() -> None:
    with pytest.raises(ConfigError):
        LoadProfile.steady(0, 10)
    with pytest.raises(ConfigError):
        LoadProfile.named("lunch", 10, 10)
    with pytest.raises(ConfigError):
        LoadProfile("x", ((0, 1), (0, 2)))
    with pytest.raises(ConfigError):
        arrival_offsets(LoadProfile.steady(1, 1), process="weibull")  # type: ignore[arg-type]


def test_max_requests_truncates_and_profile_round_trips() -> None:
    p = LoadProfile.ramp(100, 10, ramp_s=4)
    assert len(arrival_offsets(p, max_requests=7)) == 7
    assert LoadProfile.from_dict(p.to_dict()) == p

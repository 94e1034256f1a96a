"""Monte Carlo inventory policy and the beer game: behaviour that must hold whatever the seed."""

import numpy as np

from dsop_assets.simulation import beer_game as bg
from dsop_assets.simulation import inventory_mc as mc
from dsop_assets.simulation import tier_model as tm


def test_quantile_draws_follow_the_bands():
    p10, p50, p90 = np.array([[10.0]]), np.array([[20.0]]), np.array([[40.0]])
    x = mc.quantile_draws(np.random.default_rng(0), p10, p50, p90, 20000)[:, 0, 0]
    assert abs(np.quantile(x, 0.5) - 20) < 1 and abs(np.quantile(x, 0.9) - 40) < 1.5 and x.min() >= 0


def test_fill_rate_rises_with_the_reorder_point_and_the_search_reaches_the_target():
    rng = np.random.default_rng(0)
    demand = rng.gamma(4.0, 25.0, (500, mc.WEEKS))
    lead = rng.integers(1, 4, (500, mc.WEEKS))
    fill, _, _ = mc.simulate(demand, lead, np.array([0.0, 100.0, 300.0]), np.array([200.0] * 3))
    assert fill[0] < fill[1] < fill[2] <= 1.0
    check_demand = np.random.default_rng(1).gamma(4.0, 25.0, (500, mc.WEEKS))
    best = mc.best_policy(demand, lead, check_demand, lead, eoq=200.0, target=0.95, holding_per_week=1.0,
                          ordering_cost=100.0)
    assert best["reached_on_grid"] and best["search_fill"] >= 0.95 and abs(best["fill"] - 0.95) < 0.03


def test_a_large_order_quantity_does_not_overshoot_the_target():
    # EOQ covers 20 weeks of demand and ordering is dear: starting every path full (s + Q), any s gave ~100 %
    rng = np.random.default_rng(2)
    demand = rng.gamma(4.0, 25.0, (2000, mc.WEEKS))
    lead = rng.integers(1, 4, (2000, mc.WEEKS))
    check_demand = np.random.default_rng(3).gamma(4.0, 25.0, (2000, mc.WEEKS))
    check_lead = np.random.default_rng(4).integers(1, 4, (2000, mc.WEEKS))
    best = mc.best_policy(demand, lead, check_demand, check_lead, eoq=2000.0, target=0.95, holding_per_week=0.01,
                          ordering_cost=5000.0)
    assert abs(best["fill"] - 0.95) <= 0.02


def test_bullwhip_grows_upstream_and_the_run_repeats():
    a = bg.simulate(0.3, reps=3, weeks=300)
    b = bg.simulate(0.3, reps=3, weeks=300)
    whip = bg.bullwhip(a)
    assert np.all(np.diff(whip) > 0) and whip[0] > 1.0
    assert np.array_equal(a["inventory"], b["inventory"])


def test_windows_split_by_replication():
    sims = {r: bg.simulate(r, reps=4, weeks=tm.WINDOW + bg.BURN_IN + 40) for r in (0.0, 0.6)}
    ds = tm.dataset({r: s["inventory"] - s["backlog"] for r, s in sims.items()})
    assert ds["x"].shape[1] == tm.WINDOW and 0 < ds["train"].mean() < 1
    assert set(np.unique(ds["tier"])) == {0, 1, 2, 3}


def test_random_convolutions_are_seeded_and_see_shape():
    from dsop_assets.simulation.conv_features import RandomConvolutions

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 120))
    a = RandomConvolutions(n_kernels=20, seed=3).fit(x).transform(x)
    b = RandomConvolutions(n_kernels=20, seed=3).fit(x).transform(x)
    assert a.shape == (6, 40) and np.array_equal(a, b)
    assert np.all((a[:, ::2] >= 0) & (a[:, ::2] <= 1))  # PPV is a share of positions
    # a slow and a fast oscillation of the same spread give different features
    t = np.arange(120)
    slow, fast = np.sin(2 * np.pi * t / 40)[None], np.sin(2 * np.pi * t / 4)[None]
    conv = RandomConvolutions(n_kernels=20, seed=3).fit(slow)
    assert not np.allclose(conv.transform(slow), conv.transform(fast), atol=0.05)


def test_tier_features_are_finite_on_flat_and_moving_windows():
    x = np.vstack([np.zeros(tm.WINDOW), np.sin(np.arange(tm.WINDOW) / 5.0) * 10 - 2])
    f = tm.tier_features(x)
    assert f.shape[0] == 2 and np.isfinite(f).all()

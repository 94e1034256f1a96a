"""What keeps a network chunk small and its plan reproducible (issue #14's time target)."""

from datetime import date, timedelta

import numpy as np
import polars as pl

from dsop_assets.network.chunk import Carry, _cheapest, build_chunk
from dsop_assets.network.config import NetworkConfig
from dsop_assets.network.lp import solve


def _chunk(nd, facilities):
    return build_chunk(nd, facilities, nd.start, nd.start + timedelta(days=9), Carry())


def test_the_same_chunk_gives_the_same_matrix_and_plan(tiny_network):
    nd, facilities = tiny_network
    first, second = _chunk(nd, facilities), _chunk(nd, facilities)
    for a, b in zip(first.milp.arrays(), second.milp.arrays()):
        assert np.array_equal(a, b)
    one, two = solve(first.milp, nd.config, "lp_fix"), solve(second.milp, nd.config, "lp_fix")
    assert one.objective == two.objective and np.array_equal(one.values, two.values)


def test_co2_is_priced_per_kg_not_summed_in_one_row(tiny_network):
    nd, facilities = tiny_network
    cm = _chunk(nd, facilities)
    assert "co2_tonnes" not in cm.milp.blocks
    lb, ub, cost, *_ = cm.milp.arrays()
    x_pw = cm.milp.blocks["x_pw"].join(nd.skus.select("sku_id", "carbon_factor_prod"), on="sku_id")
    expected = x_pw["carbon_factor_prod"].to_numpy() * nd.config.co2_price_per_tonne / 1000.0
    assert np.allclose(cost[x_pw["col"].to_numpy()], expected)
    n = cm.milp.blocks["n"]
    assert np.allclose(cost[n["col"].to_numpy()], n["unit_cost"].to_numpy() + n["co2_kg_per_container"].to_numpy() * 0.2)


def test_no_plant_shipment_arrives_already_expired(tiny_network):
    nd, facilities = tiny_network
    x_pw = _chunk(nd, facilities).milp.blocks["x_pw"]
    assert x_pw.height and (x_pw["t_arr"] - x_pw["t"] < x_pw["life_days"]).all()


def test_cheapest_lanes_prefer_a_domestic_warehouse_over_a_nearer_one_across_a_border():
    lanes = pl.DataFrame({
        "src": ["W_FRA", "W_FRA", "W_DEU", "W_FAR"], "dst": ["C1"] * 4, "mode": ["ship", "air", "truck", "truck"],
        "km": [100.0, 100.0, 150.0, 900.0], "cost_per_container": [55.0, 900.0, 240.0, 1440.0], "border_usd": [4000.0, 4000.0, 0.0, 0.0]})
    kept = _cheapest(lanes, "src", "dst", 1)
    assert kept["src"].unique().to_list() == ["W_DEU"]
    two = _cheapest(lanes, "src", "dst", 2)
    assert sorted(two["src"].unique().to_list()) == ["W_DEU", "W_FAR"]
    assert _cheapest(lanes, "src", "dst", 0).height == 0


def test_every_plant_keeps_a_lane_when_warehouses_take_their_cheapest_plants(tiny_network):
    nd, facilities = tiny_network
    cm = build_chunk(nd, facilities, nd.start, nd.start + timedelta(days=9), Carry())
    plants = facilities.filter(pl.col("site_type") == "plant")["site_id"].to_list()
    nd.config = NetworkConfig(mip_rel_gap=0.03, source_from_nearest=1)
    try:
        strict = build_chunk(nd, facilities, nd.start, nd.start + timedelta(days=9), Carry())
    finally:
        nd.config = NetworkConfig(mip_rel_gap=0.03)
    working = cm.milp.blocks["reg"]["site_id"].unique().to_list()
    assert set(strict.milp.blocks["x_pw"]["src"].unique().to_list()) == set(working) and set(working) <= set(plants)


def test_an_lp_stopped_by_its_iteration_cap_is_flagged(tiny_network):
    nd, facilities = tiny_network
    cm = _chunk(nd, facilities)
    capped = solve(cm.milp, NetworkConfig(lp_iteration_limit=5), "lp_fix")
    assert capped.hit_work_limit and "Iteration limit" in capped.status and not capped.hit_time_limit
    full = solve(cm.milp, NetworkConfig(), "lp_fix")
    assert not full.hit_work_limit


def test_each_chunk_reports_its_proven_bound_in_plan_units(tiny_plan):
    # The bound is what makes the rolling-vs-monolithic comparison hold whatever either gap is.
    s = tiny_plan["summary"].filter(pl.col("n_integer") > 0)
    assert s.height and s["model_bound_usd"].is_finite().all()
    assert (s["model_bound_usd"] <= s["model_objective_usd"] + 1e-6).all()


def test_a_week_cut_by_the_chunk_start_is_held_to_95_percent_as_a_whole(tiny_network):
    # 1-8 February: the week of 27 January began in the chunk before. If 1,000 units were wanted and
    # delivered then, the week's line is 0.95 x 1,000 - 1,000 = 50 units lower than for its own days only.
    nd, facilities = tiny_network
    start = date(2025, 2, 1)
    plain = build_chunk(nd, facilities, start, date(2025, 2, 8), Carry())
    seen = Carry(week_fill=pl.DataFrame({"week_start": [date(2025, 1, 27)], "qty": [1000.0], "delivered_qty": [1000.0]}))
    held = build_chunk(nd, facilities, start, date(2025, 2, 8), seen)
    lo_plain, lo_held = plain.milp.arrays()[4], held.milp.arrays()[4]
    changed = np.flatnonzero(lo_plain != lo_held)
    assert len(changed) == 1 and np.isclose(lo_held[changed[0]] - lo_plain[changed[0]], -50.0)


def test_the_week_fill_carried_is_the_part_before_the_boundary():
    from dsop_assets.network.solution import _week_fill

    service = pl.DataFrame({"demand_date": [date(2025, 1, 26), date(2025, 1, 27), date(2025, 1, 31)],
                            "demand_qty": [5.0, 10.0, 20.0], "delivered_qty": [5.0, 9.0, 19.0]})
    got = _week_fill(service, Carry(), date(2025, 1, 31))
    assert got.rows() == [(date(2025, 1, 27), 30.0, 28.0)]
    assert _week_fill(service, Carry(), date(2025, 2, 2)).height == 0  # a chunk ending on a Sunday cuts no week

"""Sub-assemblies follow the goods' planned batches, not the goods' demand (issue #16)."""

from datetime import date, timedelta

import polars as pl

from dsop_assets.planning.assets import build_plan_inputs, solve_plan
from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.production_model import plan_production

W0 = date(2025, 1, 6)
WEEKS = [W0 + timedelta(weeks=k) for k in range(4)]


def _instance():
    # G sells 10 a week but is made in lots of 40 (a big setup): one batch in week 0 covers the horizon.
    # Each G takes 2 S (scrap 0); S is made on the same line in lots of 30.
    demand = pl.DataFrame({
        "product_id": ["G"] * 4 + ["S"] * 4, "week_start": WEEKS * 2,
        "p10": [10.0] * 4 + [0.0] * 4, "p50": [10.0] * 4 + [0.0] * 4, "p90": [10.0] * 4 + [0.0] * 4,
    })
    products = pl.DataFrame({
        "product_id": ["G", "S"], "product_type": ["finished_good", "material"], "unit_cost": [100.0, 10.0],
        "unit_price": [200.0, None], "production_line": ["L1", "L1"], "hours_per_unit": [1.0, 0.5],
        "lot_size": [40.0, 30.0], "holding_cost_rate": [0.1, 0.1], "setup_cost": [5_000.0, 100.0],
    })
    lines = pl.DataFrame({"line_id": ["L1"], "regular_hours_per_week": [100.0],
                          "overtime_hours_per_week": [0.0], "overtime_cost_per_hour": [1_000.0]})
    opening = pl.DataFrame({"product_id": ["G", "S"], "on_hand_qty": [0.0, 25.0]})
    bom = pl.DataFrame({"parent_product_id": ["G"], "component_product_id": ["S"], "qty_per": [2.0], "scrap_rate": [0.0]})
    return demand, products, lines, opening, bom


def _qty(plan: pl.DataFrame, product: str) -> list[float]:
    return plan.filter(pl.col("product_id") == product).sort("week_start")["production_qty"].to_list()


def test_sub_assembly_is_made_for_the_batch_in_the_batch_week():
    demand, products, lines, opening, bom = _instance()
    res = plan_production(demand, products, lines, opening, PlanConfig(horizon_weeks=4, mip_rel_gap=0.0), bom)
    goods = _qty(res.plan, "G")
    assert goods == [40.0, 0.0, 0.0, 0.0]
    # The batch of 40 G needs 80 S in week 0; 25 are on hand, so 55 more: two lots of 30, all in week 0.
    assert _qty(res.plan, "S") == [60.0, 0.0, 0.0, 0.0]
    sub = res.plan.filter(pl.col("product_id") == "S").sort("week_start")
    assert sub["demand_p50"].to_list() == [80.0, 0.0, 0.0, 0.0]
    assert sub["shortage_qty"].sum() == 0.0
    assert res.avoidable_backlog_qty == 0.0


def test_a_sub_assembly_lot_without_hours_in_its_week_moves_earlier():
    demand, products, lines, opening, bom = _instance()
    # G's whole demand falls in week 3; week 3 has hours for G's echelon load but not for S's lot rounding.
    demand = demand.with_columns(pl.when((pl.col("product_id") == "G") & (pl.col("week_start") == WEEKS[3]))
                                 .then(40.0).when(pl.col("product_id") == "G").then(0.0).otherwise(0.0)
                                 .alias("p50")).with_columns(pl.col("p50").alias("p10"), pl.col("p50").alias("p90"))
    # 82 h a week: G's batch of 40 (40 h) plus the 3 lots of S it needs (90 S, 45 h) do not fit week 3.
    lines = lines.with_columns(pl.lit(82.0).alias("regular_hours_per_week"))
    res = plan_production(demand, products, lines, opening.with_columns(pl.lit(0.0).alias("on_hand_qty")),
                          PlanConfig(horizon_weeks=4, mip_rel_gap=0.0), bom)
    hours = res.lines.sort("week_start")
    assert (hours["regular_hours_used"] + hours["overtime_hours"] <= hours["capacity_hours"] + 1e-6).all()
    made_s = _qty(res.plan, "S")
    made_g = _qty(res.plan, "G")
    assert made_g[3] == 40.0 and sum(made_s[:3]) > 0.0
    # Every G made has its S made in that week or before.
    s_cum, g_cum = 0.0, 0.0
    for s, g in zip(made_s, made_g):
        s_cum, g_cum = s_cum + s, g_cum + g
        assert s_cum >= 2 * g_cum - 1e-9


def test_plan_inputs_give_sub_assemblies_no_demand_of_their_own():
    demand, products, lines, opening, bom = _instance()
    forecast = demand.filter(pl.col("product_id") == "G").with_columns(pl.lit(1).alias("horizon"))
    orders = pl.DataFrame(schema={"product_id": pl.String, "requested_delivery_date": pl.Date, "open_qty": pl.Float64})
    inputs = build_plan_inputs(W0 - timedelta(weeks=1), forecast, orders, opening, products, bom, lines,
                               PlanConfig(horizon_weeks=4))
    sub = inputs.demand.filter(pl.col("product_id") == "S")
    assert sub.height == 4 and sub["p50"].sum() == 0.0
    outcome = solve_plan(inputs, PlanConfig(horizon_weeks=4, mip_rel_gap=0.0))
    assert outcome.usable, outcome.gate
    assert _qty(outcome.result.plan, "S")[0] == 60.0


def test_sub_assembly_lots_trade_weeks_when_no_single_week_has_room():
    """Two sub-assemblies on a 10-hour line: SA's two 4-hour lots and SB's two 6-hour lots fill both
    weeks exactly only if each week holds one of each. Placed one product at a time (SA first, at its
    cheapest: both lots in week 1), SB finds no week with 6 free hours for its second lot."""
    import numpy as np

    from dsop_assets.planning.multi_level import follow_batches
    from dsop_assets.planning.plan_data import UNCAPACITATED, PlanData

    weeks = WEEKS[:2]
    n = 4  # G1, G2 (no line), SA, SB (line 0)
    data = PlanData(
        products=["G1", "G2", "SA", "SB"], weeks=weeks, lines=["L1"],
        demand=np.zeros((n, 2)), firm=np.zeros((n, 2)), safety_stock=np.zeros((n, 2)), opening=np.zeros(n),
        line_of=np.array([UNCAPACITATED, UNCAPACITATED, 0, 0]), line_label=[None, None, "L1", "L1"],
        hours=np.array([0.0, 0.0, 4.0, 6.0]), lot=np.array([np.nan, np.nan, 1.0, 1.0]),
        hold_cost=np.full(n, 1.0), shortage_cost=np.full(n, 100.0), terminal_cost=np.zeros(n), ss_cost=np.zeros(n),
        setup_cost=np.full(n, 50.0), regular=np.array([10.0]), overtime=np.array([0.0]), overtime_cost=np.array([1.0]),
    )
    links = np.zeros((n, n))
    links[0, 2] = links[1, 3] = 1.0
    made = np.zeros((n, 2))
    made[0] = [0.0, 2.0]  # G1 needs two SA in week 1
    made[1] = [1.0, 1.0]  # G2 needs one SB in each week
    planned, _ = follow_batches(data, made, np.array([2, 3]), links, np.array([0, 0, 1, 1]))
    assert planned[2].tolist() == [1.0, 1.0] and planned[3].tolist() == [1.0, 1.0]
    assert ((planned[2:] * data.hours[2:, None]).sum(axis=0) <= 10.0 + 1e-9).all()

"""The replay's simulator on cases worked out by hand, and the closed loop on a tiny generated plant."""

from datetime import date, timedelta

import polars as pl
import pytest

from dsop_assets.planning.config import PlanConfig
from dsop_assets.replay.data import bom_structure, costs_of, real_lead_days
from dsop_assets.replay.policies import moving_average
from dsop_assets.replay.run import run_replay, summarise, verdict
from dsop_assets.replay.simulator import OrderLine, Receipt, State, execute_week, fit_to_lines, urgency_order
from tests.replay.world import ORIGINS, W0, products, world

MON = date(2025, 2, 3)


def _costs(regular=6.0, overtime=7.0):
    lines = pl.DataFrame({"line_id": ["L1"], "regular_hours_per_week": [regular], "overtime_hours_per_week": [overtime],
                          "overtime_cost_per_hour": [100.0]})
    # G1: cost 52 at rate 1 -> holding 1 per unit-week, price 100 -> backlog 300 per unit-week, setup 30.
    # M1: cost 10 at rate 1 -> holding 10/52 per unit-week.
    return costs_of(products(), lines, PlanConfig())


def test_one_week_by_hand():
    """G1 takes 1 h and 2 M1 per unit, lot 10. Stock 3 G1, 10 M1; 10 M1 arrive on Wednesday, 50 next Monday.

    Wanted 12 G1: 12 h fit the 13 h line. M1 needs 24, 20 on hand -> 12 x 20/24 = 10 -> 10 (one lot), 20 M1
    used, 0 left. G1: 3 + 10 = 13. Orders oldest first: overdue O0 2 -> 11 left; O1 5 (Tue) -> 6; O2 7 (Fri)
    gets 6, 1 open; O3 (next Monday) not yet due. Due in the week 12, in full on time 5 -> fill 5/12.
    Costs: holding 0 (nothing left); setup 30; overtime (10 - 6) h x 100 = 400; backlog 1 x 300 = 300.
    """
    components, levels = bom_structure(pl.DataFrame({"parent_product_id": ["G1"], "component_product_id": ["M1"],
                                                     "qty_per": [2.0], "scrap_rate": [0.0]}))
    state = State({"G1": 3.0, "M1": 10.0}, [
        OrderLine("O0", "G1", MON - timedelta(days=10), MON - timedelta(days=3), 2.0),
        OrderLine("O1", "G1", MON - timedelta(days=7), MON + timedelta(days=1), 5.0),
        OrderLine("O3", "G1", MON, MON + timedelta(days=7), 4.0),
    ], [Receipt("M1", MON + timedelta(days=2), 10.0, MON), Receipt("M1", MON + timedelta(days=7), 50.0, MON)])
    new = [OrderLine("O2", "G1", MON + timedelta(days=1), MON + timedelta(days=4), 7.0)]
    costs = _costs()
    costs.lot["G1"] = 10.0
    fig = execute_week(state, MON, {"G1": 12.0}, new, components, levels, costs)
    assert fig.made_short_of_materials == pytest.approx(2.0) and fig.made_short_of_subassemblies == 0.0
    assert (fig.due_qty, fig.otif_qty, fig.shipped_qty, fig.backlog_qty) == (12.0, 5.0, 13.0, 1.0)
    assert fig.fill_rate == pytest.approx(5 / 12)
    assert state.stock == {"G1": 0.0, "M1": 0.0}
    assert [(r.product_id, r.qty) for r in state.receipts] == [("M1", 50.0)]
    assert [(o.order_id, o.open_qty) for o in state.orders] == [("O2", 1.0), ("O3", 4.0)]
    assert (fig.setups, fig.setup_cost, fig.overtime_hours, fig.overtime_cost, fig.backlog_cost, fig.holding_cost) == (
        1, 30.0, 4.0, 400.0, 300.0, 0.0)
    assert fig.total_cost == pytest.approx(730.0)
    assert fig.stock_value == 0.0 and fig.shipped_cost == pytest.approx(13 * 52.0)


def test_stock_left_is_valued_and_held():
    components, levels = bom_structure(pl.DataFrame(schema={"parent_product_id": pl.String, "component_product_id": pl.String,
                                                            "qty_per": pl.Float64, "scrap_rate": pl.Float64}))
    state = State({"G1": 10.0, "M1": 52.0}, [])
    fig = execute_week(state, MON, {}, [], components, levels, _costs())
    # 10 G1 x 52 + 52 M1 x 10 = 1040 KRW of stock; holding 10 x 1 + 52 x 10/52 = 20.
    assert fig.stock_value == pytest.approx(1040.0) and fig.holding_cost == pytest.approx(20.0)
    assert fig.fill_rate is None and fig.total_cost == pytest.approx(20.0)


def test_over_full_line_serves_the_most_urgent_first_in_whole_lots():
    costs = _costs(regular=10.0, overtime=0.0)
    costs.lot["G1"], costs.lot["G2"] = 4.0, 4.0
    # 8 + 12 = 20 h on a 10 h line. G2 first: 12 h > 10 -> 10 -> 8 (two lots); G1 then has 2 h, under a lot.
    assert fit_to_lines({"G1": 8.0, "G2": 12.0}, costs, ["G2", "G1"]) == {"G2": 8.0}
    assert fit_to_lines({"G1": 8.0, "G2": 12.0}, costs, ["G1", "G2"]) == {"G1": 8.0}
    assert fit_to_lines({"G1": 4.0, "G2": 4.0}, costs) == {"G1": 4.0, "G2": 4.0}
    # Urgency: G2 has 9 due and 1 on hand (8 uncovered), G1 5 due and 0 on hand; the order due next week waits.
    state = State({"G2": 1.0}, [OrderLine("a", "G1", MON, MON, 5.0), OrderLine("b", "G2", MON, MON, 9.0),
                                OrderLine("c", "G1", MON, MON + timedelta(days=7), 50.0)])
    assert urgency_order(state, {"G1": 1.0, "G2": 1.0}, MON + timedelta(days=6), {}) == ["G2", "G1"]


def test_real_lead_time_is_the_closest_real_po():
    data = world(lead_days=14)
    assert real_lead_days(data, "M1", "S1", W0, 99.0) == 14
    assert real_lead_days(data, "M9", None, W0, 21.0) == 21  # never bought: the quoted default


def test_moving_average_reads_only_orders_known_then():
    data = world()
    assert moving_average(data, W0) == {"G1": 20.0, "G2": 10.0}


def test_closed_loop_is_deterministic_and_dsop_serves_a_perfect_forecast():
    first = run_replay(world(), PlanConfig(time_limit_seconds=30.0))
    second = run_replay(world(), PlanConfig(time_limit_seconds=30.0))
    assert first.table.equals(second.table)
    table = first.table
    assert table.height == 5 * len(ORIGINS)
    summary = summarise(table)
    rows = {r["policy"]: r for r in summary.iter_rows(named=True)}
    # Orders arrive a week ahead, the forecast is exact, hours and material are ample: dsop ships all on time.
    assert rows["dsop"]["fill_rate"] == pytest.approx(1.0)
    assert (table.filter(pl.col("policy") == "dsop")["status"] == "ok").all()
    # The ERP replays its real production (20 + 10 a week, what was ordered) from the same start.
    assert rows["erp_actual"]["fill_rate"] == pytest.approx(1.0)
    for r in rows.values():
        assert r["total_cost_krw"] == pytest.approx(r["holding_cost_krw"] + r["setup_cost_krw"] + r["backlog_cost_krw"]
                                                     + r["overtime_cost_krw"])
    assert set(verdict(summary)) >= {"met", "fill_ok", "cost_ok", "best_rule"}


def test_materials_arrive_after_their_real_lead_time():
    """No M1 on hand and a 14-day real lead time: nothing can be made in the first executed week
    whatever the policy orders; a 3-day lead time would have let the first order arrive in it."""
    slow = run_replay(world(material_on_hand=0.0, lead_days=14), PlanConfig(), policies=("orders_plus_1wk_ma4",)).table
    fast = run_replay(world(material_on_hand=0.0, lead_days=3), PlanConfig(), policies=("orders_plus_1wk_ma4",)).table
    assert slow["short_of_materials_qty"][0] > 0 and slow["setups"][0] == 0
    assert fast["short_of_materials_qty"][0] == 0 and fast["setups"][0] > 0
    assert slow["purchases_placed"][0] > 0


def test_a_missing_sub_assembly_is_told_apart_from_a_missing_material():
    """G1 <- SA1 (1 each) <- M1. 10 G1 wanted, 4 SA1 on hand, SA1 not made this week: 4 G1 made, 6 short,
    all of them for want of the sub-assembly, although M1 is plentiful."""
    bom = pl.DataFrame({"parent_product_id": ["G1", "SA1"], "component_product_id": ["SA1", "M1"],
                        "qty_per": [1.0, 1.0], "scrap_rate": [0.0, 0.0]})
    components, levels = bom_structure(bom)
    state = State({"SA1": 4.0, "M1": 100.0}, [])
    costs = _costs(regular=100.0)
    costs.lot.pop("G1")  # continuous production: the cut is not rounded to a lot
    fig = execute_week(state, MON, {"G1": 10.0}, [], components, levels, costs)
    assert (fig.made_short_of_materials, fig.made_short_of_subassemblies) == (6.0, 6.0)
    assert state.stock["G1"] == 4.0 and state.stock["SA1"] == 0.0 and state.stock["M1"] == 100.0

import math
from datetime import date, timedelta

import polars as pl
import pytest
from scipy.stats import norm

from dsop_assets.planning.bom import BomCycleError, explode_bom
from dsop_assets.planning.config import PurchaseConfig
from dsop_assets.planning.inventory_policy import eoq, reorder_point, round_up_to_lot, safety_stock
from dsop_assets.planning.purchasing import choose_suppliers, recommend_purchases

W0 = date(2025, 1, 6)
WEEKS = [W0 + timedelta(weeks=k) for k in range(4)]


def _bom():
    # FG -> A (2), B (1, 20 % scrap); A -> C (3); B -> C (1); C -> D (0.5): C is shared, D is level 3.
    return pl.DataFrame({
        "parent_product_id": ["FG", "FG", "A", "B", "C"],
        "component_product_id": ["A", "B", "C", "C", "D"],
        "qty_per": [2.0, 1.0, 3.0, 1.0, 0.5],
        "scrap_rate": [0.0, 0.2, 0.0, 0.0, None],
    })


def test_explode_three_levels_with_shared_component_and_scrap():
    req = pl.DataFrame({"product_id": ["FG"], "week_start": [W0], "qty": [10.0]})
    out = explode_bom(req, _bom())
    got = {r["product_id"]: (r["gross_qty"], r["level"]) for r in out.iter_rows(named=True)}
    # A = 20, B = 10 / 0.8 = 12.5, C = 3*20 + 12.5 = 72.5 (level 2), D = 36.25 (level 3).
    assert got == {"A": (20.0, 1), "B": (12.5, 1), "C": (72.5, 2), "D": (36.25, 3)}
    assert (out["week_start"] == W0).all()


def test_explode_nets_intermediate_stock_before_going_down():
    req = pl.DataFrame({"product_id": ["FG"], "week_start": [W0], "qty": [10.0]})
    out = explode_bom(req, _bom(), pl.DataFrame({"product_id": ["A"], "on_hand_qty": [5.0]}))
    got = dict(out.select("product_id", "gross_qty").iter_rows())
    assert got["A"] == 20.0 and got["C"] == pytest.approx(3 * 15 + 12.5)


def test_bom_cycle_is_a_clear_error():
    bom = pl.DataFrame({"parent_product_id": ["X", "Y", "Z"], "component_product_id": ["Y", "Z", "X"],
                        "qty_per": [1.0, 1.0, 1.0]})
    with pytest.raises(BomCycleError, match="cycle"):
        explode_bom(pl.DataFrame({"product_id": ["X"], "week_start": [W0], "qty": [1.0]}), bom)


def test_textbook_eoq_safety_stock_and_rop():
    assert eoq(1200, 100, 6) == pytest.approx(200.0)
    z = norm.ppf(0.95)
    ss = safety_stock(z, mean_demand=10, sd_demand=3, lead_time=9, sd_lead_time=2)
    assert ss == pytest.approx(z * math.sqrt(9 * 9 + 100 * 4))
    assert reorder_point(10, 9, ss) == pytest.approx(90 + ss)
    assert round_up_to_lot(201, 50) == 250 and round_up_to_lot(200, None) == 200 and round_up_to_lot(-5, 10) == 0


def _purchase_case():
    plan = pl.DataFrame({"product_id": ["FG"] * 4, "week_start": WEEKS, "production_qty": [35.0] * 4})
    bom = pl.DataFrame({"parent_product_id": ["FG"], "component_product_id": ["M"], "qty_per": [2.0]})
    products = pl.DataFrame({"product_id": ["FG", "M"], "unit_cost": [100.0, 24.0], "lot_size": [None, 50.0],
                             "holding_cost_rate": [0.25, 0.25], "ordering_cost": [None, 100.0]})
    lead_times = pl.DataFrame({
        "product_id": ["M", "M"], "supplier_id": ["S_FAST", "S_CHEAP"],
        "mean_days": [14.0, 30.0], "p50_days": [14.0, 29.0], "p90_days": [17.0, 45.0], "std_days": [2.0, 9.0],
        "on_time_rate": [0.95, 0.6], "mean_unit_cost": [25.0, 24.0],
    })
    on_hand = pl.DataFrame({"product_id": ["M"], "on_hand_qty": [100.0]})
    open_pos = pl.DataFrame({"supplier_id": ["S_FAST"], "product_id": ["M"], "order_date": [date(2024, 12, 20)],
                             "order_qty": [100.0], "promised_date": [WEEKS[1] + timedelta(days=2)],
                             "received_date": [None], "received_qty": [None]},
                            schema_overrides={"received_date": pl.Date, "received_qty": pl.Float64})
    return plan, bom, products, on_hand, open_pos, lead_times


def test_supplier_score_prefers_fast_reliable_over_slightly_cheaper():
    best = choose_suppliers(_purchase_case()[5], PurchaseConfig())
    assert best["supplier_id"].to_list() == ["S_FAST"]


def test_recommendations_follow_textbook_numbers():
    out = recommend_purchases(*_purchase_case(), as_of=W0 - timedelta(days=21), config=PurchaseConfig())
    # M needs 70 a week = 10 a day, constant (sigma_d = 0); S_FAST: L = 14 d, sigma_L = 2, P90 17 d.
    z = norm.ppf(0.95)
    ss = z * math.sqrt(100 * 4)
    q = math.sqrt(2 * 70 * 52 * 100 / (24 * 0.25))
    first = out.row(0, named=True)
    assert first["supplier_id"] == "S_FAST"
    assert first["safety_stock"] == pytest.approx(ss)
    assert first["reorder_point"] == pytest.approx(140 + ss)
    assert first["eoq"] == pytest.approx(q)
    # Week 1: 100 on hand - 70 = 30 < SS 32.9 -> order max(gap, EOQ 348.3) in lots of 50 = 350.
    assert first["need_date"] == WEEKS[0] and first["projected_on_hand"] == pytest.approx(30.0)
    assert first["net_requirement"] == pytest.approx(ss - 30.0)
    assert first["recommended_qty"] == 350.0
    assert first["order_by_date"] == WEEKS[0] - timedelta(days=17)
    assert "350" in first["reason"] and "S_FAST" in first["reason"]
    # 30 + 350 + 100 (open PO) - 3 x 70 = 270 stays above SS: one order only.
    assert out.height == 1
    assert out.select((pl.col("recommended_qty") >= 0).all() & (pl.col("net_requirement") >= 0).all()).item()


def test_purchase_recommendations_are_deterministic():
    case = _purchase_case()
    assert recommend_purchases(*case, as_of=W0).equals(recommend_purchases(*case, as_of=W0))


def test_a_supplier_with_only_open_lines_gets_the_default_lead_time():
    """lead_time_stats leaves a pair's lead-time stats null until its first receipt: the default
    (28 days) stands in, instead of a TypeError in the safety stock."""
    plan, bom, products, on_hand, open_pos, _ = _purchase_case()
    unseen = pl.DataFrame({"product_id": ["M"], "supplier_id": ["S_NEW"], "mean_days": [None], "p50_days": [None],
                           "p90_days": [None], "std_days": [None], "on_time_rate": [None], "mean_unit_cost": [24.0]},
                          schema_overrides={c: pl.Float64 for c in ("mean_days", "p50_days", "p90_days", "std_days",
                                                                     "on_time_rate")})
    first = recommend_purchases(plan, bom, products, on_hand, open_pos, unseen, as_of=W0).row(0, named=True)
    assert first["supplier_id"] == "S_NEW" and first["lead_time_p90_days"] == 28.0
    assert first["order_by_date"] == first["need_date"] - timedelta(days=28)

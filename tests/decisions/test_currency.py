"""One currency for decisions: a mixed KRW / USD / EUR fixture whose answers are worked out by hand."""

import math
from datetime import date

import polars as pl
import pytest

from dsop_assets.decision_inputs import in_krw, krw_rates, products_in_krw
from dsop_assets.planning.config import PlanConfig, PurchaseConfig
from dsop_assets.planning.plan_data import prepare_plan_data
from dsop_assets.planning.purchasing import recommend_purchases
from dsop_resources import DuckDBWarehouse

DAY = date(2026, 11, 29)
# USD 1,400 and EUR 1,500 on the business date; the later USD quote (1,500) is not known yet.
RATES = pl.DataFrame({
    "currency": ["USD", "EUR", "USD"], "rate_date": [DAY, DAY, date(2026, 11, 30)],
    "krw_per_unit": [1400.0, 1500.0, 1500.0], "known_at": [DAY, DAY, date(2026, 11, 30)], "is_filled": [False] * 3,
})
PRODUCTS = pl.DataFrame({
    "product_id": ["K", "U", "E"], "product_type": ["finished_good"] * 3, "currency": ["KRW", "USD", "EUR"],
    "unit_cost": [52_000.0, 10.0, 20.0], "unit_price": [100_000.0, 50.0, None],
    "production_line": ["L1"] * 3, "hours_per_unit": [1.0] * 3, "lot_size": [None, None, None],
    "holding_cost_rate": [0.26] * 3, "setup_cost": [100_000.0] * 3, "ordering_cost": [50_000.0] * 3,
}, schema_overrides={"lot_size": pl.Float64})


@pytest.fixture()
def warehouse(tmp_path):
    wh = DuckDBWarehouse(path=str(tmp_path / "fx.duckdb"))
    wh.write("exchange_rate", RATES)
    wh.write("product_master", PRODUCTS)
    return wh


def test_krw_columns_at_the_business_date_rate(warehouse):
    assert krw_rates(warehouse, DAY) == {"KRW": 1.0, "USD": 1400.0, "EUR": 1500.0}
    got = products_in_krw(warehouse, DAY).sort("product_id")
    assert got["unit_cost_krw"].to_list() == [30_000.0, 52_000.0, 14_000.0]  # E, K, U
    assert got["unit_price_krw"].to_list() == [None, 100_000.0, 70_000.0]
    assert got["unit_cost"].to_list() == [20.0, 52_000.0, 10.0] and got["currency"].to_list() == ["EUR", "KRW", "USD"]


def test_unknown_currency_is_an_error_not_a_silent_mix():
    with pytest.raises(ValueError, match="JPY"):
        in_krw(pl.DataFrame({"currency": ["JPY"], "unit_cost": [1.0]}), {"KRW": 1.0}, ["unit_cost"])


def test_plan_costs_are_in_krw(warehouse):
    products = products_in_krw(warehouse, DAY)
    demand = pl.DataFrame({"product_id": ["E", "K", "U"], "week_start": [date(2026, 11, 30)] * 3,
                           "p10": [1.0] * 3, "p50": [1.0] * 3, "p90": [1.0] * 3})
    lines = pl.DataFrame({"line_id": ["L1"], "regular_hours_per_week": [10.0], "overtime_hours_per_week": [0.0],
                          "overtime_cost_per_hour": [0.0]})
    opening = pl.DataFrame({"product_id": ["E", "K", "U"], "on_hand_qty": [0.0] * 3})
    data = prepare_plan_data(demand, products, lines, opening, PlanConfig(horizon_weeks=1))
    # holding = KRW cost x 0.26 / 52 = cost / 200; backlog = 3 x KRW price (KRW cost without a price).
    assert data.hold_cost.tolist() == pytest.approx([150.0, 260.0, 70.0])
    assert data.shortage_cost.tolist() == pytest.approx([90_000.0, 300_000.0, 210_000.0])


def test_eoq_and_order_value_in_krw(warehouse):
    products = products_in_krw(warehouse, DAY).filter(pl.col("product_id") == "U").with_columns(
        pl.lit("raw_material").alias("product_type"))
    weeks = [date(2026, 11, 30) + (date(2026, 12, 7) - date(2026, 11, 30)) * k for k in range(4)]
    plan = pl.DataFrame({"product_id": ["P"] * 4, "week_start": weeks, "production_qty": [100.0] * 4})
    bom = pl.DataFrame({"parent_product_id": ["P"], "component_product_id": ["U"], "qty_per": [1.0], "scrap_rate": [0.0]})
    lead = pl.DataFrame({"product_id": ["U"], "supplier_id": ["S1"], "mean_days": [7.0], "p90_days": [7.0],
                         "std_days": [0.0], "on_time_rate": [1.0], "mean_unit_cost": [11.0], "currency": ["USD"]})
    lead = in_krw(lead, {"KRW": 1.0, "USD": 1400.0}, ["mean_unit_cost"])
    recs = recommend_purchases(plan, bom, products, pl.DataFrame({"product_id": ["U"], "on_hand_qty": [0.0]}),
                               pl.DataFrame(schema={"product_id": pl.String, "order_qty": pl.Float64,
                                                    "promised_date": pl.Date}),
                               lead, DAY, PurchaseConfig())
    # EOQ = sqrt(2 x 5,200 a year x 50,000 KRW / (14,000 KRW x 0.26)) = sqrt(142,857.1) = 378.0
    assert recs["eoq"][0] == pytest.approx(math.sqrt(2 * 100 * 52 * 50_000 / (14_000 * 0.26)))
    first = recs.row(0, named=True)
    assert (first["unit_cost"], first["currency"], first["unit_cost_krw"]) == (11.0, "USD", 15_400.0)
    assert first["order_value_krw"] == pytest.approx(first["recommended_qty"] * 15_400.0)

"""risk_backtest on a hand-made history: which grades foretold the stock-outs, excess and late deliveries."""

from datetime import date, timedelta

import polars as pl
import pytest

from dsop_assets.risk.backtest import realised_events, score_backtest
from dsop_assets.risk.config import RiskConfig

W = date(2025, 1, 6)
START = W + timedelta(days=7)  # the outcome window: 4 weeks from the Monday after W
DAYS = [START + timedelta(days=d) for d in range(28)]


def _history():
    stock = pl.DataFrame({
        "product_id": ["DRY"] * 28 + ["FAT"] * 28 + ["OK"] * 28,
        "date": DAYS * 3,
        "closing_qty": [5.0] * 10 + [0.0] * 18 + [1000.0] * 28 + [50.0] * 28,
    })
    orders = pl.DataFrame({
        "order_id": ["o1", "o2", "o3"], "product_id": ["DRY", "FAT", "OK"],
        "order_date": [START] * 3, "order_qty": [28.0, 28.0, 28.0],
        "requested_delivery_date": [START + timedelta(days=3)] * 3,
    })
    shipments = pl.DataFrame({"order_id": ["o1", "o2", "o3"], "revenue_date": [START + timedelta(days=9), START, START],
                              "shipped_qty": [28.0, 28.0, 28.0]})
    return stock, orders, shipments


def test_events_and_precision_recall():
    config = RiskConfig()
    events = realised_events([W], *_history(), config).sort("product_id")
    # DRY ran dry and shipped 6 days late; FAT holds 1,000 days of its 1/day demand; OK neither.
    assert events.select("product_id", "stockout", "excess", "delivery").rows() == [
        ("DRY", True, False, True), ("FAT", False, True, False), ("OK", False, False, False)]
    risk = pl.DataFrame({"product_id": ["DRY", "FAT", "OK"], "week_start": [W] * 3,
                         "grade": ["D", "B", "C"], "dominant_risk": ["stockout", "excess", "stockout"]})
    table = {r["risk_type"]: r for r in score_backtest(risk, events, config).iter_rows(named=True)}
    assert (table["stockout"]["precision"], table["stockout"]["recall"]) == (0.5, 1.0)  # OK flagged wrongly
    assert (table["excess"]["flagged"], table["excess"]["recall"]) == (0, 0.0)  # FAT graded only B
    assert table["delivery"]["events"] == 1 and table["delivery"]["precision"] is None


def test_risk_backtest_asset_scores_weeks_whose_window_has_passed(tmp_path):
    import dagster as dg

    from dsop_assets.risk.assets import risk_backtest
    from dsop_resources import DuckDBWarehouse

    stock, orders, shipments = _history()
    wh = DuckDBWarehouse(path=str(tmp_path / "bt.duckdb"))
    wh.write("daily_inventory_estimated", stock.rename({"product_id": "item_id"}))
    wh.write("daily_order", orders.with_columns(pl.lit("C1").alias("customer_id")))
    wh.write("daily_revenue", shipments.with_columns(pl.lit("DRY").alias("product_id")))
    # The second week's window runs past the stock estimate: it is not scored yet.
    wh.write("risk_score", pl.DataFrame({"product_id": ["DRY", "DRY"], "week_start": [W, W + timedelta(days=7)],
                                         "grade": ["F", "F"], "dominant_risk": ["stockout", "stockout"]}))
    assert dg.materialize([risk_backtest], resources={"warehouse": wh}).success
    table = {r["risk_type"]: r for r in wh.read_table("risk_backtest").iter_rows(named=True)}
    assert table["stockout"]["weeks_scored"] == 1 and table["stockout"]["hits"] == 1

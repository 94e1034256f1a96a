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

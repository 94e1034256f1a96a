"""Risk inputs are sums of fractional quantities: the same rows in another order give the same bits."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from dsop_assets.risk.config import RiskConfig
from dsop_assets.risk.inputs import assemble_risk_inputs


def _inputs(recent_orders: pl.DataFrame, orders_open: pl.DataFrame) -> pl.DataFrame:
    week = date(2026, 11, 23)
    goods = pl.DataFrame({"product_id": ["P1"], "unit_price": [10.0], "unit_cost": [6.0]})
    return assemble_risk_inputs(
        week, week, goods,
        on_hand=pl.DataFrame({"product_id": ["P1"], "on_hand_qty": [5.0]}),
        forecast=pl.DataFrame({"product_id": ["P1"], "horizon": [1], "p10": [1.0], "p50": [2.0], "p90": [3.0]}),
        orders_open=orders_open,
        recent_orders=recent_orders,
        material_lead=pl.DataFrame(schema={"material_id": pl.Utf8, "p90_days": pl.Float64}),
        links=pl.DataFrame(schema={"product_id": pl.Utf8, "material_id": pl.Utf8}),
        shares=pl.DataFrame({"product_id": ["P1"], "imported_share": [0.0]}),
        material_cost_change=None, fx_change=None, config=RiskConfig(),
    )


def test_shares_and_the_order_book_do_not_depend_on_row_order():
    rng = np.random.default_rng(4)
    n = 120
    # Magnitudes from 1e-3 to 1e16: a float sum of these depends on the order it adds them in (Polars'
    # grouped sum adds a group's rows in row order; DuckDB does not promise the order it returns them in).
    qty = rng.uniform(0, 1, n) * 10.0 ** rng.integers(-3, 17, n)
    recent = pl.DataFrame({"product_id": ["P1"] * n, "customer_id": [f"C{k % 3}" for k in range(n)], "order_qty": qty})
    book = pl.DataFrame({"product_id": ["P1"] * n, "open_qty": qty,
                         "requested_delivery_date": [date(2026, 12, 1 + k % 28) for k in range(n)]})
    first = _inputs(recent, book)
    for seed in range(20):
        order = np.random.default_rng(seed).permutation(n)
        again = _inputs(recent[order], book[order])
        columns = ["top_customer_share", "open_order_qty", "days_to_delivery_weighted"]
        assert again.select(columns).equals(first.select(columns)), seed

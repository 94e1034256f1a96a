"""Lead-time statistics against hand-computed values (quantiles: linear, Hyndman-Fan type 7)."""

from datetime import date

import polars as pl
import pytest

from dsop_assets.inventory.lead_time import LEAD_TIME_COLUMNS, lead_time_stats

D = date
# (po, product, order, promised, received, order_qty, unit_cost)
LINES = [
    ("L1", "M1", D(2024, 1, 1), D(2024, 1, 11), D(2024, 1, 11), 100.0, 10.0),  # 10 d, on time
    ("L2", "M1", D(2024, 1, 5), D(2024, 1, 15), D(2024, 1, 20), 100.0, 12.0),  # 15 d, 5 late
    ("L3", "M1", D(2024, 1, 10), D(2024, 1, 20), D(2024, 1, 30), 200.0, 11.0),  # 20 d, 10 late
    ("L4", "M1", D(2024, 1, 15), D(2024, 1, 26), D(2024, 1, 25), 100.0, 10.0),  # 10 d, early
    ("L5", "M1", D(2024, 1, 20), D(2024, 2, 5), None, 50.0, 14.0),  # open
    ("L6", "M1", D(2024, 1, 25), D(2024, 2, 5), D(2024, 2, 10), 30.0, 9.0),  # received after as_of
    ("L7", "M1", D(2024, 2, 5), D(2024, 2, 15), D(2024, 2, 12), 999.0, 99.0),  # ordered after as_of
    ("L8", "M2", D(2024, 1, 20), D(2024, 2, 5), None, 40.0, 5.0),  # only an open line
]


def _po() -> pl.DataFrame:
    po, product, order, promised, received, qty, cost = zip(*LINES)
    return pl.DataFrame(
        {
            "po_id": po, "supplier_id": ["S1"] * len(LINES), "product_id": product, "order_date": order,
            "order_qty": qty, "unit_cost": cost, "currency": ["KRW"] * len(LINES), "promised_date": promised,
            "received_date": list(received),
            "received_qty": [q if r is not None else None for q, r in zip(qty, received)],
        }
    )  # fmt: skip


def test_lead_time_stats_hand_computed():
    out = lead_time_stats(_po(), as_of=D(2024, 2, 1))
    assert out.columns == LEAD_TIME_COLUMNS
    m1 = out.filter(pl.col("product_id") == "M1").row(0, named=True)
    assert m1["n_receipts"] == 4
    assert m1["mean_days"] == pytest.approx(13.75)  # leads 10, 15, 20, 10
    assert m1["p50_days"] == pytest.approx(12.5)  # sorted 10, 10, 15, 20 -> between 10 and 15
    assert m1["p90_days"] == pytest.approx(18.5)  # h = 3 x 0.9 = 2.7 -> 15 + 0.7 x 5
    assert m1["std_days"] == pytest.approx((68.75 / 3) ** 0.5)
    assert m1["on_time_rate"] == pytest.approx(0.5)
    assert (m1["n_late"], m1["mean_late_days"], m1["max_late_days"]) == (2, 7.5, 10.0)
    assert m1["mean_unit_cost"] == pytest.approx(6370 / 580)  # qty-weighted over L1..L6
    assert m1["last_order_date"] == D(2024, 1, 25)
    assert (m1["n_open"], m1["open_qty"]) == (2, 80.0)  # L5 and L6 (its receipt is after as_of)


def test_pair_with_only_open_lines():
    m2 = lead_time_stats(_po(), as_of=D(2024, 2, 1)).filter(pl.col("product_id") == "M2").row(0, named=True)
    assert m2["n_receipts"] == 0 and m2["open_qty"] == 40.0
    assert m2["mean_days"] is None and m2["p90_days"] is None and m2["on_time_rate"] is None
    assert m2["max_late_days"] is None and m2["mean_unit_cost"] == 5.0


def test_no_late_lines_and_single_receipt():
    out = lead_time_stats(_po(), as_of=D(2024, 1, 12)).filter(pl.col("product_id") == "M1").row(0, named=True)
    assert out["n_receipts"] == 1 and out["on_time_rate"] == 1.0
    assert out["mean_late_days"] is None and out["max_late_days"] == 0.0
    assert out["std_days"] is None  # sample std needs two receipts

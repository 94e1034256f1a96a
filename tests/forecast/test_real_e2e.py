"""The real-series export of ``dsop_jobs.tools.real_e2e``: what the Dagster path is handed."""

from datetime import date

import polars as pl

from dsop_jobs.tools import real_e2e


def test_series_become_an_erp_export_with_one_order_per_month(tmp_path):
    raw = pl.DataFrame({
        "series_id": ["A"] * 30 + ["B"] * 30,
        "split": (["train"] * 24 + ["test"] * 6) * 2,
        "t": list(range(1, 31)) * 2,
        "value": [float(t) for t in range(1, 31)] + [0.0 if t % 5 == 0 else 2.0 for t in range(1, 31)],
    })
    manifest = real_e2e.write_export(raw, tmp_path / "erp")
    orders = pl.read_csv(tmp_path / "erp" / "daily_order.csv", try_parse_dates=True)
    # A's 30 months, B's 24 non-zero ones (a zero month is no order, as the ERP would carry it)
    assert orders.group_by("product_id").len().sort("product_id")["len"].to_list() == [30, 24]
    assert orders["order_id"].n_unique() == orders.height
    assert (orders["order_date"].dt.day() == 1).all()
    # the last training month is forecast_real's, so both tools forecast the same months
    assert orders.filter(pl.col("product_id") == "A", pl.col("order_qty") == 24.0)["order_date"][0] == date(2024, 12, 1)
    assert set(orders["customer_id"]) <= set(pl.read_csv(tmp_path / "erp" / "customer.csv")["customer_id"])
    products = pl.read_csv(tmp_path / "erp" / "product_master.csv")
    assert products["product_id"].to_list() == ["A", "B"]
    for name in real_e2e.EMPTY:
        assert pl.read_csv(tmp_path / "erp" / name).height == 0
    start = date.fromisoformat(manifest["history_start"])
    assert start.weekday() == 0 and start <= orders["order_date"].min()

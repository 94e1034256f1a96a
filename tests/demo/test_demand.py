"""Demand realism: all Syntetos-Boylan classes, concentrated customers, indicators that lead demand."""

from __future__ import annotations

import numpy as np
import polars as pl

from .helpers import typed


def _classes(orders: pl.DataFrame) -> dict[str, int]:
    weekly = orders.with_columns(w=pl.col("order_date").dt.truncate("1w")).group_by("customer_id", "product_id", "w").agg(
        pl.col("order_qty").sum())
    s = weekly.group_by("customer_id", "product_id").agg(
        pl.len().alias("nz"), pl.col("order_qty").mean().alias("m"), pl.col("order_qty").std().alias("sd"),
        pl.col("w").min().alias("a"), pl.col("w").max().alias("b")).filter(pl.col("nz") >= 3)
    span = (pl.col("b") - pl.col("a")).dt.total_days() / 7 + 1
    s = s.with_columns(adi=span / pl.col("nz"), cv2=(pl.col("sd") / pl.col("m")) ** 2)
    label = (pl.when(pl.col("adi") < 1.32).then(pl.when(pl.col("cv2") < 0.49).then(pl.lit("smooth")).otherwise(pl.lit("erratic")))
             .otherwise(pl.when(pl.col("cv2") < 0.49).then(pl.lit("intermittent")).otherwise(pl.lit("lumpy"))))
    return dict(s.select(label.alias("c")).group_by("c").len().iter_rows())


def test_all_demand_classes_present(tiny):
    out, _ = tiny
    counts = _classes(typed(out, "daily_order"))
    assert set(counts) == {"smooth", "erratic", "intermittent", "lumpy"}, counts
    assert min(counts.values()) >= 2


def _detrend(v: np.ndarray) -> np.ndarray:
    t = np.arange(len(v))
    return v - np.polyval(np.polyfit(t, v, 1), t)


def test_market_indicators_lead_demand(tiny):
    """Detrended monthly order counts correlate best with SOX / DRAM spot a few months earlier."""
    out, _ = tiny
    orders = typed(out, "daily_order").with_columns(m=pl.col("order_date").dt.truncate("1mo"))
    demand = orders.group_by("m").agg(pl.len().alias("n")).sort("m")[1:-1]  # drop partial months
    market = pl.read_csv(out / "external" / "market_prices.csv", try_parse_dates=True)
    for sid in ("SOX", "DRAM_SPOT"):
        s = (market.filter(pl.col("series_id") == sid).with_columns(m=pl.col("observation_date").dt.truncate("1mo"))
             .group_by("m").agg(pl.col("value").mean()).sort("m"))
        months = s["m"].to_list()
        x = np.log(s["value"].to_numpy())
        y = _detrend(np.log(demand["n"].to_numpy()))
        corr = {}
        for lead in range(0, 7):
            xs = _detrend(np.array([x[months.index(m) - lead] for m in demand["m"].to_list()]))
            corr[lead] = float(np.corrcoef(y, xs)[0, 1])
        best = max(corr, key=corr.get)
        assert 1 <= best <= 5 and corr[best] > corr[0] + 0.05, (sid, corr)


def test_pareto_customers(tiny):
    out, _ = tiny
    orders = typed(out, "daily_order")
    value = orders.group_by("customer_id").agg((pl.col("order_qty") * pl.col("unit_price")).sum().alias("v"))
    v = np.sort(value["v"].to_numpy())[::-1]
    top = v[: max(1, round(0.2 * len(v)))].sum() / v.sum()
    assert 0.45 < top < 0.97

"""Purchase lead-time statistics per (material, supplier) as known on a given day.

Only what was knowable on ``as_of`` counts: lines ordered after it are ignored, and a line
received after it is treated as still open, so re-running a past week reproduces that week's
figures.

Definitions (all in calendar days):
* ``lead days = received_date - order_date``; ``late days = received_date - promised_date``.
* Quantiles use linear interpolation between order statistics (Hyndman-Fan type 7, numpy's and
  Polars' ``linear`` default): for sorted x_1..x_n, q(p) = x_{1+h'} interpolated at h = (n-1)p.
* ``std_days`` is the sample standard deviation (ddof=1), null with fewer than two receipts.
* ``on_time_rate`` = share of received lines with late days <= 0.
* ``mean_late_days`` averages late days over late lines only (null when none was late);
  ``max_late_days`` is 0 when none was late, so it can be used directly as a buffer.
* ``mean_unit_cost`` is the order-quantity-weighted cost of every line ordered up to ``as_of``
  (open ones included: an agreed price is known before delivery).
* Open lines (no receipt by ``as_of``) are excluded from lead-time figures and summed as
  ``open_qty`` (order_qty minus any quantity already recorded as received), counted in ``n_open``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

LEAD_TIME_COLUMNS = [
    "product_id",
    "supplier_id",
    "n_receipts",
    "mean_days",
    "p50_days",
    "p90_days",
    "std_days",
    "on_time_rate",
    "n_late",
    "mean_late_days",
    "max_late_days",
    "mean_unit_cost",
    "last_order_date",
    "n_open",
    "open_qty",
]


def lead_time_stats(purchase_orders: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """One row per (product_id, supplier_id) with any line ordered on or before ``as_of``.

    Input: ``purchase_order`` columns ``product_id, supplier_id, order_date, order_qty, unit_cost,
    promised_date, received_date, received_qty`` (received_* may be null). Output:
    ``LEAD_TIME_COLUMNS``; pairs with only open lines have ``n_receipts = 0`` and null lead stats.
    """
    lines = purchase_orders.lazy().select(
        pl.col("product_id").cast(pl.String),
        pl.col("supplier_id").cast(pl.String),
        pl.col("order_date").cast(pl.Date),
        pl.col("order_qty").cast(pl.Float64),
        pl.col("unit_cost").cast(pl.Float64),
        pl.col("promised_date").cast(pl.Date),
        pl.col("received_date").cast(pl.Date),
        pl.col("received_qty").cast(pl.Float64),
    ).filter(pl.col("order_date") <= as_of)
    received = pl.col("received_date").is_not_null() & (pl.col("received_date") <= as_of)
    lines = lines.with_columns(
        received.alias("is_received"),
        (pl.col("received_date") - pl.col("order_date")).dt.total_days().cast(pl.Float64).alias("lead"),
        (pl.col("received_date") - pl.col("promised_date")).dt.total_days().cast(pl.Float64).alias("late"),
    )
    # A receipt after as_of was unknown then: the line was open with nothing received yet.
    open_remaining = pl.when(pl.col("received_date").is_null()).then(
        (pl.col("order_qty") - pl.col("received_qty").fill_null(0.0)).clip(lower_bound=0.0)
    ).otherwise(pl.col("order_qty"))
    lead = pl.col("lead").filter(pl.col("is_received"))
    late = pl.col("late").filter(pl.col("is_received"))
    late_only = pl.col("late").filter(pl.col("is_received") & (pl.col("late") > 0))
    out = (
        lines.group_by("product_id", "supplier_id")
        .agg(
            pl.col("is_received").sum().cast(pl.Int64).alias("n_receipts"),
            lead.mean().alias("mean_days"),
            lead.quantile(0.5, interpolation="linear").alias("p50_days"),
            lead.quantile(0.9, interpolation="linear").alias("p90_days"),
            lead.std(ddof=1).alias("std_days"),
            (late <= 0).mean().alias("on_time_rate"),
            (late > 0).sum().cast(pl.Int64).alias("n_late"),
            late_only.mean().alias("mean_late_days"),
            late.clip(lower_bound=0.0).max().fill_null(0.0).alias("max_late_days"),
            ((pl.col("unit_cost") * pl.col("order_qty")).sum() / pl.col("order_qty").sum()).alias(
                "mean_unit_cost"
            ),
            pl.col("order_date").max().alias("last_order_date"),
            (~pl.col("is_received")).sum().cast(pl.Int64).alias("n_open"),
            open_remaining.filter(~pl.col("is_received")).sum().alias("open_qty"),
        )
        .with_columns(
            pl.when(pl.col("n_receipts") > 0).then(pl.col("max_late_days")).otherwise(None),
        )
        .select(LEAD_TIME_COLUMNS)
        .sort("product_id", "supplier_id")
        .collect()
    )
    return out

"""Per-customer features as of the end of a month, from order lines alone (nothing after that day).

Window: the 12 months ending with the as-of month. Features:
``recency_days`` (as-of day minus the last order day, any time before), ``frequency`` (distinct order
days), ``monetary_krw``, ``volatility`` (coefficient of variation of the 12 monthly amounts, zero months
included), ``breadth`` (distinct products), ``growth`` ((last 6 months - previous 6) / their sum, in
[-1, 1]) and ``top_product_share`` (largest product's share of the amount). A customer is in the
population of a month if it ordered anything in that month's window.

The customer's own rhythm (``RHYTHM_FEATURES``, used by the churn model, not by the segments): recency
alone treats a customer who orders every two months and last ordered six weeks ago like a weekly one
silent for six weeks. ``order_rate`` is order days per 30 days over the part of the window the customer
was active in (from its first order ever, so a new customer is not diluted by months before it existed);
``silence_orders`` = recency x rate, the order days the customer would usually have placed during the
current silence (e^-silence_orders is how likely that silence is for a steady customer);
``frequency_trend`` = order days in the last 3 months / what the window's rate gives for 3 months (< 1:
ordering less often lately).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from dsop_assets.ordered_sums import ordered_sum

WINDOW_MONTHS = 12
FEATURES = ["recency_days", "frequency", "monetary_krw", "volatility", "breadth", "growth", "top_product_share"]
RHYTHM_FEATURES = ["order_rate", "silence_orders", "frequency_trend"]
RATE_DAYS = 30
TREND_MONTHS = 3


def month_end(month: date) -> date:
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _volatility(amount: pl.Expr) -> pl.Expr:
    """Population standard deviation over mean (0 for a constant or all-zero series), from ordered sums."""
    mean = ordered_sum(amount) / pl.len()
    return ((ordered_sum((amount - mean) ** 2) / pl.len()).sqrt() / mean).fill_nan(0.0)


def monthly_lines(orders: pl.DataFrame) -> pl.DataFrame:
    """``customer_id, product_id, month_start, amount, order_days, last_order_date`` per pair and month.

    Every float sum here and in ``customer_features`` is an ``ordered_sum``: a grouped sum's last bit
    otherwise follows how the rows were split among threads, and two runs of the same month gave
    customer amounts that differed in it."""
    return (
        orders.with_columns(pl.col("order_date").cast(pl.Date).dt.truncate("1mo").alias("month_start"))
        .group_by("customer_id", "product_id", "month_start")
        .agg(ordered_sum(pl.col("order_amount_krw")).alias("amount"), ordered_sum(pl.col("order_qty")).alias("qty"),
             pl.col("order_date").max().alias("last_order_date"))
        .sort("customer_id", "product_id", "month_start")
    )


def customer_features(orders: pl.DataFrame, months: list[date]) -> pl.DataFrame:
    """One row per (as-of month, active customer): ``month_start, customer_id`` + ``FEATURES``.

    ``orders`` needs ``order_date, customer_id, product_id, order_qty, order_amount_krw``.
    """
    lines = monthly_lines(orders)
    order_days = orders.select("customer_id", pl.col("order_date").cast(pl.Date)).unique()
    frames = []
    for month in months:
        first, end = add_months(month, 1 - WINDOW_MONTHS), month_end(month)
        window = lines.filter(pl.col("month_start").is_between(first, month))
        if window.is_empty():
            continue
        index = ((pl.col("month_start").dt.year() - first.year) * 12
                 + pl.col("month_start").dt.month() - first.month).alias("m")
        per_month = window.group_by("customer_id", index).agg(ordered_sum(pl.col("amount")))
        grid = per_month.select("customer_id").unique().join(
            pl.DataFrame({"m": list(range(WINDOW_MONTHS))}, schema={"m": pl.Int32}), how="cross")
        monthly = grid.join(per_month.with_columns(pl.col("m").cast(pl.Int32)), on=["customer_id", "m"], how="left") \
            .with_columns(pl.col("amount").fill_null(0.0))
        shape = monthly.group_by("customer_id").agg(
            _volatility(pl.col("amount")).alias("volatility"),
            ordered_sum(pl.col("amount").filter(pl.col("m") >= 6)).alias("_late"),
            ordered_sum(pl.col("amount").filter(pl.col("m") < 6)).alias("_early"),
        )
        products = window.group_by("customer_id", "product_id").agg(ordered_sum(pl.col("amount")))
        mix = products.group_by("customer_id").agg(
            ordered_sum(pl.col("amount")).alias("monetary_krw"), pl.len().alias("breadth"),
            (pl.col("amount").max() / ordered_sum(pl.col("amount"))).fill_nan(1.0).alias("top_product_share"))
        days = order_days.filter(pl.col("order_date").is_between(first, end))
        recent_from = add_months(month, 1 - TREND_MONTHS)
        freq = days.group_by("customer_id").agg(
            pl.len().alias("frequency"), (pl.col("order_date") >= recent_from).sum().alias("_recent"))
        last = order_days.filter(pl.col("order_date") <= end).group_by("customer_id").agg(
            (pl.lit(end) - pl.col("order_date").max()).dt.total_days().alias("recency_days"),
            # days the customer was active in the window: from its first order ever, or the window's start
            ((pl.lit(end) - pl.max_horizontal(pl.col("order_date").min(), pl.lit(first))).dt.total_days() + 1)
            .alias("_active_days"))
        recent_days = (end - recent_from).days + 1
        frames.append(
            mix.join(shape, on="customer_id").join(freq, on="customer_id", how="left").join(last, on="customer_id")
            .with_columns(
                pl.lit(month).alias("month_start"),
                ((pl.col("_late") - pl.col("_early")) / (pl.col("_late") + pl.col("_early"))).fill_nan(0.0)
                .alias("growth"),
                pl.col("frequency").fill_null(0),
                # at least a month, so a customer seen for a week is not given a rate of 4 orders a month
                (pl.col("frequency").fill_null(0) * RATE_DAYS / pl.col("_active_days").clip(RATE_DAYS, None))
                .alias("order_rate"),
            )
            .with_columns(
                (pl.col("recency_days") * pl.col("order_rate") / RATE_DAYS).alias("silence_orders"),
                (pl.col("_recent").fill_null(0)
                 / (pl.col("order_rate") / RATE_DAYS * pl.min_horizontal(pl.lit(recent_days), pl.col("_active_days"))))
                .fill_nan(0.0).alias("frequency_trend"),
            )
            .select("month_start", "customer_id", *[pl.col(f).cast(pl.Float64) for f in FEATURES + RHYTHM_FEATURES])
        )
    if not frames:
        return pl.DataFrame(schema={"month_start": pl.Date, "customer_id": pl.String,
                                    **{f: pl.Float64 for f in FEATURES + RHYTHM_FEATURES}})
    return pl.concat(frames).sort("month_start", "customer_id")


def model_matrix(features: pl.DataFrame):
    """Features as a numpy matrix with heavy tails compressed (log), ready for scaling."""
    import numpy as np

    logged = features.select(
        pl.col("recency_days").log1p(), pl.col("frequency").log1p(), pl.col("monetary_krw").log1p(),
        pl.col("volatility"), pl.col("breadth").log1p(), pl.col("growth"), pl.col("top_product_share"))
    return np.nan_to_num(logged.to_numpy().astype(float))

"""Churn backtest on a generated history, outside Dagster: the model against recency alone.

``python -m dsop_jobs.tools.churn_bench ERP_DIR [MONTH]`` (a ``dsop generate`` folder; MONTH as
YYYY-MM-01, default the last complete month). Amounts of USD lines are converted at a fixed 1,330 KRW:
only the monetary feature's scale depends on it, never the labels or recency.
"""

from __future__ import annotations

import sys
import time
from datetime import date

import polars as pl
from threadpoolctl import threadpool_limits

from dsop_assets.customer import churn
from dsop_assets.customer.features import add_months, customer_features, month_end

USD_KRW = 1330.0


def main(erp_dir: str, month: str | None = None) -> None:
    lines = pl.read_csv(f"{erp_dir}/daily_order.csv", schema_overrides={"customer_id": pl.String,
                                                                       "product_id": pl.String})
    orders = lines.select(
        pl.col("order_date").str.to_date(), "customer_id", "product_id", "order_qty",
        (pl.col("order_qty") * pl.col("unit_price")
         * pl.when(pl.col("currency") == "USD").then(USD_KRW).otherwise(1.0)).alias("order_amount_krw"))
    last = orders["order_date"].max()
    as_of = date.fromisoformat(month) if month else add_months(last.replace(day=1), -1 if last != month_end(last) else 0)
    start = orders["order_date"].min().replace(day=1)
    span = [m for m in (add_months(start, 11 + i) for i in range(120)) if m <= as_of]
    began = time.perf_counter()
    with threadpool_limits(1):
        feats = customer_features(orders, span)
        seen = orders.filter(pl.col("order_date") <= month_end(as_of))
        _, summary = churn.backtest(churn.label_churn(feats.filter(pl.col("month_start") <= as_of), seen, as_of), as_of)
    print(f"{erp_dir} as of {as_of} ({time.perf_counter() - began:.1f} s): {summary}")


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Recommendation backtest on a generated history, outside Dagster: each method against popularity.

``python -m dsop_jobs.tools.recommend_bench ERP_DIR [MONTH]`` (a ``dsop generate`` folder; MONTH as
YYYY-MM-01, default the last complete month). Runs ``recommend.evaluate_pooled``, the pooled 12-month
evaluation ``product_recommendation`` reports, on the export's order lines: for each method hit-rate@10 and
recall@10 with the counts behind them (customers with a hit / customers with a hidden new product; hidden
products found / hidden), the method the asset would serve (``recommend.choose_method``) and the
evaluation's seconds (one thread).
"""

from __future__ import annotations

import sys
import time
from datetime import date

import polars as pl
from threadpoolctl import threadpool_limits

from dsop_assets.customer import recommend
from dsop_assets.customer.features import add_months, month_end


def load_orders(erp_dir: str) -> pl.DataFrame:
    lines = pl.read_csv(f"{erp_dir}/daily_order.csv", schema_overrides={"customer_id": pl.String,
                                                                       "product_id": pl.String})
    return lines.select(pl.col("order_date").str.to_date(), "customer_id", "product_id")


def bench(erp_dir: str, month: str | None = None) -> dict:
    orders = load_orders(erp_dir)
    last = orders["order_date"].max()
    as_of = date.fromisoformat(month) if month else add_months(last.replace(day=1), -1 if last != month_end(last) else 0)
    began = time.perf_counter()
    with threadpool_limits(1):
        result = recommend.evaluate_pooled(orders.filter(pl.col("order_date") <= month_end(as_of)), as_of)
    return {"as_of": as_of, "seconds": round(time.perf_counter() - began, 1), **result}


def format_line(erp_dir: str, result: dict) -> str:
    customers, hidden = result["customers_evaluated"], result["hidden_products"]
    parts = [f"{erp_dir} as of {result['as_of']} ({result['seconds']:.1f} s): {customers} customers with "
             f"{hidden} hidden new products over {result['months']} months"]
    for name in recommend.METHODS:
        if f"hit_rate_at_10_{name}" in result:
            parts.append(f"{name} hit-rate@10 {result[f'hit_rate_at_10_{name}']:.4f} "
                         f"({result[f'customers_hit_{name}']}/{customers}) recall@10 "
                         f"{result[f'recall_at_10_{name}']:.4f} ({result[f'found_{name}']}/{hidden})")
    parts.append(f"served {recommend.choose_method(result)}")
    return "; ".join(parts)


def main(erp_dir: str, month: str | None = None) -> None:
    print(format_line(erp_dir, bench(erp_dir, month)))


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Precision / recall per kind of the order-series detectors over a whole generated history, outside Dagster.

``python -m dsop_jobs.tools.anomaly_bench ERP_DIR`` (a ``dsop generate`` output folder): scores every week from
26 weeks after the first order to the last, in one pass, for the shipped alerts (spikes: rule + Isolation
Forest; drops: the rule; level shifts: the change-point test), the rule alone and the forest alone. No forecasts are read (the forecast residual feature is 0), so the figures are
those of a warehouse before its first forecast run. Stock counts: the reconciliation rule on the export's
counts and flows, the same function ``demand_anomaly`` runs.

``python -m dsop_jobs.tools.anomaly_bench ERP_DIR WEEK`` (WEEK a Monday, YYYY-MM-DD) instead times one weekly
partition's order alerts as the asset computes them (orders from its lookback on), wall and CPU seconds.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta

import polars as pl
from threadpoolctl import threadpool_limits

from dsop_assets.anomaly import evaluate
from dsop_assets.anomaly.assets import LOOKBACK_WEEKS, order_alerts_from, stock_alerts_from

WARM_UP_WEEKS = 26


def one_week(erp_dir: str, week: str) -> None:
    start = date.fromisoformat(week)
    end = start + timedelta(days=7)
    orders, _, eol, groups = _orders_and_master(erp_dir)
    orders = orders.filter(pl.col("order_date").is_between(start - timedelta(days=7 * LOOKBACK_WEEKS), end,
                                                           closed="left"))
    wall, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(1):
        alerts, _ = order_alerts_from(orders, _no_forecast(), start, end, eol, groups)
    print(f"week {start}: {alerts.height} order alerts, {time.perf_counter() - wall:.1f} s wall, "
          f"{time.process_time() - cpu:.1f} s CPU")


def _no_forecast() -> pl.DataFrame:
    return pl.DataFrame(schema={"product_id": pl.String, "week_start": pl.Date, "_p50": pl.Float64,
                                "_band": pl.Float64})


def _orders_and_master(erp_dir: str) -> tuple[pl.DataFrame, ...]:
    orders = pl.read_csv(f"{erp_dir}/daily_order.csv", schema_overrides={"customer_id": pl.String,
                                                                         "product_id": pl.String}).select(
        pl.col("order_date").str.to_date(), "customer_id", "product_id", pl.col("order_qty").cast(pl.Float64))
    master = pl.read_csv(f"{erp_dir}/product_master.csv", schema_overrides={"eol_date": pl.String,
                                                                          "product_id": pl.String})
    return (orders, master, master.select("product_id", pl.col("eol_date").str.to_date()),
            master.select("product_id", "product_group"))


def main(erp_dir: str) -> None:
    orders, _, eol, groups = _orders_and_master(erp_dir)
    truth = evaluate.read_planted(erp_dir)
    first, last = orders["order_date"].min(), orders["order_date"].max()
    first, last = first - timedelta(days=first.weekday()), last - timedelta(days=last.weekday())
    start, end = first + timedelta(days=7 * WARM_UP_WEEKS), last + timedelta(days=7)
    began = time.perf_counter()
    with threadpool_limits(1):
        alerts, scored = order_alerts_from(orders, _no_forecast(), start, end, eol, groups)
    print(f"weeks {start} .. {end - timedelta(days=7)}: {time.perf_counter() - began:.1f} s")
    stock = stock_alerts_from(*_stock_frames(erp_dir), start, end)
    v = evaluate.score(stock, truth, start, end - timedelta(days=1))["stock_mismatch"]
    print(f"{'reconciliation rule':22s} {'stock_count':12s} alerts {v['alerts']:5d} planted {v['planted']:3d} "
          f"precision {v['precision']} recall {v['recall']}")
    # shipped: spikes where rule and forest agree, drops on the rule, level shifts on the change-point test
    methods = {"shipped": alerts,
               "rule": scored.filter(pl.col("rule_kind").is_not_null()).rename({"rule_kind": "kind"}),
               "isolation_forest": scored.filter(pl.col("if_kind").is_not_null()).rename({"if_kind": "kind"})}
    for method, found in methods.items():
        result = evaluate.score(found, truth, start, end - timedelta(days=1))
        for kind in ("spike", "drop", "level_shift"):
            v = result[kind]
            print(f"{method[:22]:22s} {kind:12s} alerts {v['alerts']:5d} planted {v['planted']:3d} "
                  f"precision {v['precision']} recall {v['recall']}")


def _stock_frames(erp_dir: str) -> tuple[pl.DataFrame, ...]:
    def read(name: str, dates: list[str], cols: list[str]) -> pl.DataFrame:
        frame = pl.read_csv(f"{erp_dir}/{name}.csv", schema_overrides={"product_id": pl.String})
        return frame.select(*[pl.col(c).str.to_date() if c in dates else pl.col(c) for c in cols])

    return (read("inventory", ["snapshot_date"], ["snapshot_date", "product_id", "on_hand_qty"]),
            read("daily_production", ["production_date"], ["production_date", "product_id", "produced_qty"]),
            read("purchase_order", ["received_date"], ["product_id", "received_date", "received_qty"]),
            read("daily_revenue", ["revenue_date"], ["revenue_date", "product_id", "shipped_qty"]),
            pl.read_csv(f"{erp_dir}/bom.csv", schema_overrides={"parent_product_id": pl.String,
                                                              "component_product_id": pl.String})
            .select("parent_product_id", "component_product_id", "qty_per", "scrap_rate"))


if __name__ == "__main__":
    if len(sys.argv) > 2:
        one_week(sys.argv[1], sys.argv[2])
    else:
        main(sys.argv[1])

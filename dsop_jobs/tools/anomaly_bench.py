"""Precision / recall per kind of the order-series detectors over a whole generated history, outside Dagster.

``python -m dsop_jobs.tools.anomaly_bench ERP_DIR`` (a ``dsop generate`` output folder): scores every week from
26 weeks after the first order to the last, in one pass, for the shipped alerts (spikes: rule + Isolation
Forest; drops: the rule; level shifts: the change-point test), the rule alone and the forest alone. No forecasts are read (the forecast residual feature is 0), so the figures are
those of a warehouse before its first forecast run. Stock counts: the reconciliation rule on the export's
counts and flows, the same function ``demand_anomaly`` runs.
A spike alert that a later level-shift alert reclassifies as the shift's first week (``reclassify``) is left
out of the shipped spike line and counted on it as "superseded".

``python -m dsop_jobs.tools.anomaly_bench ERP_DIR WEEK`` (WEEK a Monday, YYYY-MM-DD) instead times one weekly
partition's order alerts as the asset computes them (orders from its lookback on), wall and CPU seconds.

``python -m dsop_jobs.tools.anomaly_bench ERP_DIR shifts`` scores the level-shift test alone over the whole history
(the shipped alerts' level-shift line, ~10 s instead of minutes: nothing else feeds it), with each alert's onset
error against the nearest planted onset of its product.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta

import polars as pl
from threadpoolctl import threadpool_limits

from dsop_assets.anomaly import evaluate, shift
from dsop_assets.anomaly.assets import ORDER_LOOKBACK_WEEKS, order_alerts_from, stock_alerts_from
from dsop_assets.anomaly.features import weekly_grid

WARM_UP_WEEKS = 26


def one_week(erp_dir: str, week: str) -> None:
    start = date.fromisoformat(week)
    end = start + timedelta(days=7)
    orders, _, eol, groups = _orders_and_master(erp_dir)
    orders = orders.filter(pl.col("order_date").is_between(start - timedelta(days=7 * ORDER_LOOKBACK_WEEKS), end,
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


def _scored_weeks(orders: pl.DataFrame) -> tuple:
    """Mondays of the export's first and last weeks, and the scored window [start, end) after the warm-up."""
    first, last = orders["order_date"].min(), orders["order_date"].max()
    first, last = first - timedelta(days=first.weekday()), last - timedelta(days=last.weekday())
    return first, last, first + timedelta(days=7 * WARM_UP_WEEKS), last + timedelta(days=7)


def main(erp_dir: str) -> None:
    orders, _, eol, groups = _orders_and_master(erp_dir)
    truth = evaluate.read_planted(erp_dir)
    _, _, start, end = _scored_weeks(orders)
    began = time.perf_counter()
    with threadpool_limits(1):
        alerts, scored = order_alerts_from(orders, _no_forecast(), start, end, eol, groups)
    print(f"weeks {start} .. {end - timedelta(days=7)}: {time.perf_counter() - began:.1f} s")
    stock = stock_alerts_from(*_stock_frames(erp_dir), start, end)
    v = evaluate.score(stock, truth, start, end - timedelta(days=1))["stock_mismatch"]
    print(f"{'reconciliation rule':22s} {'stock_count':12s} alerts {v['alerts']:5d} planted {v['planted']:3d} "
          f"precision {v['precision']} recall {v['recall']}")
    # shipped: spikes where rule and forest agree, drops on the rule, level shifts on the change-point test
    # only the shipped alerts carry the level shifts' reclassifications (their spikes leave the spike line)
    methods = {"shipped": alerts,
               "rule": scored.filter(pl.col("rule_kind").is_not_null()).rename({"rule_kind": "kind"}),
               "isolation_forest": scored.filter(pl.col("if_kind").is_not_null()).rename({"if_kind": "kind"})}
    for method, found in methods.items():
        result = evaluate.score(found, truth, start, end - timedelta(days=1))
        for kind in ("spike", "drop", "level_shift"):
            v = result[kind]
            print(f"{method[:22]:22s} {kind:12s} alerts {v['alerts']:5d} planted {v['planted']:3d} "
                  f"precision {v['precision']} recall {v['recall']}"
                  + (f" (superseded {v['superseded']})" if v.get("superseded") else ""))


def shifts_only(erp_dir: str) -> None:
    orders, _, _, groups = _orders_and_master(erp_dir)
    truth = evaluate.read_planted(erp_dir)
    first, last, start, end = _scored_weeks(orders)
    cpu = time.process_time()
    with threadpool_limits(1):
        found = shift.level_shifts(weekly_grid(orders, ["customer_id", "product_id"], first, last), groups, orders)
    found = found.filter(pl.col("week_start") >= start).with_columns(
        pl.lit("level_shift").alias("kind"), pl.lit(None, pl.String).alias("customer_id"))
    v = evaluate.score(found, truth, start, end - timedelta(days=1))["level_shift"]
    planted = truth.filter(pl.col("kind") == "level_shift").select("product_id", pl.col("week_start").alias("true"))
    off = (found.filter(pl.col("event_week").is_between(start, end - timedelta(days=1))).join(planted, on="product_id")
           .with_columns(((pl.col("event_week") - pl.col("true")).dt.total_days() // 7).alias("off"))
           .group_by("product_id", "event_week").agg(pl.col("off").sort_by(pl.col("off").abs()).first()))
    print(f"change-point test  level_shift  alerts {v['alerts']:5d} planted {v['planted']:3d} precision "
          f"{v['precision']} recall {v['recall']}; onsets exact {(off['off'] == 0).sum()}, 1-3 weeks off "
          f"{off['off'].abs().is_between(1, 3).sum()}, 4-12 off {off['off'].abs().is_between(4, 12).sum()} "
          f"({time.process_time() - cpu:.1f} s CPU)")


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
    if len(sys.argv) > 2 and sys.argv[2] == "shifts":
        shifts_only(sys.argv[1])
    elif len(sys.argv) > 2:
        one_week(sys.argv[1], sys.argv[2])
    else:
        main(sys.argv[1])

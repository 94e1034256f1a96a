"""External-indicator ablation over a bench warehouse: served dsop SPL with feature groups dropped.

``python -m dsop_jobs.tools.forecast_ablation W/bench.duckdb monthly "all;none;sox;dram"`` reruns the
product-level backtest (``forecast_many`` on the same origins as the stored peers: 26 weeks / 12 months)
once per variant - ``all`` (every feature), ``none`` (no ``ext_*`` column), or comma-separated
``EXTERNAL_SERIES`` prefixes to drop - and prints SPL, its ratio to AutoTheta, the P50 bias and the
shares of actuals below P10 / above P90 per headline horizon. Product series are modelled per level, so
the product rows equal the full run's (the bench's ``forecast_accuracy`` figures are reproduced exactly
by ``all``). Out of sample: each origin sees only its own past, as in the backtest. Read the warehouse
after the bench has finished.
"""

from __future__ import annotations

import sys
import time

import polars as pl

from dsop_assets.forecast.accuracy import HEADLINE, scored_through
from dsop_assets.forecast.config import monthly_config, weekly_config
from dsop_assets.forecast.evaluation import demand_history
from dsop_assets.forecast.features import build_targets, in_row_order
from dsop_assets.forecast.forecasting import forecast_many
from dsop_assets.forecast.metrics import score_forecasts

ORIGINS = {"weekly": 26, "monthly": 12}
COLUMNS = ["model_id", "cadence", "level", "product_id", "customer_id", "origin_date", "target_start", "horizon",
           "p10", "p50", "p90"]


def dropped(columns: list[str], variant: str) -> list[str]:
    if variant == "all":
        return []
    if variant == "none":
        return [c for c in columns if c.startswith("ext_")]
    prefixes = variant.split(",")
    return [c for c in columns if any(c == f"ext_{p}" or c.startswith(f"ext_{p}_") for p in prefixes)]


def main(argv: list[str] | None = None) -> int:
    import duckdb

    db, cadence, variants = (argv or sys.argv[1:])[:3]
    con = duckdb.connect(db, read_only=True)
    orders = con.execute("select order_date, customer_id, product_id, order_qty from daily_order").pl()
    peer = con.execute("select * from forecast_baseline where level = 'product' and cadence = $c "
                       "and model_id = 'auto_theta'", {"c": cadence}).pl()
    features = in_row_order(con.execute(f"select * from feature_store_{cadence} where level = 'product'").pl())
    config = weekly_config() if cadence == "weekly" else monthly_config()
    dates = sorted(peer["origin_date"].unique().to_list())[-ORIGINS[cadence]:]
    origins = sorted(features.filter(pl.col("origin_date").is_in(dates))["origin_period"].unique().to_list())
    targets = build_targets(orders, cadence, up_to=orders["order_date"].max())
    horizons = list(HEADLINE[cadence])
    for variant in variants.split(";"):
        drop = dropped(features.columns, variant)
        began = time.perf_counter()
        result, _ = forecast_many(features.drop(drop), targets, origins, config)
        result = result.filter(pl.col("level") == "product")
        through = scored_through(orders, result)
        history = demand_history(orders, cadence, up_to=through).with_columns(cadence=pl.lit(cadence))
        rows = pl.concat([result.with_columns(model_id=pl.lit("dsop")).select(COLUMNS), peer.select(COLUMNS)],
                         how="vertical_relaxed").filter(pl.col("horizon").is_in(horizons))
        scores = score_forecasts(rows, history, history, ("model_id", "horizon"), through=through).sort("horizon")
        dsop, theta = scores.filter(pl.col("model_id") == "dsop"), scores.filter(pl.col("model_id") == "auto_theta")
        print(f"{cadence} drop={variant} ({len(drop)} columns, {time.perf_counter() - began:.0f} s): SPL "
              + " ".join(f"h{h} {s:.4f}" for h, s in zip(dsop["horizon"], dsop["spl_mean"]))
              + " | ratio to AutoTheta " + " ".join(f"{a / b:.3f}" for a, b in zip(dsop["spl_mean"], theta["spl_mean"]))
              + " | P50 bias " + " ".join(f"{b * 100:+.1f}%" for b in dsop["bias"])
              + " | below / above " + " ".join(f"{lo * 100:.1f}/{hi * 100:.1f}%"
                                               for lo, hi in zip(dsop["below_p10"], dsop["above_p90"])), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

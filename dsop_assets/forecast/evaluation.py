"""Baselines, peers and the oracle on the same origins as dsop's forecast, and the scorecard.

``forecast_baseline_{weekly,monthly}`` forecast, per origin, what a planner would otherwise use
(naive, seasonal naive, moving average, Croston-SBA, TSB; statsforecast's AutoETS and
CrostonOptimized when installed; the generator's oracle when its ground truth is present).
They cover the headline horizons only: that is where the targets are judged, and it keeps the
backtest a few minutes. ``forecast_accuracy`` scores every stored forecast against what happened.
"""

import os
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_assets.forecast.baselines import run_baselines
from dsop_assets.forecast.config import monthly_config, weekly_config
from dsop_assets.forecast.features import build_targets
from dsop_assets.forecast.peers import is_available, oracle_forecasts, run_peers
from dsop_assets.lineage import history_until_partition
from dsop_assets.partitions import (
    forecast_monthly_partitions,
    forecast_weekly_partitions,
    months_in,
    weeks_in,
    window_dates,
)
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window
from dsop_resources.erp_files import ErpExportFolder

SYSTEM_MODEL = "dsop_lgbm"  # forecast_result as served: LightGBM plus its fallback rows
_CADENCES = {
    "weekly": (forecast_weekly_partitions, weeks_in, weekly_config, "week_start", 4),
    "monthly": (forecast_monthly_partitions, months_in, monthly_config, "month_start", 3),
}


def demand_history(orders: pl.DataFrame, cadence: str, up_to) -> pl.DataFrame:
    """Complete periods of demand per series, both levels, in the baselines' shape."""
    targets = build_targets(orders, cadence, up_to=up_to)
    return targets.select(
        "level", "product_id", "customer_id",
        pl.col("target_start").alias("period_start"), pl.col("actual_qty").alias("qty"),
    )


def read_truth(erp_dir: str, cadence: str) -> pl.DataFrame | None:
    name = "weekly_product_truth.csv" if cadence == "weekly" else "monthly_product_truth.csv"
    path = Path(erp_dir) / "ground_truth" / name
    if not path.exists():
        return None
    return pl.read_csv(path, try_parse_dates=True)


_SAID: set[str] = set()


def peers_status() -> str:
    """"included", or why the statsforecast peers are left out of the comparison."""
    if os.getenv("DSOP_FORECAST_PEERS", "1") == "0":
        return "turned off (DSOP_FORECAST_PEERS=0)"
    if not is_available():
        return "statsforecast is not installed (pip install 'dsop[peers]')"
    return "included"


def _baseline(cadence: str) -> dg.AssetsDefinition:
    partitions_def, periods_in, make_config, _, _ = _CADENCES[cadence]

    @dg.asset(
        name=f"forecast_baseline_{cadence}",
        group_name="forecast",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[history_until_partition("daily_order", partitions_def)],
        metadata={"partition_expr": "origin_date", "dsop/table": "forecast_baseline"},
        kinds={"polars"},
        pool=WAREHOUSE_POOL,
        description=f"What a planner would otherwise use, {cadence}, at the same origins and headline horizons: "
        "naive, seasonal naive, moving average, Croston-SBA, TSB, statsforecast peers, and the oracle.",
    )
    def _run(context: dg.AssetExecutionContext, warehouse: Warehouse, erp: ErpExportFolder) -> dg.MaterializeResult:
        start, end = window_dates(context)
        config = make_config()
        horizons = list(config.headline_horizons)
        origins = periods_in(start, end)
        orders = warehouse.query(
            "select order_date, customer_id, product_id, order_qty from daily_order where order_date < $end", {"end": end})
        up_to = end - timedelta(days=1)
        history = demand_history(orders, cadence, up_to=up_to)
        parts = [run_baselines(history, origins, horizons, cadence, up_to=up_to)]
        peers = peers_status()
        if peers == "included":
            product_history = history.filter(pl.col("level") == "product")
            parts.append(run_peers(product_history, origins, horizons, cadence, up_to=up_to))
        elif peers not in _SAID:  # once per process, not once per cadence and run
            _SAID.add(peers)
            context.log.warning(f"statsforecast peers skipped: {peers}")
        truth = read_truth(erp.erp_dir, cadence)
        if truth is not None:
            parts.append(oracle_forecasts(truth, origins, horizons, cadence))
        rows = pl.concat(parts, how="vertical_relaxed")
        written = warehouse.write("forecast_baseline", rows, window=Window("origin_date", start, end),
                                  keys={"cadence": [cadence]})
        return dg.MaterializeResult(metadata={
            "dagster/row_count": written,
            "models": sorted(rows["model_id"].unique().to_list()) if written else [],
            "statsforecast_peers": peers,
        })

    return _run


evaluation_baseline_assets = [_baseline("weekly"), _baseline("monthly")]

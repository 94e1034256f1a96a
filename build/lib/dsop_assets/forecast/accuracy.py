"""``forecast_accuracy``: every stored forecast against what then happened, with the targets checked.

dsop's served forecast (``forecast_result``: LightGBM plus fallback rows) is scored as one model,
``dsop_lgbm``, beside every baseline, peer and the oracle in ``forecast_baseline``. Only targets
whose period is complete in the data are scored.
"""

import os
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_assets.forecast.evaluation import SYSTEM_MODEL, demand_history
from dsop_assets.forecast.metrics import score_forecasts
from dsop_assets.forecast.report import markdown_summary, plot_bands
from dsop_resources import WAREHOUSE_POOL, Warehouse

HEADLINE = {"weekly": (1, 2, 4), "monthly": (1, 3, 6)}
SCORE_GROUPS = ("model_id", "cadence", "level", "horizon", "product_group")


def core_groups(orders: pl.DataFrame, products: pl.DataFrame, share: float = 0.8) -> list[str]:
    """Product groups that together make ``share`` of ordered volume, largest first."""
    volume = (orders.join(products.select("product_id", "product_group"), on="product_id")
              .group_by("product_group").agg(pl.col("order_qty").sum()).sort("order_qty", descending=True))
    cumulative = volume["order_qty"].cum_sum() / volume["order_qty"].sum()
    keep = cumulative.shift(1, fill_value=0.0) < share
    return volume.filter(keep)["product_group"].to_list()


def targets_report(scores: pl.DataFrame, core: pl.DataFrame) -> dict[str, object]:
    """The issue's targets, computed (never tuned) from the scores."""
    weekly = scores.filter((pl.col("cadence") == "weekly") & (pl.col("level") == "product") &
                           (pl.col("product_group") == "ALL") & pl.col("horizon").is_in(list(HEADLINE["weekly"])))
    report: dict[str, object] = {}
    for horizon in HEADLINE["weekly"]:
        at = weekly.filter(pl.col("horizon") == horizon)
        spl = dict(zip(at["model_id"], at["spl_mean"]))
        if SYSTEM_MODEL in spl and "moving_average" in spl:
            others = {m: v for m, v in spl.items() if m not in (SYSTEM_MODEL, "oracle")}
            report[f"weekly_h{horizon}_spl_ratio_to_ma"] = round(spl[SYSTEM_MODEL] / spl["moving_average"], 3)
            report[f"weekly_h{horizon}_beats_every_baseline"] = all(spl[SYSTEM_MODEL] < v for m, v in others.items() if m != SYSTEM_MODEL)
            if "oracle" in spl:
                report[f"weekly_h{horizon}_spl_vs_oracle"] = f"{spl[SYSTEM_MODEL]:.3f} vs {spl['oracle']:.3f}"
    system = scores.filter((pl.col("model_id") == SYSTEM_MODEL) & (pl.col("level") == "product") &
                           (pl.col("product_group") == "ALL"))
    for cadence, horizons in HEADLINE.items():
        for horizon in horizons:
            row = system.filter((pl.col("cadence") == cadence) & (pl.col("horizon") == horizon))
            if row.height:
                report[f"{cadence}_h{horizon}_coverage_p10_p90"] = round(float(row["coverage"][0]), 3)
    monthly_core = core.filter((pl.col("model_id") == SYSTEM_MODEL) & (pl.col("cadence") == "monthly") &
                               (pl.col("level") == "product") & (pl.col("horizon") == 1))
    if monthly_core.height:
        report["monthly_h1_mape_core_groups"] = round(float(monthly_core["mape"][0]), 3)
    return report


@dg.asset(
    group_name="evaluation",
    deps=["forecast_weekly", "forecast_monthly", "forecast_baseline_weekly", "forecast_baseline_monthly", "daily_order"],
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Forecast vs actual per model, cadence, level, horizon and product group: WAPE, MAPE (non-zero "
    "actuals), sMAPE, MASE, scaled pinball per quantile (M5 SPL-like), P10-P90 coverage and bias.",
)
def forecast_accuracy(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    orders = warehouse.query("select order_date, customer_id, product_id, order_qty from daily_order")
    products = warehouse.query("select product_id, product_group from product_master")
    last_day = orders["order_date"].max()
    served = warehouse.read_table("forecast_result")
    if served.is_empty():
        raise dg.Failure("forecast_result is empty: materialise forecast_weekly / forecast_monthly first")
    served = served.with_columns(model_id=pl.lit(SYSTEM_MODEL))
    baselines = warehouse.read_table("forecast_baseline")
    columns = ["model_id", "cadence", "level", "product_id", "customer_id", "origin_date", "target_start", "horizon",
               "p10", "p50", "p90"]
    forecasts = pl.concat([f.select(columns) for f in (served, baselines) if f.height], how="vertical_relaxed")
    histories = pl.concat([
        demand_history(orders, cadence, up_to=last_day).with_columns(cadence=pl.lit(cadence))
        for cadence in ("weekly", "monthly")
    ])
    complete = histories.group_by("cadence").agg(pl.col("period_start").max().alias("last_complete"))
    forecasts = forecasts.join(complete, on="cadence").filter(pl.col("target_start") <= pl.col("last_complete")).drop("last_complete")
    scores = score_forecasts(forecasts, histories, histories, SCORE_GROUPS, products)
    core = core_groups(orders, products)
    core_scores = score_forecasts(forecasts.join(products.filter(pl.col("product_group").is_in(core)), on="product_id"),
                                  histories, histories, SCORE_GROUPS[:4])
    warehouse.write("forecast_accuracy", scores.with_columns(scored_through=pl.lit(last_day)))
    report = targets_report(scores, core_scores)
    plot = _plot(served, histories, orders)
    headline = scores.filter((pl.col("product_group") == "ALL") & (pl.col("level") == "product") & (
        ((pl.col("cadence") == "weekly") & pl.col("horizon").is_in(list(HEADLINE["weekly"]))) |
        ((pl.col("cadence") == "monthly") & pl.col("horizon").is_in(list(HEADLINE["monthly"])))))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": scores.height,
        "targets": dg.MetadataValue.json(report),
        "core_product_groups": core,
        "headline_scores": dg.MetadataValue.md(markdown_summary(headline.sort("cadence", "horizon", "spl_mean"))),
        "bands_plot": dg.MetadataValue.path(str(plot)) if plot else "no product with forecasts",
        "scored_through": str(last_day),
    })


def _plot(served: pl.DataFrame, histories: pl.DataFrame, orders: pl.DataFrame) -> Path | None:
    products = served.filter(pl.col("level") == "product")
    if products.is_empty():
        return None
    top = (orders.group_by("product_id").agg(pl.col("order_qty").sum()).sort("order_qty", descending=True)
           .filter(pl.col("product_id").is_in(products["product_id"].unique().implode()))["product_id"].head(4).to_list())
    path = Path(os.getenv("DSOP_REPORT_DIR", "data/reports")) / "forecast_bands.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return plot_bands(products, histories, top, path)


evaluation_assets = [forecast_accuracy]

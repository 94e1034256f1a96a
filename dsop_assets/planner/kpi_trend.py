"""``kpi_trend``: the founding document's KPIs week by week, next to their targets.

* forecast accuracy: MAPE (weeks with orders) and WAPE (every week, zeros included) of the served
  1-week-ahead P50 on the core products (the groups making 80 % of volume), dense product × week grid;
* stock-out and excess risk: products per grade of that component (graded like the total);
  ``risk_c_or_worse`` counts products whose stock-out or excess component is actionable, and its
  change against the first week is the "risk −20 %" KPI;
* fill rate: dsop's policy in ``decision_replay`` (empty until that table exists);
* adoption: share of the week's actions acted upon (``action_kpi``);
* sync success: share of successful runs among those started in the week (``pipeline_health``).
"""

from __future__ import annotations

import polars as pl

from dsop_assets.risk.config import GRADES, RiskConfig
from dsop_assets.risk.scoring import grade_expr

TARGETS = {"mape_core_max": 0.15, "mape_core_min": 0.10, "adoption_min": 0.80, "risk_change_max": -0.20,
           "sync_success_min": 0.99}
RISKS = ("stockout", "excess")


def accuracy_by_week(forecast: pl.DataFrame, actual: pl.DataFrame, core_products: list[str]) -> pl.DataFrame:
    """forecast: product_id, week_start, p50 (1 week ahead); actual: product_id, week_start, order_qty."""
    if forecast.is_empty() or not core_products:
        return pl.DataFrame(schema={"week_start": pl.Date, "mape_core": pl.Float64, "wape_core": pl.Float64,
                                    "n_core_products": pl.Int64})
    weeks = forecast.select("week_start").unique()
    grid = weeks.join(pl.DataFrame({"product_id": core_products}), how="cross")
    scored = grid.join(forecast, on=["product_id", "week_start"], how="left").join(
        actual, on=["product_id", "week_start"], how="left").with_columns(
        pl.col("order_qty").fill_null(0.0), pl.col("p50").fill_null(0.0))
    error = (pl.col("p50") - pl.col("order_qty")).abs()
    return scored.group_by("week_start").agg(
        (error / pl.col("order_qty")).filter(pl.col("order_qty") > 0).mean().alias("mape_core"),
        (error.sum() / pl.col("order_qty").sum()).alias("wape_core"),
        pl.len().cast(pl.Int64).alias("n_core_products"),
    ).with_columns(pl.col("wape_core").fill_nan(None)).sort("week_start")


def risk_by_week(risk: pl.DataFrame, config: RiskConfig) -> pl.DataFrame:
    if risk.is_empty():
        return pl.DataFrame(schema={"week_start": pl.Date, "risk_c_or_worse": pl.Int64})
    graded = risk.with_columns(
        [grade_expr(pl.col(f"{r}_score").round(0).cast(pl.Int64), config).alias(f"{r}_grade") for r in RISKS])
    counts = [((pl.col(f"{r}_grade") == g).sum().cast(pl.Int64)).alias(f"{r}_{g}") for r in RISKS for g in GRADES]
    actionable = pl.any_horizontal([pl.col(f"{r}_grade").is_in(config.action_grades) for r in RISKS])
    return graded.group_by("week_start").agg(*counts, actionable.sum().cast(pl.Int64).alias("risk_c_or_worse")).sort(
        "week_start")


def sync_by_week(health: pl.DataFrame) -> pl.DataFrame:
    if health.is_empty():
        return pl.DataFrame(schema={"week_start": pl.Date, "sync_runs": pl.Int64, "sync_success": pl.Float64})
    return health.with_columns(pl.col("started_at").cast(pl.Date).dt.truncate("1w").alias("week_start")).group_by(
        "week_start").agg(pl.len().cast(pl.Int64).alias("sync_runs"),
                          (pl.col("status") == "SUCCESS").mean().alias("sync_success")).sort("week_start")


def kpi_trend(accuracy: pl.DataFrame, risk: pl.DataFrame, replay: pl.DataFrame, adoption: pl.DataFrame,
              sync: pl.DataFrame) -> pl.DataFrame:
    """One row per week any source has; target columns say met / not met (null: not measurable)."""
    parts = [accuracy, risk, replay.select("week_start", "fill_rate"), adoption.select("week_start", "adoption"), sync]
    weeks = pl.concat([p.select(pl.col("week_start").cast(pl.Date)) for p in parts]).unique().sort("week_start")
    trend = weeks
    for part in parts:
        trend = trend.join(part.with_columns(pl.col("week_start").cast(pl.Date)), on="week_start", how="left")
    baseline = trend.filter(pl.col("risk_c_or_worse").is_not_null())["risk_c_or_worse"].head(1)
    base = float(baseline[0]) if baseline.len() and baseline[0] else None
    change = (pl.col("risk_c_or_worse") / base - 1.0) if base else pl.lit(None, pl.Float64)
    return trend.with_columns(change.alias("risk_change_vs_first")).with_columns(
        (pl.col("mape_core") <= TARGETS["mape_core_max"]).alias("mape_target_met"),
        (pl.col("adoption") >= TARGETS["adoption_min"]).alias("adoption_target_met"),
        # 8/10 - 1 is -0.19999999999999996 in floating point: exactly -20 % must count as met.
        (pl.col("risk_change_vs_first").round(9) <= TARGETS["risk_change_max"]).alias("risk_target_met"),
        (pl.col("sync_success") >= TARGETS["sync_success_min"]).alias("sync_target_met"),
    )

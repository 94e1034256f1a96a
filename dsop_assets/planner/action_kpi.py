"""``action_kpi``: did planners act on the week's actions, how fast, and did acting help?

Actions of ISO week W are published when W's run finishes, on the Monday after W (the weekly
schedule's morning); time to act counts from then to the first update that is not 'open'.
Outcome: for the actions meant to prevent a stock-out, did the product's estimated stock reach
zero within ``OUTCOME_DAYS`` after publication? Acted and not-acted items are counted apart, so the
KPI shows whether acting made a difference. Items whose outcome window has no stock estimate yet
count as not observed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from dsop_assets.planner.action_status import current_status

OUTCOME_DAYS = 28
STOCKOUT_ACTIONS = ("expedite_production", "expedite_purchase", "raise_safety_stock", "alternative_supplier")
KPI_SCHEMA = {
    "week_start": pl.Date, "n_actions": pl.Int64, "n_acted": pl.Int64, "acted_share": pl.Float64,
    "n_done": pl.Int64, "n_dismissed": pl.Int64, "n_snoozed": pl.Int64, "n_in_progress": pl.Int64,
    "n_open": pl.Int64, "median_days_to_act": pl.Float64, "mean_days_to_act": pl.Float64,
    "stockout_actions": pl.Int64, "acted_observed": pl.Int64, "acted_stockouts": pl.Int64,
    "not_acted_observed": pl.Int64, "not_acted_stockouts": pl.Int64,
    "acted_stockout_rate": pl.Float64, "not_acted_stockout_rate": pl.Float64,
}  # fmt: skip


def published_at(week: date) -> datetime:
    return datetime.combine(week + timedelta(days=7), datetime.min.time())


def action_outcomes(actions: pl.DataFrame, updates: pl.DataFrame, stock: pl.DataFrame) -> pl.DataFrame:
    """One row per action: its current status, days to act, and (stock-out actions) the outcome.

    ``stock``: item_id, date, closing_qty (the daily estimate).
    """
    status = current_status(updates)
    rows = actions.select("action_id", "week_start", "product_id", "action_type", "priority").join(
        status, on="action_id", how="left").with_columns(pl.col("status").fill_null("open"))
    publish = pl.col("week_start").cast(pl.Datetime("us")) + pl.duration(days=7)
    rows = rows.with_columns(
        ((pl.col("first_acted_at") - publish).dt.total_seconds() / 86400).clip(lower_bound=0).alias("days_to_act"),
        pl.col("first_acted_at").is_not_null().alias("acted"),
    )
    window = rows.select("action_id", "product_id", "week_start").join(
        stock.select(pl.col("item_id").alias("product_id"), "date", "closing_qty"), on="product_id", how="inner"
    ).filter((pl.col("date") >= pl.col("week_start") + timedelta(days=7))
             & (pl.col("date") < pl.col("week_start") + timedelta(days=7 + OUTCOME_DAYS)))
    seen = window.group_by("action_id").agg(
        pl.len().alias("observed_days"), (pl.col("closing_qty") <= 0).any().alias("stockout_happened"))
    return rows.join(seen, on="action_id", how="left").with_columns(
        pl.col("action_type").is_in(STOCKOUT_ACTIONS).alias("prevents_stockout"),
        pl.col("observed_days").fill_null(0),
    )


def action_kpi(outcomes: pl.DataFrame) -> pl.DataFrame:
    if outcomes.is_empty():
        return pl.DataFrame(schema=KPI_SCHEMA)
    guarded = pl.col("prevents_stockout") & (pl.col("observed_days") > 0)

    def n(condition: pl.Expr) -> pl.Expr:
        return condition.sum().cast(pl.Int64)

    kpi = outcomes.group_by("week_start").agg(
        pl.len().cast(pl.Int64).alias("n_actions"),
        n(pl.col("acted")).alias("n_acted"),
        pl.col("acted").mean().alias("acted_share"),
        *[n(pl.col("status") == s).alias(f"n_{s}") for s in ("done", "dismissed", "snoozed", "in_progress", "open")],
        pl.col("days_to_act").median().alias("median_days_to_act"),
        pl.col("days_to_act").mean().alias("mean_days_to_act"),
        n(pl.col("prevents_stockout")).alias("stockout_actions"),
        n(guarded & pl.col("acted")).alias("acted_observed"),
        n(guarded & pl.col("acted") & pl.col("stockout_happened")).alias("acted_stockouts"),
        n(guarded & ~pl.col("acted")).alias("not_acted_observed"),
        n(guarded & ~pl.col("acted") & pl.col("stockout_happened")).alias("not_acted_stockouts"),
    )
    return kpi.with_columns(
        (pl.col("acted_stockouts") / pl.col("acted_observed")).alias("acted_stockout_rate"),
        (pl.col("not_acted_stockouts") / pl.col("not_acted_observed")).alias("not_acted_stockout_rate"),
    ).with_columns(pl.col(pl.Float64).fill_nan(None)).select(list(KPI_SCHEMA)).sort("week_start")

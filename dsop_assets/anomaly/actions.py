"""Action-queue rows from the analytics: anomaly alerts on graded products, account reviews for churn risk.

Rows follow ``ACTION_COLUMNS`` of the action queue. An anomaly alert becomes ``investigate_anomaly`` when
its product is graded ``action_min_grade`` or worse that week (priority from the grade). A customer whose
churn probability in the latest month closed by the week's Sunday is at or above the threshold becomes
``account_review``, filed under the customer's largest product (the queue has no customer column; the
reason names the customer). Ids hash (week, product, type, discriminator) like the queue's own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl

from dsop_assets.customer.churn import THRESHOLD
from dsop_assets.risk.actions import ACTION_COLUMNS, PRIORITY, action_id
from dsop_assets.risk.config import RiskConfig
from dsop_resources import Warehouse

HIGH_CHURN = 0.8


def _rows(frame: pl.DataFrame, discriminators: list[str], created_at: datetime) -> pl.DataFrame:
    ids = [action_id(w, p, t, d) for (w, p, t), d in
           zip(frame.select("week_start", "product_id", "action_type").rows(), discriminators)]
    return frame.with_columns(pl.Series("action_id", ids, dtype=pl.String), pl.lit(None, pl.String).alias("material_id"),
                              pl.lit(None, pl.Float64).alias("suggested_qty"), pl.lit(None, pl.Int64).alias("days_late"),
                              pl.lit("open").alias("status"),
                              pl.lit(created_at).alias("created_at")).select(ACTION_COLUMNS)


def anomaly_actions(alerts: pl.DataFrame, risk: pl.DataFrame, config: RiskConfig, created_at: datetime) -> pl.DataFrame:
    graded = risk.filter(pl.col("grade").is_in(config.action_grades)).select("product_id", "grade")
    hits = alerts.join(graded, on="product_id").sort("kind", "product_id", "customer_id", nulls_last=False)
    frame = hits.select(
        pl.col("week_start").cast(pl.Date), "product_id", pl.lit("investigate_anomaly").alias("action_type"),
        pl.format("investigate anomaly: {}", "kind").alias("action_label"),
        pl.col("grade").replace_strict(PRIORITY).alias("priority"),
        pl.lit("demand_anomaly").alias("suggested_qty_source"),
        pl.format("{} / {}", "message_en", "message_ko").alias("reason"))
    disc = [f"{k}|{c or ''}|{e}" for k, c, e in hits.select("kind", "customer_id", "event_week").rows()]
    return _rows(frame, disc, created_at)


def churn_actions(churn: pl.DataFrame, week: date, created_at: datetime) -> pl.DataFrame:
    flagged = churn.filter(pl.col("account_review") & pl.col("top_product_id").is_not_null()).sort("customer_id")
    frame = flagged.select(
        pl.lit(week).alias("week_start"), pl.col("top_product_id").alias("product_id"),
        pl.lit("account_review").alias("action_type"),
        pl.lit("account review: customer may stop ordering").alias("action_label"),
        pl.when(pl.col("churn_probability") >= HIGH_CHURN).then(pl.lit("High")).otherwise(pl.lit("Medium")).alias("priority"),
        pl.lit("customer_churn_risk").alias("suggested_qty_source"),
        pl.format("Customer {}: P(no order in the next 3 months) = {} (review at >= {}); last order {} days before "
                  "the end of the month starting {}; 12-month orders {} KRW.", "customer_id", pl.col("churn_probability").round(2).cast(pl.String),
                  pl.lit(str(THRESHOLD)), pl.col("recency_days").cast(pl.Int64).cast(pl.String),
                  pl.col("month_start").cast(pl.String), pl.col("monetary_krw").round(0).cast(pl.Int64).cast(pl.String))
        .alias("reason"))
    return _rows(frame, flagged["customer_id"].to_list(), created_at)


def analytics_actions(warehouse: Warehouse, week: date, risk: pl.DataFrame, config: RiskConfig) -> pl.DataFrame:
    """Both kinds for ``week``, read from the warehouse; empty when the analytics have not run."""
    created_at = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    parts = []
    if warehouse.table_exists("demand_anomaly"):
        alerts = warehouse.query("select * from demand_anomaly where week_start = $w", {"w": week})
        if alerts.height:
            parts.append(anomaly_actions(alerts, risk, config, created_at))
    if warehouse.table_exists("customer_churn_risk"):
        sunday = week + timedelta(days=6)
        closed = date(sunday.year, sunday.month, 1) - timedelta(days=1)  # last day of the previous month
        churn = warehouse.query("select * from customer_churn_risk where month_start = $m",
                                {"m": closed.replace(day=1)})
        if churn.height:
            parts.append(churn_actions(churn, week, created_at))
    parts = [p for p in parts if p.height]
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()

"""Plain-language customer demand alerts from the monthly forecast's customer totals.

For each customer at an origin: expected orders next month (the customer total's ``mean`` at
horizon 1, see ``hierarchy.py``) against the average of the last three complete months, with the
P10-P90 range. A change of at least ``threshold`` (15 %) either way is an alert; every customer gets
a row, so a report can also show who is steady; customers below 0.5 % of recent volume are never
alerted. Messages in English and Korean.
"""

from __future__ import annotations

import polars as pl

ALERT_THRESHOLD = 0.15
RECENT_MONTHS = 3
# A customer under this share of all customers' recent monthly orders is not alerted: at a few units a
# month, +180 % is noise, and a report listing half the customers helps nobody.
MIN_VOLUME_SHARE = 0.005
ALERT_COLUMNS = [
    "origin_date", "customer_id", "target_start", "expected_qty", "p10", "p90", "recent_avg_qty", "change_pct",
    "direction", "is_alert", "message_en", "message_ko",
]


def _qty(e: pl.Expr) -> pl.Expr:
    return e.round(0).cast(pl.Int64).map_elements(lambda v: f"{v:,}", return_dtype=pl.String)


def customer_alerts(customer_h1: pl.DataFrame, monthly_history: pl.DataFrame,
                    threshold: float = ALERT_THRESHOLD) -> pl.DataFrame:
    """``customer_h1``: customer-level forecast rows at horizon 1 (customer_id, origin_date,
    target_start, mean, p10, p90); ``monthly_history``: customer_id, period_start, qty per complete
    month (absent = 0). Returns ``ALERT_COLUMNS``."""
    origins = customer_h1.select("customer_id", "origin_date")
    months = pl.int_ranges(0, RECENT_MONTHS)
    recent = (
        origins.with_columns(k=months).explode("k")
        .with_columns(period_start=pl.col("origin_date").dt.offset_by(pl.format("-{}mo", pl.col("k"))))
        .join(monthly_history.select("customer_id", "period_start", "qty"), on=["customer_id", "period_start"],
              how="left")
        .group_by("customer_id", "origin_date").agg((pl.col("qty").fill_null(0.0).sum() / RECENT_MONTHS)
                                                     .alias("recent_avg_qty"))
    )
    change = pl.when(pl.col("recent_avg_qty") > 0).then(pl.col("expected_qty") / pl.col("recent_avg_qty") - 1)
    out = (
        customer_h1.select("customer_id", "origin_date", "target_start", pl.col("mean").alias("expected_qty"),
                           "p10", "p90")
        .join(recent, on=["customer_id", "origin_date"], how="left")
        .with_columns(pl.col("recent_avg_qty").fill_null(0.0))
        .with_columns(change_pct=(change * 100).round(1))
        .with_columns(
            direction=pl.when(pl.col("change_pct").is_null()).then(pl.lit("new"))
            .when(pl.col("change_pct") >= threshold * 100).then(pl.lit("up"))
            .when(pl.col("change_pct") <= -threshold * 100).then(pl.lit("down")).otherwise(pl.lit("steady")))
        .with_columns(_share=pl.max_horizontal("expected_qty", "recent_avg_qty")
                      / pl.col("recent_avg_qty").sum().over("origin_date"))
        .with_columns(is_alert=pl.col("direction").is_in(["up", "down", "new"]) & (pl.col("expected_qty") > 0)
                      & (pl.col("_share").fill_null(1.0) >= MIN_VOLUME_SHARE))
    )
    pct = pl.col("change_pct").abs().round(0).cast(pl.Int64).cast(pl.String)
    signed = pl.when(pl.col("change_pct") >= 0).then(pl.lit("+")).otherwise(pl.lit("−")) + pct
    band = _qty(pl.col("p10")) + pl.lit("–") + _qty(pl.col("p90"))
    en = pl.when(pl.col("direction") == "new").then(pl.format(
        "customer {}: orders of {} expected next month after none in the last 3 months, P10–P90 {}",
        "customer_id", _qty(pl.col("expected_qty")), band)).otherwise(pl.format(
            "customer {}: orders expected {} % next month vs the last 3 months ({} vs {} a month), P10–P90 {}",
            "customer_id", signed, _qty(pl.col("expected_qty")), _qty(pl.col("recent_avg_qty")), band))
    ko_dir = pl.when(pl.col("change_pct") >= 0).then(pl.lit("증가")).otherwise(pl.lit("감소"))
    ko = pl.when(pl.col("direction") == "new").then(pl.format(
        "고객 {}: 최근 3개월 주문이 없었으나 다음 달 {} 주문 예상, P10–P90 {}",
        "customer_id", _qty(pl.col("expected_qty")), band)).otherwise(pl.format(
            "고객 {}: 다음 달 주문이 최근 3개월 평균 대비 {}% {} 예상 ({} vs 월평균 {}), P10–P90 {}",
            "customer_id", pct, ko_dir, _qty(pl.col("expected_qty")), _qty(pl.col("recent_avg_qty")), band))
    return out.with_columns(message_en=en, message_ko=ko).select(ALERT_COLUMNS).sort(
        "origin_date", pl.col("change_pct").abs(), descending=[False, True], nulls_last=True)

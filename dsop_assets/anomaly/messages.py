"""Plain-language alert messages, in English and Korean, from an alert row's numbers."""

from __future__ import annotations

import polars as pl


def _n(col: str) -> pl.Expr:
    return pl.col(col).round(0).cast(pl.Int64, strict=False).cast(pl.String).fill_null("?")


def _r(col: str) -> pl.Expr:
    return pl.col(col).round(1).cast(pl.String).fill_null("?")


def with_messages(alerts: pl.DataFrame) -> pl.DataFrame:
    """Adds ``message_en`` and ``message_ko``; needs kind, customer_id, product_id, event_week, observed, expected,
    and, on level shifts, reads ``reclassified_customer_id`` / ``reclassified_week`` where present."""
    if "reclassified_customer_id" not in alerts.columns:
        alerts = alerts.with_columns(pl.lit(None, pl.String).alias("reclassified_customer_id"),
                                     pl.lit(None, pl.Date).alias("reclassified_week"))
    ratio = (pl.col("observed") / pl.when(pl.col("expected") > 0).then(pl.col("expected"))).alias("_ratio")
    a = alerts.with_columns(ratio, pl.col("event_week").cast(pl.String).alias("_wk"))
    kind = pl.col("kind")
    en = (pl.when(kind == "spike").then(pl.format(
            "{} ordered {} of {} in the week of {}: {}x its usual {} a week.",
            "customer_id", _n("observed"), "product_id", "_wk", _r("_ratio"), _n("expected")))
          .when(kind == "drop").then(pl.format(
            "{} has placed no order for {} for 3 weeks since {} (usually {} a week).",
            "customer_id", "product_id", "_wk", _n("expected")))
          .when(kind == "level_shift").then(pl.format(
            "Weekly orders of {} moved from about {} to {} since the week of {} ({}x).",
            "product_id", _n("expected"), _n("observed"), "_wk", _r("_ratio")))
          .otherwise(pl.format(
            "The stock count of {} on {} is {}, but receipts, production and shipments since the previous count "
            "imply {}.", "product_id", "_wk", _n("observed"), _n("expected"))))
    ko = (pl.when(kind == "spike").then(pl.format(
            "{} 고객의 {} 주문이 {} 주에 {}개로, 평소 주당 {}개의 {}배입니다.",
            "customer_id", "product_id", "_wk", _n("observed"), _n("expected"), _r("_ratio")))
          .when(kind == "drop").then(pl.format(
            "{} 고객이 {} 주부터 3주 동안 {} 제품을 주문하지 않았습니다 (평소 주당 {}개).",
            "customer_id", "_wk", "product_id", _n("expected")))
          .when(kind == "level_shift").then(pl.format(
            "{} 제품의 주간 주문량이 {} 주부터 약 {}개에서 {}개로 바뀌었습니다 ({}배).",
            "product_id", "_wk", _n("expected"), _n("observed"), _r("_ratio")))
          .otherwise(pl.format(
            "{} 품목의 {} 재고 실사 수량은 {}개이지만, 직전 실사 이후 입고·생산·출하 기록으로 계산하면 {}개입니다.",
            "product_id", "_wk", _n("observed"), _n("expected"))))
    again = (kind == "level_shift") & pl.col("reclassified_customer_id").is_not_null()
    spike_week = pl.col("reclassified_week").cast(pl.String)
    en = pl.when(again).then(pl.format("{} The spike of {} in the week of {} was the start of this level shift.", en,
                                       "reclassified_customer_id", spike_week)).otherwise(en)
    ko = pl.when(again).then(pl.format("{} {} 주의 {} 고객 주문 급증은 이 수준 변화의 시작이었습니다.", ko, spike_week,
                                       "reclassified_customer_id")).otherwise(ko)
    return a.with_columns(en.alias("message_en"), ko.alias("message_ko")).drop("_ratio", "_wk")

"""How well past risk grades foretold what happened in the 4 weeks after them (plain Polars).

For every (good, week W) graded in ``risk_score`` the outcome window is the 4 weeks after W's
Sunday, and the events are:
* stockout: the estimated closing stock went to zero or below on a day of the window while the
  good had demand in it (``daily_inventory_estimated``, orders);
* excess: stock at the window's end covers more than ``excess_threshold_days`` of the window's
  realised mean daily demand (any stock with no demand at all counts);
* delivery: an order line requested inside the window was shipped after its requested date, or
  was still unshipped at the window's end.
A grade "flags" a risk type when it is C or worse and that type is its dominant risk. Per type:
precision = flagged goods that had the event / flagged goods; recall = goods with the event that
were flagged / goods with the event. Margin has no realised event in the ERP and is not scored.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from dsop_assets.risk.config import RiskConfig

OUTCOME_WEEKS = 4
SCORED = ("stockout", "excess", "delivery")


def realised_events(weeks: list, stock: pl.DataFrame, orders: pl.DataFrame, shipments: pl.DataFrame,
                    config: RiskConfig) -> pl.DataFrame:
    """``product_id, week_start, stockout, excess, delivery`` (booleans) for each week's outcome window.

    stock: product_id, date, closing_qty; orders: order_id, product_id, order_date, order_qty,
    requested_delivery_date; shipments: order_id, revenue_date, shipped_qty.
    """
    frames = []
    shipped = shipments.filter(pl.col("order_id").is_not_null()).group_by("order_id").agg(
        pl.col("shipped_qty").sum(), pl.col("revenue_date").max().alias("last_ship"))
    for week in weeks:
        start = week + timedelta(days=7)
        end = start + timedelta(weeks=OUTCOME_WEEKS)
        demand = orders.filter((pl.col("order_date") >= start) & (pl.col("order_date") < end)).group_by(
            "product_id").agg((pl.col("order_qty").sum() / (7.0 * OUTCOME_WEEKS)).alias("daily"))
        window = stock.filter((pl.col("date") >= start) & (pl.col("date") < end))
        dry = window.group_by("product_id").agg((pl.col("closing_qty") <= 1e-9).any().alias("dry"))
        last = window.filter(pl.col("date") == end - timedelta(days=1)).select("product_id", "closing_qty")
        due = orders.filter((pl.col("requested_delivery_date") >= start) & (pl.col("requested_delivery_date") < end))
        late = due.join(shipped, on="order_id", how="left").with_columns(
            (pl.col("shipped_qty").fill_null(0.0) < pl.col("order_qty") - 1e-9)
            | (pl.col("last_ship") > pl.col("requested_delivery_date")).fill_null(False)).group_by("product_id").agg(
            pl.col("shipped_qty").any().alias("delivery"))
        frames.append(
            last.join(dry, on="product_id", how="full", coalesce=True)
            .join(demand, on="product_id", how="left").join(late, on="product_id", how="full", coalesce=True)
            .select("product_id", pl.lit(week).alias("week_start"),
                    (pl.col("dry").fill_null(False) & (pl.col("daily").fill_null(0.0) > 0)).alias("stockout"),
                    pl.when(pl.col("daily").fill_null(0.0) > 0)
                    .then(pl.col("closing_qty") / pl.col("daily") > config.excess_threshold_days)
                    .otherwise(pl.col("closing_qty") > 1e-9).fill_null(False).alias("excess"),
                    pl.col("delivery").fill_null(False)))
    return pl.concat(frames) if frames else pl.DataFrame(
        schema={"product_id": pl.String, "week_start": pl.Date, **dict.fromkeys(SCORED, pl.Boolean)})


def score_backtest(risk: pl.DataFrame, events: pl.DataFrame, config: RiskConfig) -> pl.DataFrame:
    """Per risk type: goods-weeks scored, flagged, with the event, hits, precision and recall."""
    joined = risk.select("product_id", "week_start", "grade", "dominant_risk").join(
        events, on=["product_id", "week_start"], how="inner")
    rows = []
    for kind in SCORED:
        flagged = pl.col("grade").is_in(config.action_grades) & (pl.col("dominant_risk") == kind)
        counts = joined.select(
            pl.len().alias("n"), flagged.sum().alias("flagged"), pl.col(kind).sum().alias("events"),
            (flagged & pl.col(kind)).sum().alias("hits")).row(0, named=True)
        rows.append({"risk_type": kind, "goods_weeks": counts["n"], "flagged": counts["flagged"],
                     "events": counts["events"], "hits": counts["hits"],
                     "precision": counts["hits"] / counts["flagged"] if counts["flagged"] else None,
                     "recall": counts["hits"] / counts["events"] if counts["events"] else None})
    return pl.DataFrame(rows, schema={"risk_type": pl.String, "goods_weeks": pl.Int64, "flagged": pl.Int64,
                                      "events": pl.Int64, "hits": pl.Int64, "precision": pl.Float64,
                                      "recall": pl.Float64})

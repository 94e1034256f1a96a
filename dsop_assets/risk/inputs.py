"""The risk scorer's inputs for one week, from what was known on that week's Sunday (plain Polars).

Choices where the data leaves room:
* Demand is the mean weekly P50 / P90 of the forecast made at the week, horizons 1..4, and its
  mean by Swanson's rule (0.3 P10 + 0.4 P50 + 0.3 P90) for days of cover.
* lead_time_weeks is the in-house production lead (``RiskConfig.production_lead_weeks``);
  material_lead_p90_days is the P90 receipt lead of the product's slowest bought material, each
  material at the supplier the purchase recommendations would choose (missing -> default).
* imported_share = foreign-currency material cost in one unit / the unit's standard cost (capped
  at 1): per material, the share of its last year's PO value (in KRW) placed in another currency.
* material_cost_change / fx_change are one number per week (copper, USD/KRW), applied to all.
* top_customer_share is over the orders of the last 13 weeks.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from dsop_assets.ordered_sums import ordered_sum
from dsop_assets.risk.config import RiskConfig
from dsop_assets.risk.scoring import RISK_INPUT_COLUMNS

HOME_CURRENCY = "KRW"
CONCENTRATION_DAYS = 91
DEMAND_HORIZONS = 4


def krw_value(amount: pl.Expr, rates: dict[str, float]) -> pl.Expr:
    """``amount`` (in the row's ``currency``) in KRW; null where the currency has no known rate."""
    rate = pl.col("currency").replace_strict({**rates, HOME_CURRENCY: 1.0}, default=None, return_dtype=pl.Float64)
    return amount * rate


def imported_shares(links: pl.DataFrame, purchase_orders: pl.DataFrame, goods: pl.DataFrame,
                    rates: dict[str, float], day: date) -> pl.DataFrame:
    """``product_id, imported_share`` for every good in ``goods`` (0 without bought materials)."""
    recent = purchase_orders.filter(
        (pl.col("order_date") <= day) & (pl.col("order_date") > day - timedelta(days=365)))
    value = krw_value(pl.col("order_qty") * pl.col("unit_cost"), rates)
    per_material = (
        recent.with_columns(value.alias("krw"), (pl.col("currency") != HOME_CURRENCY).alias("foreign"))
        .filter(pl.col("krw").is_not_null())
        .group_by(pl.col("product_id").alias("material_id"))
        .agg((ordered_sum(pl.col("krw").filter(pl.col("foreign"))) / ordered_sum(pl.col("krw"))).alias("foreign_share"),
             (ordered_sum(pl.col("krw")) / ordered_sum(pl.col("order_qty"))).alias("krw_per_unit"))
    )
    foreign_cost = (
        links.join(per_material, on="material_id", how="inner")
        .group_by("product_id")
        .agg(ordered_sum(pl.col("qty_per_unit") * pl.col("krw_per_unit") * pl.col("foreign_share")).alias("foreign_krw"))
    )
    unit_cost = goods.select("product_id", krw_value(pl.col("unit_cost"), rates).alias("cost_krw"))
    return unit_cost.join(foreign_cost, on="product_id", how="left").select(
        "product_id",
        pl.when(pl.col("cost_krw") > 0)
        .then((pl.col("foreign_krw").fill_null(0.0) / pl.col("cost_krw")).clip(0.0, 1.0))
        .otherwise(0.0)
        .alias("imported_share"),
    )


def assemble_risk_inputs(
    week: date,
    day: date,
    goods: pl.DataFrame,
    on_hand: pl.DataFrame,
    forecast: pl.DataFrame,
    orders_open: pl.DataFrame,
    recent_orders: pl.DataFrame,
    material_lead: pl.DataFrame,
    links: pl.DataFrame,
    shares: pl.DataFrame,
    material_cost_change: float | None,
    fx_change: float | None,
    config: RiskConfig,
) -> pl.DataFrame:
    """One row per good with ``RISK_INPUT_COLUMNS``.

    goods: product_id, unit_price, unit_cost; on_hand: product_id, on_hand_qty; forecast:
    product_id, horizon, p50, p90; orders_open: product_id, requested_delivery_date, open_qty;
    recent_orders: product_id, customer_id, order_qty (the last 13 weeks); material_lead:
    material_id, p90_days; links: product_id, material_id; shares: product_id, imported_share.
    """
    swanson = 0.3 * pl.col("p10") + 0.4 * pl.col("p50") + 0.3 * pl.col("p90")
    demand = forecast.filter(pl.col("horizon") <= DEMAND_HORIZONS).group_by("product_id").agg(
        pl.col("p50").mean().alias("demand_p50_weekly"), pl.col("p90").mean().alias("demand_p90_weekly"),
        swanson.mean().alias("demand_mean_weekly"))
    days = (pl.col("requested_delivery_date") - pl.lit(day)).dt.total_days().cast(pl.Float64)
    # Value-ordered sums: fractional quantities summed in thread order differed in the last bit between
    # two demo runs of the same data (top_customer_share, on a busy machine).
    book = orders_open.group_by("product_id").agg(
        ordered_sum(pl.col("open_qty")).alias("open_order_qty"),
        days.min().alias("days_to_delivery_min"),
        (ordered_sum(days * pl.col("open_qty")) / ordered_sum(pl.col("open_qty"))).alias("days_to_delivery_weighted"),
    )
    lead = links.join(material_lead, on="material_id", how="inner").group_by("product_id").agg(
        pl.col("p90_days").max().alias("material_lead_p90_days"))
    customers = recent_orders.group_by("product_id", "customer_id").agg(ordered_sum(pl.col("order_qty")))
    total = ordered_sum(pl.col("order_qty"))
    concentration = customers.group_by("product_id").agg(
        pl.when(total > 0).then(pl.col("order_qty").max() / total).alias("top_customer_share"))
    frame = goods.select("product_id", "unit_price", "unit_cost")
    for part in (on_hand, demand, book, lead, concentration, shares):
        frame = frame.join(part, on="product_id", how="left")
    return frame.with_columns(
        pl.lit(week).alias("week_start"),
        pl.col("on_hand_qty").fill_null(0.0),
        pl.col("open_order_qty").fill_null(0.0),
        pl.lit(config.production_lead_weeks, pl.Float64).alias("lead_time_weeks"),
        pl.lit(material_cost_change, pl.Float64).alias("material_cost_change"),
        pl.lit(fx_change, pl.Float64).alias("fx_change"),
        pl.col("imported_share").fill_null(0.0),
        pl.col("top_customer_share").fill_null(0.0),
    ).select(*(pl.col(c).cast(t) for c, t in RISK_INPUT_COLUMNS.items()),
             pl.col("demand_mean_weekly").cast(pl.Float64)).sort("product_id")

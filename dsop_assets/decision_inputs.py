"""What the weekly decision assets know as of a week: point-in-time reads and the frames built from them.

Every decision for ISO week W is made as of W's Sunday (``as_of = W + 6 days``); nothing dated or
received after it is used, so re-running an old week reproduces the plan a planner had then.
Loaders read the warehouse; the ``*_demand`` / ``material_links`` helpers are plain Polars.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from dsop_assets.external.point_in_time import krw_rate_as_of
from dsop_assets.planning.bom import explode_bom
from dsop_resources import Warehouse

HOME_CURRENCY = "KRW"

# An order line still unshipped half a year after it was placed is cancelled in practice, not
# open; without the cut an ERP that never links invoices to orders would carry it forever.
OPEN_ORDER_LOOKBACK_DAYS = 182


def as_of(week: date) -> date:
    return week + timedelta(days=6)


def krw_rates(warehouse: Warehouse, day: date) -> dict[str, float]:
    """KRW per unit of each currency on the business date ``day`` (the last quote known by then)."""
    rates = {HOME_CURRENCY: 1.0}
    if warehouse.table_exists("exchange_rate"):
        quotes = warehouse.query("select * from exchange_rate where rate_date <= $day", {"day": day})
        if quotes.height:
            rates |= dict(krw_rate_as_of(quotes, [day]).select("currency", "krw_per_unit").iter_rows())
    return rates


def in_krw(frame: pl.DataFrame, rates: dict[str, float], columns: list[str], currency: str = "currency") -> pl.DataFrame:
    """``frame`` with ``<column>_krw`` for each money column, the original amount and currency kept.

    Raises when a row's currency has no rate known on the business date: a decision priced in an
    unknown currency would silently compare won with dollars.
    """
    if currency not in frame.columns:
        return frame.with_columns(pl.col(c).cast(pl.Float64).alias(f"{c}_krw") for c in columns)
    missing = sorted(set(frame[currency].drop_nulls().unique().to_list()) - set(rates))
    if missing:
        raise ValueError(f"no exchange rate known for {missing}: load exchange_rate up to the business date")
    rate = pl.col(currency).fill_null(HOME_CURRENCY).replace_strict(rates, return_dtype=pl.Float64)
    return frame.with_columns((pl.col(c).cast(pl.Float64) * rate).alias(f"{c}_krw") for c in columns)


def products_in_krw(warehouse: Warehouse, day: date) -> pl.DataFrame:
    """``product_master`` with ``unit_cost_krw`` and ``unit_price_krw`` at the rate of ``day``."""
    return in_krw(warehouse.query("select * from product_master"), krw_rates(warehouse, day),
                  ["unit_cost", "unit_price"])


def on_hand_at(warehouse: Warehouse, day: date) -> pl.DataFrame:
    """``product_id, on_hand_qty``: the estimated closing stock of every item on ``day``."""
    if not warehouse.table_exists("daily_inventory_estimated"):
        return pl.DataFrame(schema={"product_id": pl.String, "on_hand_qty": pl.Float64})
    return warehouse.query(
        "select item_id as product_id, closing_qty as on_hand_qty from daily_inventory_estimated where date = $day",
        {"day": day},
    )


def weekly_forecast(warehouse: Warehouse, origin: date, horizons: int) -> pl.DataFrame:
    """Product-level weekly quantiles from origin ``origin`` for horizons 1..horizons, one model per
    (product, target): the newest run wins if several models wrote the same origin."""
    frame = warehouse.query(
        "select product_id, target_start as week_start, horizon, p10, p50, p90, model_id, created_at "
        "from forecast_result where cadence = 'weekly' and level = 'product' and origin_date = $origin "
        "and horizon between 1 and $h",
        {"origin": origin, "h": horizons},
    ) if warehouse.table_exists("forecast_result") else pl.DataFrame()
    if frame.is_empty():
        return pl.DataFrame(schema={"product_id": pl.String, "week_start": pl.Date, "horizon": pl.Int64,
                                    "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64})
    return (
        frame.sort("created_at", "model_id", descending=[True, False])
        .unique(["product_id", "week_start"], keep="first")
        .select("product_id", pl.col("week_start").cast(pl.Date), pl.col("horizon").cast(pl.Int64),
                *(pl.col(q).cast(pl.Float64).clip(lower_bound=0.0) for q in ("p10", "p50", "p90")))
        .sort("product_id", "week_start")
    )


def open_orders(warehouse: Warehouse, day: date) -> pl.DataFrame:
    """Customer order lines placed by ``day`` and not fully shipped by then (``open_qty`` > 0).

    Shipped quantity comes from invoices linked by ``order_id``; when the ERP links none, every line
    whose requested date is still ahead counts as open in full (the brief's fallback).
    """
    params = {"day": day, "since": day - timedelta(days=OPEN_ORDER_LOOKBACK_DAYS)}
    linked = warehouse.query(
        "select count(order_id) as n from daily_revenue where revenue_date <= $day", {"day": day}
    )["n"][0]
    if linked:
        sql = (
            "select o.order_id, o.customer_id, o.product_id, o.order_date, o.requested_delivery_date, "
            "o.order_qty - coalesce(s.shipped, 0) as open_qty from daily_order o left join ("
            "select order_id, sum(shipped_qty) as shipped from daily_revenue "
            "where revenue_date <= $day and order_id is not null group by order_id) s on s.order_id = o.order_id "
            "where o.order_date <= $day and o.order_date > $since and o.order_qty - coalesce(s.shipped, 0) > 1e-9"
        )
    else:
        sql = (
            "select order_id, customer_id, product_id, order_date, requested_delivery_date, order_qty as open_qty "
            "from daily_order where order_date <= $day and order_date > $since and requested_delivery_date > $day"
        )
    return warehouse.query(sql, params).with_columns(
        pl.col("order_date", "requested_delivery_date").cast(pl.Date), pl.col("open_qty").cast(pl.Float64)
    )


def open_purchase_orders(warehouse: Warehouse, day: date) -> pl.DataFrame:
    """PO lines placed by ``day`` as they stood then: a receipt after ``day`` was not yet known."""
    return warehouse.query(
        "select po_id, supplier_id, product_id, order_date, order_qty, unit_cost, currency, promised_date, "
        "case when received_date <= $day then received_date end as received_date, "
        "case when received_date <= $day then received_qty end as received_qty "
        "from purchase_order where order_date <= $day",
        {"day": day},
    )


def production_lines(warehouse: Warehouse, products: pl.DataFrame, day: date) -> pl.DataFrame:
    """``production_line`` rows; without that optional table, each line's busiest week of the last
    half year (hours made), as the ERP contract promises."""
    if warehouse.table_exists("production_line"):
        lines = warehouse.query("select * from production_line")
        if lines.height:
            return lines
    made = warehouse.query(
        "select product_id, date_trunc('week', production_date) as week, sum(produced_qty) as qty "
        "from daily_production where production_date <= $day and production_date > $since group by all",
        {"day": day, "since": day - timedelta(days=182)},
    )
    hours = (
        made.join(products.select("product_id", "production_line", "hours_per_unit"), on="product_id")
        .filter(pl.col("production_line").is_not_null())
        .group_by("production_line", "week").agg((pl.col("qty") * pl.col("hours_per_unit").fill_null(0.0)).sum())
        .group_by("production_line").agg(pl.col("qty").max().alias("regular_hours_per_week"))
    )
    return hours.select(pl.col("production_line").alias("line_id"), "regular_hours_per_week",
                        pl.lit(0.0).alias("overtime_hours_per_week"))


def firm_demand(orders: pl.DataFrame, first_week: date, weeks: int) -> pl.DataFrame:
    """Open quantity per product and requested week inside the horizon (``firm_qty``).

    Lines already overdue at the horizon start are due at once, so they land in its first week.
    """
    end = first_week + timedelta(weeks=weeks)
    requested = pl.col("requested_delivery_date")
    due = pl.when(requested < first_week).then(pl.lit(first_week)).otherwise(requested.dt.truncate("1w"))
    return (
        orders.filter(requested < end)
        .group_by("product_id", due.alias("week_start"))
        .agg(pl.col("open_qty").sum().alias("firm_qty"))
        .sort("product_id", "week_start")
    )


def material_links(bom: pl.DataFrame, products: list[str]) -> pl.DataFrame:
    """``product_id, material_id, qty_per_unit``: bought materials (BOM leaves) in one unit of each product."""
    schema = {"product_id": pl.String, "material_id": pl.String, "qty_per_unit": pl.Float64}
    if bom.is_empty() or not products:
        return pl.DataFrame(schema=schema)
    leaves = set(bom["component_product_id"].to_list()) - set(bom["parent_product_id"].to_list())
    # explode_bom sums over parents per week, so each product gets its own stand-in week to stay apart.
    tag = {date(2000, 1, 3) + timedelta(weeks=i): p for i, p in enumerate(products)}
    one_each = pl.DataFrame({"product_id": products, "week_start": list(tag), "qty": [1.0] * len(products)})
    exploded = explode_bom(one_each, bom).filter(pl.col("product_id").is_in(list(leaves)))
    return exploded.group_by("week_start", "product_id").agg(pl.col("gross_qty").sum()).select(
        pl.col("week_start").replace_strict(tag, return_dtype=pl.String).alias("product_id"),
        pl.col("product_id").alias("material_id"),
        pl.col("gross_qty").alias("qty_per_unit"),
    ).sort("product_id", "material_id")

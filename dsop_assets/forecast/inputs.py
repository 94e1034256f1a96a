"""What the forecast assets read from the warehouse, cut at the last day they may know."""

from __future__ import annotations

from datetime import date

import polars as pl

from dsop_assets.forecast.features import ORDER_HISTORY_SQL
from dsop_assets.forecast.features_external import trade_as_indicators
from dsop_resources import Warehouse


def _table(warehouse: Warehouse, sql: str, table: str, params: dict | None = None) -> pl.DataFrame | None:
    return warehouse.query(sql, params) if warehouse.table_exists(table) else None


def load_history(
    warehouse: Warehouse, until: date, since: date | None = None, due_from: date | None = None,
) -> dict[str, pl.DataFrame | None]:
    """ERP and external rows dated before ``until`` (the features cut again at each origin's as_of).

    With ``since``: order lines from ``since`` on or due from ``due_from`` on, shipments from
    ``since`` on, and ``order_history``, what the older lines tell (``features.ORDER_HISTORY_SQL``);
    a one-week feature build then reads a year of order lines instead of all of them."""
    params = {"until": until}
    recent = {"since": since, "due_from": due_from or since}
    indicators = _table(warehouse, "select * from economic_indicator where known_at < $until", "economic_indicator", params)
    trade = _table(warehouse, "select * from trade_statistics where known_at < $until", "trade_statistics", params)
    if trade is not None and trade.height:
        extra = trade_as_indicators(trade)
        indicators = extra if indicators is None else pl.concat([indicators, extra], how="diagonal_relaxed")
    return {
        "orders": warehouse.query(
            # only the columns the features read: order ids and currencies would add ~4 million
            # strings at large scale
            "select order_date, customer_id, product_id, order_qty, unit_price, "
            "requested_delivery_date from daily_order where order_date < $until"
            + ("" if since is None else " and (order_date >= $since or requested_delivery_date >= $due_from)"),
            params if since is None else params | recent),
        "order_history": None if since is None else warehouse.query(ORDER_HISTORY_SQL, params | {"since": since}),
        "revenue": _table(warehouse, "select revenue_date, customer_id, product_id, shipped_qty, revenue_amount "
                          "from daily_revenue where revenue_date < $until"
                          + ("" if since is None else " and revenue_date >= $since"), "daily_revenue",
                          params if since is None else params | {"since": since}),
        "products": warehouse.query("select * from product_master"),
        "customers": _table(warehouse, "select * from customer", "customer"),
        "indicators": indicators,
        "fx": _table(warehouse, "select * from exchange_rate where rate_date < $until", "exchange_rate", params),
    }

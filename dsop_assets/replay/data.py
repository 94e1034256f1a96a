"""What the replay reads from the warehouse, once, and the point-in-time views of it per week.

Every decision of week W sees only what was known on W's Sunday (``as_of``): orders placed by then,
the forecast made at origin W, purchase lead times from receipts by then, the masters priced at
that day's exchange rate. The outcome side (orders placed later, real lead times of later POs,
the ERP's own production) is used only by the simulator, never by a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from dsop_assets.decision_inputs import (
    as_of, in_krw, krw_rates, on_hand_at, open_orders, production_lines, products_in_krw, weekly_forecast,
)
from dsop_assets.inventory.lead_time import lead_time_stats
from dsop_assets.planning.bom import low_level_codes
from dsop_assets.planning.config import PlanConfig
from dsop_assets.replay.simulator import Costs, OrderLine, Receipt
from dsop_resources import Warehouse

# The simple rules' moving average of realised orders spans this many weeks.
MA_WEEKS = 4


@dataclass
class ReplayData:
    origins: list[date]  # decision weeks W; each executes W + 7
    forecasts: dict[date, pl.DataFrame]  # origin -> weekly_forecast frame
    products: dict[date, pl.DataFrame]  # origin -> product_master in KRW at as_of(W)
    lines: pl.DataFrame
    bom: pl.DataFrame
    orders: pl.DataFrame  # daily_order lines placed from MA_WEEKS before the first decision's Sunday on
    opening_orders: pl.DataFrame  # open_orders at the first decision's Sunday
    opening_stock: pl.DataFrame  # product_id, on_hand_qty at the first decision's Sunday
    purchase_orders: pl.DataFrame  # every PO line (real lead times, the ERP's receipts)
    production: pl.DataFrame  # daily_production summed per product and week (the ERP's own policy)
    rates: dict[date, dict[str, float]]


def replay_origins(warehouse: Warehouse, weeks: int, last_origin: date | None = None) -> list[date]:
    """The latest ``weeks`` forecast origins whose execution week (W + 7) has happened."""
    last_day = warehouse.query("select max(order_date) as d from daily_order")["d"][0]
    found = warehouse.query(
        "select distinct origin_date as w from forecast_result where cadence = 'weekly' and level = 'product' "
        "order by w")["w"].to_list() if warehouse.table_exists("forecast_result") else []
    # The execution week has happened once the orders reach its Friday (the plants ship Monday to Friday;
    # a history ending on a Sunday often has no weekend order).
    usable = [w for w in found if w + timedelta(days=11) <= last_day and (last_origin is None or w <= last_origin)]
    return usable[-weeks:]


def load_replay_data(warehouse: Warehouse, origins: list[date], config: PlanConfig) -> ReplayData:
    if not origins:
        raise ValueError("no forecast origin with a finished execution week: materialise forecast_weekly first")
    start_day = as_of(origins[0])
    opening = on_hand_at(warehouse, start_day)
    if opening.is_empty():
        raise ValueError(f"no stock estimate for {start_day}: materialise daily_inventory_estimated for {origins[0]}")
    end_day = as_of(origins[-1] + timedelta(days=7))
    products = {w: products_in_krw(warehouse, as_of(w)) for w in origins}
    made = warehouse.query(
        "select product_id, cast(date_trunc('week', production_date) as date) as week_start, sum(produced_qty) as qty "
        "from daily_production where production_date > $start and production_date <= $end group by all",
        {"start": start_day, "end": end_day})
    return ReplayData(
        origins=origins,
        forecasts={w: weekly_forecast(warehouse, w, config.horizon_weeks) for w in origins},
        products=products,
        lines=production_lines(warehouse, products[origins[0]], start_day),
        bom=warehouse.query("select parent_product_id, component_product_id, qty_per, scrap_rate from bom"),
        orders=warehouse.query(
            "select order_id, product_id, order_date, requested_delivery_date, order_qty from daily_order "
            "where order_date > $start and order_date <= $end",
            {"start": start_day - timedelta(days=7 * MA_WEEKS), "end": end_day}),
        opening_orders=open_orders(warehouse, start_day),
        opening_stock=opening,
        purchase_orders=warehouse.query(
            "select po_id, supplier_id, product_id, order_date, order_qty, unit_cost, currency, promised_date, "
            "received_date, received_qty from purchase_order where order_date <= $end", {"end": end_day}),
        production=made,
        rates={w: krw_rates(warehouse, as_of(w)) for w in origins},
    )


def order_lines(frame: pl.DataFrame, qty: str) -> list[OrderLine]:
    return [OrderLine(r["order_id"], r["product_id"], r["order_date"], r["requested_delivery_date"], float(r[qty]))
            for r in frame.sort("order_id").iter_rows(named=True) if r[qty] and r[qty] > 0]


def orders_placed(data: ReplayData, week: date) -> list[OrderLine]:
    """Order lines placed Monday..Sunday of ``week``."""
    inside = data.orders.filter((pl.col("order_date") >= week) & (pl.col("order_date") <= week + timedelta(days=6)))
    return order_lines(inside, "order_qty")


def lead_times_known(data: ReplayData, origin: date) -> pl.DataFrame:
    """``product_lead_time`` as it stood on the origin's Sunday, with ``mean_unit_cost_krw``."""
    day = as_of(origin)
    stats = lead_time_stats(data.purchase_orders, day)
    currency = (data.purchase_orders.filter(pl.col("order_date") <= day).sort("order_date", "po_id")
                .group_by("product_id", "supplier_id").agg(pl.col("currency").last()))
    return in_krw(stats.join(currency, on=["product_id", "supplier_id"], how="left"), data.rates[origin],
                  ["mean_unit_cost"])


def real_lead_days(data: ReplayData, material: str, supplier: str | None, ordered: date, default: float) -> int:
    """The realised lead time of the real PO line closest in order date to ``ordered`` (same supplier
    when it has any, else any supplier of the material; ties go to the earlier line): what the
    supply chain actually delivered at that time, not what a planner assumed."""
    done = data.purchase_orders.filter((pl.col("product_id") == material) & pl.col("received_date").is_not_null())
    if supplier is not None and done.filter(pl.col("supplier_id") == supplier).height:
        done = done.filter(pl.col("supplier_id") == supplier)
    if done.is_empty():
        return int(round(default))
    row = (done.with_columns((pl.col("order_date") - pl.lit(ordered)).dt.total_days().abs().alias("d"))
           .sort("d", "order_date", "po_id").row(0, named=True))
    return int((row["received_date"] - row["order_date"]).days)


def opening_receipts(data: ReplayData) -> list[Receipt]:
    """Real PO lines open on the first decision's Sunday: they arrive on their real receipt day."""
    day = as_of(data.origins[0])
    pending = data.purchase_orders.filter((pl.col("order_date") <= day) & pl.col("received_date").is_not_null()
                                          & (pl.col("received_date") > day)).sort("po_id")
    return [Receipt(r["product_id"], r["received_date"], float(r["received_qty"] or r["order_qty"]), r["promised_date"],
                    r["supplier_id"]) for r in pending.iter_rows(named=True)]


def erp_receipts(data: ReplayData) -> list[Receipt]:
    """Every real receipt after the first decision's Sunday (the ERP's own purchasing)."""
    day = as_of(data.origins[0])
    later = data.purchase_orders.filter(pl.col("received_date").is_not_null() & (pl.col("received_date") > day)).sort("po_id")
    return [Receipt(r["product_id"], r["received_date"], float(r["received_qty"] or r["order_qty"]), r["promised_date"],
                    r["supplier_id"]) for r in later.iter_rows(named=True)]


def bom_structure(bom: pl.DataFrame) -> tuple[dict[str, list[tuple[str, float]]], dict[str, int]]:
    """Direct components per parent (qty per good unit, scrap included) and each item's BOM depth."""
    components: dict[str, list[tuple[str, float]]] = {}
    for r in bom.sort("parent_product_id", "component_product_id").iter_rows(named=True):
        scrap = r["scrap_rate"] or 0.0
        components.setdefault(r["parent_product_id"], []).append((r["component_product_id"], r["qty_per"] / (1 - scrap)))
    return components, low_level_codes(bom) if bom.height else {}


def costs_of(products: pl.DataFrame, lines: pl.DataFrame, config: PlanConfig) -> Costs:
    """The plan's cost terms per item (plan_data.prepare_plan_data's defaults and formulas)."""
    p = products.with_columns(
        pl.col("unit_cost_krw").cast(pl.Float64).fill_null(0.0).alias("cost"),
        pl.coalesce(pl.col("unit_price_krw").cast(pl.Float64), pl.col("unit_cost_krw").cast(pl.Float64)).fill_null(0.0).alias("price"),
        pl.col("holding_cost_rate").cast(pl.Float64).fill_null(config.default_holding_cost_rate).alias("rate"),
        pl.col("setup_cost").cast(pl.Float64).fill_null(config.default_setup_cost).alias("setup"),
    )
    ids = p["product_id"].to_list()
    col = lambda name: dict(zip(ids, p[name].to_list()))  # noqa: E731
    lt = lines.with_columns(pl.col("overtime_cost_per_hour").cast(pl.Float64).fill_null(config.default_overtime_cost_per_hour)
                            if "overtime_cost_per_hour" in lines.columns else
                            pl.lit(config.default_overtime_cost_per_hour).alias("overtime_cost_per_hour"))
    lid = lt["line_id"].to_list()
    return Costs(
        unit_cost=col("cost"),
        hold={i: c * r / 52.0 for i, c, r in zip(ids, p["cost"], p["rate"])},
        backlog={i: config.shortage_cost_multiple * v for i, v in zip(ids, p["price"])},
        setup=col("setup"),
        line_of={i: l for i, l in zip(ids, p["production_line"].to_list()) if l is not None},
        hours={i: h or 0.0 for i, h in zip(ids, p["hours_per_unit"].to_list())},
        lot={i: v for i, v in zip(ids, p["lot_size"].to_list()) if v},
        regular=dict(zip(lid, lt["regular_hours_per_week"].cast(pl.Float64).fill_null(0.0).to_list())),
        overtime=dict(zip(lid, lt["overtime_hours_per_week"].cast(pl.Float64).fill_null(0.0).to_list())),
        overtime_cost=dict(zip(lid, lt["overtime_cost_per_hour"].to_list())),
    )

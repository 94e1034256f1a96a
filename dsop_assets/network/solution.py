"""Solver values → the plan's tables, the costs by component and the state carried to the next chunk."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from dsop_assets.network.chunk import Carry, ChunkModel
from dsop_assets.network.lp import SolveResult
from dsop_assets.network.shelf import fefo_closing_lots

EPS = 1e-6


def _val(block: pl.DataFrame, values: np.ndarray, name: str = "value") -> pl.DataFrame:
    return block.with_columns(pl.Series(name, values[block["col"].to_numpy()] if block.height else np.zeros(0)))


def extract(cm: ChunkModel, res: SolveResult, nd, carry_in: Carry) -> dict[str, pl.DataFrame]:
    b, v, days = cm.milp.blocks, res.values, cm.days
    day_of = days.select("t", "day")
    # Only the chunk's own days are committed; the look-ahead days are re-planned by the next chunk.
    now = pl.col("t") < cm.commit_days
    x_pw = _val(b["x_pw"], v).filter((pl.col("value") > EPS) & now)
    x_wc = _val(b["x_wc"], v).filter((pl.col("value") > EPS) & now)
    ship = pl.concat([
        x_pw.select("src", "dst", "mode", "sku_id", "t", "t_arr", pl.lit("plant_to_warehouse").alias("leg"), pl.col("value").alias("qty")),
        x_wc.select("src", "dst", "mode", "sku_id", "t", "t_arr", pl.lit("warehouse_to_city").alias("leg"), pl.col("value").alias("qty")),
    ]).join(day_of.rename({"day": "ship_date"}), on="t").join(day_of.rename({"t": "t_arr", "day": "arrival_date"}), on="t_arr")
    shipment = ship.select("ship_date", "arrival_date", "leg", "src", "dst", "mode", "sku_id", pl.col("qty").round(3))
    n = _val(b["n"], v).with_columns(pl.col("value").round(0)).filter((pl.col("value") > 0.5) & now)
    lane_day = n.select(pl.col("day").alias("ship_date"), "src", "dst", "mode", pl.col("value").alias("containers"), "km", "transit_days",
                        pl.col("multiplier").fill_null(1.0), "border_usd",
                        (pl.col("value") * pl.col("unit_cost")).alias("transport_cost_usd"),
                        (pl.col("value") * pl.col("co2_kg_per_container")).alias("co2_kg"))
    production = x_pw.group_by(pl.col("src").alias("site_id"), "sku_id", "t").agg(pl.col("value").sum().round(3).alias("qty"),
                                                                                 (pl.col("value") * pl.col("labour_hours_per_unit")).sum().alias("hours")) \
        .join(day_of, on="t").select(pl.col("day").alias("production_date"), "site_id", "sku_id", "qty", "hours")
    reg, ot = _val(b["reg"], v, "regular_hours").filter(now), _val(b["ot"], v, "overtime_hours").filter(now)
    plant_day = reg.select("site_id", "t", "regular_hours", "regular_cost_per_hour").join(
        ot.select("site_id", "t", "overtime_hours", "overtime_cost_per_hour"), on=["site_id", "t"]).join(day_of, on="t").select(
        pl.col("day").alias("production_date"), "site_id", pl.col("regular_hours").round(4), pl.col("overtime_hours").round(4),
        (pl.col("regular_hours") * pl.col("regular_cost_per_hour") + pl.col("overtime_hours") * pl.col("overtime_cost_per_hour")).alias("labour_cost_usd"))
    inv = _val(b["inv"], v, "closing_qty").filter(now)
    disc = _val(b["disc"], v, "discarded_qty").filter(now)
    local = _val(b["local"], v, "local_qty").filter(now)
    stock = inv.select("site_id", "sku_id", "t", "day", "closing_qty", "h").join(
        disc.select("site_id", "sku_id", "t", "discarded_qty"), on=["site_id", "sku_id", "t"]).join(
        local.group_by("site_id", "sku_id", "t").agg(pl.col("local_qty").sum()), on=["site_id", "sku_id", "t"], how="left").select(
        pl.col("day").alias("stock_date"), "site_id", "sku_id", pl.col("closing_qty").round(3), pl.col("discarded_qty").round(3),
        pl.col("local_qty").fill_null(0.0).round(3).alias("served_locally_qty"), (pl.col("closing_qty") * pl.col("h")).alias("holding_cost_usd"))
    demand = nd.demand.filter(pl.col("day").is_between(cm.start, cm.end))
    delivered = pl.concat([x_wc.select(pl.col("dst").alias("city_id"), "sku_id", pl.col("t_arr").alias("t"), "value"),
                           local.filter(pl.col("local_qty") > EPS).select("city_id", "sku_id", "t", pl.col("local_qty").alias("value"))]) \
        .join(day_of, on="t").select("day", "city_id", "sku_id", "value")
    delivered = pl.concat([delivered, carry_in.city_transit.select(pl.col("arrival").alias("day"), "city_id", "sku_id", pl.col("qty").alias("value"))]) \
        .group_by("day", "city_id", "sku_id").agg(pl.col("value").sum().alias("delivered_qty"))
    service = demand.join(delivered, on=["day", "city_id", "sku_id"], how="left").join(
        nd.skus.select("sku_id", "shortage_penalty_usd"), on="sku_id").select(
        pl.col("day").alias("demand_date"), "city_id", "sku_id", pl.col("qty").alias("demand_qty"),
        pl.col("delivered_qty").fill_null(0.0).clip(upper_bound=pl.col("qty")).round(3),
    ).with_columns((pl.col("demand_qty") - pl.col("delivered_qty")).alias("short_qty"))
    pen = service.join(nd.skus.select("sku_id", "shortage_penalty_usd"), on="sku_id")
    cfg = nd.config
    prod_co2 = float(x_pw.join(nd.skus.select("sku_id", "carbon_factor_prod"), on="sku_id").select(pl.col("value") * pl.col("carbon_factor_prod")).sum().item() or 0.0)
    co2_kg = prod_co2 + float(lane_day["co2_kg"].sum())
    tonnes = float(np.ceil(co2_kg / 1000.0 - 1e-9))
    fee = float(_val(b["fee"], v).filter(pl.col("block") * cfg.lock_days <= (cm.end - nd.start).days)["value"].sum()) if "fee" in b else 0.0
    cover = float(_val(b["cover_gap"], v).select(pl.col("value") * pl.col("pen")).sum().item()) if "cover_gap" in b else 0.0
    # A week the chunk's end cuts is counted by the next chunk, which sees all of it (carry.week_fill).
    counted = (pl.col("week_start") + pl.duration(days=6) <= cm.end) | pl.lit(cm.end >= nd.end)
    slack = float(_val(b["fill_slack"], v).filter(counted)["value"].sum()) if "fill_slack" in b else 0.0
    costs = {
        "production_usd": float(plant_day["labour_cost_usd"].sum()),
        "transport_usd": float((lane_day["transport_cost_usd"] - lane_day["containers"] * lane_day["border_usd"]).sum()),
        "border_usd": float((lane_day["containers"] * lane_day["border_usd"]).sum()),
        "holding_usd": float(stock["holding_cost_usd"].sum()),
        "disposal_usd": float(stock["discarded_qty"].sum()) * cfg.disposal_cost_per_unit,
        "shortage_penalty_usd": float((pen["short_qty"] * pen["shortage_penalty_usd"]).sum()),
        "mode_change_fee_usd": fee,
        "co2_charge_usd": tonnes * cfg.co2_price_per_tonne,
    }
    summary = pl.DataFrame([{
        "chunk_start": cm.start, "chunk_end": cm.end, **costs,
        "total_cost_usd": sum(costs.values()),
        "fill_slack_units": slack, "fill_slack_penalty_usd": slack * cfg.fill_slack_penalty, "cover_penalty_usd": cover,
        "model_objective_usd": res.objective + cm.constant,
        "model_bound_usd": res.bound + cm.constant,  # the solver's proven lower bound, same units
        "window_end": cm.window_end, "co2_kg": co2_kg, "co2_tonnes_charged": tonnes,
        "status": res.status, "mip_gap": res.mip_gap, "nodes": res.nodes, "hit_time_limit": res.hit_time_limit, "hit_work_limit": res.hit_work_limit,
        **{k: int(val) for k, val in cm.stats.items()},
    }])
    return {"production": production, "plant_day": plant_day, "shipment": shipment, "lane_day": lane_day,
            "stock": stock, "service": service, "summary": summary}


def next_carry(cm: ChunkModel, tables: dict[str, pl.DataFrame], carry: Carry, nd) -> Carry:
    """Closing stock as FEFO lots (replayed from the plan's tables), hours used this week, recent lane use."""
    end = cm.end
    ship = tables["shipment"]
    arrivals = pl.concat([
        ship.filter(pl.col("leg") == "plant_to_warehouse").select(pl.col("dst").alias("site_id"), "sku_id", pl.col("arrival_date").alias("day"),
                                                                   pl.col("ship_date").alias("produced"), "qty"),
        carry.in_transit.select("site_id", "sku_id", pl.col("arrival").alias("day"), "produced", "qty"),
        _openings(cm, nd).select("site_id", "sku_id", pl.col("produced").alias("day"), "produced", "qty"),
    ])
    stock = tables["stock"]
    outflows = pl.concat([
        ship.filter(pl.col("leg") == "warehouse_to_city").select(pl.col("src").alias("site_id"), "sku_id", pl.col("ship_date").alias("day"), "qty"),
        stock.select("site_id", "sku_id", pl.col("stock_date").alias("day"), (pl.col("served_locally_qty") + pl.col("discarded_qty")).alias("qty")),
    ])
    lots = fefo_closing_lots(cm.start, end, carry.lots.select("site_id", "sku_id", "produced", "qty"), arrivals, outflows)
    week = end + timedelta(days=1)
    week = week - timedelta(days=week.weekday())
    hours = tables["plant_day"].filter(pl.col("production_date") >= week).group_by("site_id").agg(
        pl.col("regular_hours").sum(), pl.col("overtime_hours").sum()).with_columns(pl.lit(week).alias("week_start")).select(
        "site_id", "week_start", "regular_hours", "overtime_hours")
    recent = pl.concat([carry.lane_days, tables["lane_day"].select(carry.lane_days.columns)]).filter(
        pl.col("ship_date") > end - timedelta(days=2 * nd.config.lock_days))
    late = tables["shipment"].filter(pl.col("arrival_date") > end)
    transit = pl.concat([carry.in_transit.filter(pl.col("arrival") > end),
                         late.filter(pl.col("leg") == "plant_to_warehouse").select(
                             pl.col("dst").alias("site_id"), "sku_id", pl.col("arrival_date").alias("arrival"), pl.col("ship_date").alias("produced"), "qty")])
    city_transit = late.filter(pl.col("leg") == "warehouse_to_city").group_by(
        pl.col("dst").alias("city_id"), "sku_id", pl.col("arrival_date").alias("arrival")).agg(pl.col("qty").sum())
    return Carry(lots, transit, hours, recent, city_transit, _week_fill(tables["service"], carry, end))


def _week_fill(service: pl.DataFrame, carry: Carry, end: date) -> pl.DataFrame:
    """Demand and deliveries so far of the week that goes on past ``end`` (none if a week ends there)."""
    nxt = end + timedelta(days=1)
    week = nxt - timedelta(days=nxt.weekday())
    if week == nxt:
        return carry.week_fill.clear()
    part = service.filter(pl.col("demand_date") >= week).select(pl.lit(week).alias("week_start"), pl.col("demand_qty").alias("qty"), "delivered_qty")
    return pl.concat([carry.week_fill.filter(pl.col("week_start") == week), part]).group_by("week_start").agg(
        pl.col("qty").sum(), pl.col("delivered_qty").sum())


def _openings(cm: ChunkModel, nd) -> pl.DataFrame:
    whs = cm.facilities.filter((pl.col("site_type") == "warehouse") & pl.col("usable_from").is_between(cm.start, cm.end))
    return whs.select("site_id", pl.col("usable_from").alias("produced")).join(nd.skus.select("sku_id"), how="cross").with_columns(
        pl.lit(nd.config.initial_stock).alias("qty")).select("site_id", "sku_id", "produced", "qty")


def stamp(frame: pl.DataFrame, start: date) -> pl.DataFrame:
    return frame.with_columns(pl.lit(start).alias("chunk_start"))

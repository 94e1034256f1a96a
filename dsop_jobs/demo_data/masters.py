"""Master tables: product master, customers, suppliers, production lines (capacity from the plan), BOM."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from .supply import weekly
from .timeline import Timeline


def _nullable(values: np.ndarray, mask: np.ndarray) -> list:
    return [v if m else None for v, m in zip(values.tolist(), mask.tolist())]


def _scale_hours(rng, items: dict, made_w: np.ndarray, n_lines: int) -> np.ndarray:
    """Keeps each product's relative labour content but sizes a line's typical week to a real crew
    (300-1,500 hours), whatever volume the demand draw produced."""
    hours = items["hours"].copy()
    for line in range(n_lines):
        on = items["line"] == line
        load = (made_w[on] * hours[on, None]).sum(0)
        typical = np.quantile(load, 0.75) if load.any() else 0.0
        if typical > 0:
            hours[on] *= rng.uniform(300, 1500) / typical
    return hours


def master_frames(rng, tl: Timeline, items: dict, cust: dict, sup: dict, language: str, lot: np.ndarray,
                  prod: np.ndarray, line_ids: list[str], drift: np.ndarray, cycle_end: float) -> dict[str, pl.DataFrame]:
    ko = language == "ko"
    fg = items["type"] == "finished_good"
    made = items["line"] >= 0
    raw = ~made
    yrs = tl.history_weeks / 52.18
    # standard cost moves with the list price (cost-downs follow price erosion), keeping the margin
    move = np.where(fg, np.exp(drift * yrs + 0.08 * cycle_end), 1.0)
    krw = items["currency"] == "KRW"
    price_now = np.where(krw, np.round(items["price"] * move), np.round(items["price"] * move, 2))
    cost_now = np.where(krw, np.round(items["cost"] * move), np.round(items["cost"] * move, 2))
    launch = [tl.sim_start + timedelta(days=7 * int(w)) for w in items["launch_w"]]
    eol = [tl.sim_start + timedelta(days=7 * int(w) - 1) if w < 10**6 else None for w in items["eol_w"]]
    hs, he = tl.warmup_weeks, tl.warmup_weeks + tl.history_weeks
    made_w = weekly(prod)[:, hs:he]
    hours = np.round(_scale_hours(rng, items, made_w, len(line_ids)), 4)
    pm = pl.DataFrame({
        "product_id": items["product_id"].astype(str),
        "product_name": (items["name_ko"] if ko else items["name_en"]).astype(str),
        "product_type": items["type"].astype(str),
        "product_group": (items["group_ko"] if ko else items["group_en"]).astype(str),
        "unit": items["unit"].astype(str),
        "unit_cost": cost_now.astype(float),
        "unit_price": pl.Series(_nullable(price_now, fg), dtype=pl.Float64),
        "currency": items["currency"].astype(str),
        "production_line": pl.Series(_nullable(np.asarray(line_ids)[np.maximum(items["line"], 0)], made), dtype=pl.Utf8),
        "hours_per_unit": pl.Series(_nullable(hours, made), dtype=pl.Float64),
        "lot_size": np.round(lot, 4),
        "holding_cost_rate": items["holding"],
        "ordering_cost": pl.Series(_nullable(items["ordering_cost"], raw), dtype=pl.Float64),
        "setup_cost": pl.Series(_nullable(items["setup_cost"], made), dtype=pl.Float64),
        "launch_date": pl.Series([d.isoformat() if f else None for d, f in zip(launch, fg)], dtype=pl.Utf8),
        "eol_date": pl.Series([d.isoformat() if d else None for d in eol], dtype=pl.Utf8),
    }).sort("product_id")

    # capacity: regular hours cover a typical week, overtime the busiest one
    load = made_w * hours[:, None]
    nl = len(line_ids)
    per_line = np.zeros((nl, load.shape[1]))
    np.add.at(per_line, items["line"][made], load[made])
    regular = np.maximum(40.0, np.ceil(np.quantile(per_line, 0.75, axis=1) / 8) * 8)
    overtime = np.ceil(np.maximum(per_line.max(1) - regular, 0) / 8) * 8 + 8
    groups = items["lines"]["group_ko" if ko else "group_en"]
    seq = {}
    names = []
    for g in groups:
        seq[g] = seq.get(g, 0) + 1
        names.append(f"{g} {seq[g]}라인" if ko else f"{g} line {seq[g]}")
    lines = pl.DataFrame({
        "line_id": line_ids, "line_name": names, "regular_hours_per_week": regular,
        "overtime_hours_per_week": overtime, "overtime_cost_per_hour": np.round(rng.uniform(30e3, 60e3, nl), -3),
    })
    customer = pl.DataFrame({
        "customer_id": cust["customer_id"], "customer_name": cust["name_ko" if ko else "name_en"],
        "country": cust["country"].astype(str), "segment": cust["segment"].astype(str),
    })
    supplier = pl.DataFrame({
        "supplier_id": sup["supplier_id"], "supplier_name": sup["name_ko" if ko else "name_en"],
        "country": sup["country"].astype(str), "default_lead_time_days": sup["quoted_lt"].astype(float),
    })
    b = items["bom"]
    bom = pl.DataFrame({
        "parent_product_id": items["product_id"][b["parent"]].astype(str),
        "component_product_id": items["product_id"][b["comp"]].astype(str),
        "qty_per": b["qty"], "scrap_rate": b["scrap"],
    }).sort(["parent_product_id", "component_product_id"])
    return {"product_master": pm, "customer": customer, "supplier": supplier, "production_line": lines, "bom": bom}

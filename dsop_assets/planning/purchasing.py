"""Purchase recommendations: the production plan, exploded through the BOM and netted (MRP).

Per purchased material (a BOM leaf):
* gross requirement per week from ``explode_bom`` (intermediates use their own stock first);
* netted against on-hand and open PO lines, each arriving on its promised date (overdue ones on
  ``as_of``), walking the weeks; whenever projected stock would fall below the safety stock a
  planned order is raised for the gap, at least one EOQ, in whole MOQ lots (``lot_size``);
* the order must be placed the supplier's P90 lead time before it is needed (order-by date), so
  nine deliveries in ten arrive in time;
* if nothing is needed within the horizon but the inventory position (on hand + on order) is
  already below the reorder point, one EOQ is recommended now.

Safety stock and reorder point use the mean lead time and its standard deviation (textbook
SS = z sqrt(L sigma_d^2 + d^2 sigma_L^2), ROP = d L + SS), with d and sigma_d the daily mean and
spread of the weekly requirement over the horizon. EOQ uses D = mean weekly requirement x 52,
S = ordering_cost and H = unit cost x holding_cost_rate, both in KRW: ``unit_cost_krw`` of the
product master and ``mean_unit_cost_krw`` of the supplier when the caller provides them (converted
at the business date's rate; the original ``unit_cost`` and ``currency`` are kept in the output).
``days_late`` > 0 marks an order whose order-by date has already passed: expedite it.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl

from dsop_assets.planning.bom import explode_bom
from dsop_assets.planning.config import PurchaseConfig
from dsop_assets.planning.inventory_policy import eoq, reorder_point, round_up_to_lot, safety_stock, service_z

OUTPUT_SCHEMA = {
    "product_id": pl.Utf8, "supplier_id": pl.Utf8, "order_by_date": pl.Date, "need_date": pl.Date,
    "recommended_qty": pl.Float64, "eoq": pl.Float64, "reorder_point": pl.Float64,
    "safety_stock": pl.Float64, "projected_on_hand": pl.Float64, "net_requirement": pl.Float64,
    "lead_time_p90_days": pl.Float64, "unit_cost": pl.Float64, "currency": pl.Utf8, "unit_cost_krw": pl.Float64,
    "order_value_krw": pl.Float64, "days_late": pl.Int64, "reason": pl.Utf8,
}


def choose_suppliers(lead_times: pl.DataFrame, config: PurchaseConfig) -> pl.DataFrame:
    """Best supplier per material by score = w_c cost/cheapest + w_l P90/fastest P90 + w_r (1 - on-time).

    Lower is better. Cost and lead time are relative to the best candidate for the same material
    (1.0 = best), lateness is the share of late deliveries, so with the default weights a supplier
    10 % dearer adds 0.05, 10 % slower adds 0.03 and 10 points less punctual adds 0.02. Ties go to
    the lower supplier_id so the choice is deterministic.
    """
    lt = lead_times.with_columns(
        pl.col("on_time_rate").cast(pl.Float64).fill_null(config.default_on_time_rate),
        pl.col("p90_days").cast(pl.Float64).fill_null(pl.col("mean_days")),
        pl.col("std_days").cast(pl.Float64).fill_null(0.0),
    )
    cost = pl.col("mean_unit_cost") / pl.col("mean_unit_cost").min().over("product_id")
    lead = pl.col("p90_days") / pl.col("p90_days").min().over("product_id").clip(lower_bound=1e-9)
    score = (
        config.weight_cost * cost.fill_null(1.0).fill_nan(1.0)
        + config.weight_lead_time * lead.fill_nan(1.0)
        + config.weight_reliability * (1 - pl.col("on_time_rate"))
    )
    return (
        lt.with_columns(score.alias("score"))
        .sort("product_id", "score", "supplier_id")
        .group_by("product_id", maintain_order=True)
        .first()
    )


def scheduled_receipts(open_pos: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Open PO quantity per material and arrival Monday (promised date, overdue lines on as_of)."""
    received = pl.col("received_qty").cast(pl.Float64).fill_null(0.0) if "received_qty" in open_pos.columns else pl.lit(0.0)
    is_open = pl.col("received_date").is_null() if "received_date" in open_pos.columns else pl.lit(True)
    arrive = pl.max_horizontal(pl.col("promised_date"), pl.lit(as_of))
    return (
        open_pos.filter(is_open)
        .select("product_id", (arrive - pl.duration(days=arrive.dt.weekday() - 1)).alias("week_start"),
                (pl.col("order_qty").cast(pl.Float64) - received).clip(lower_bound=0.0).alias("receipt_qty"))
        .group_by("product_id", "week_start").agg(pl.col("receipt_qty").sum())
    )


def recommend_purchases(
    plan: pl.DataFrame,
    bom: pl.DataFrame,
    products: pl.DataFrame,
    on_hand: pl.DataFrame,
    open_pos: pl.DataFrame,
    lead_times: pl.DataFrame,
    as_of: date,
    config: PurchaseConfig | None = None,
) -> pl.DataFrame:
    """Planned purchase orders; see the module docstring for the rules and OUTPUT_SCHEMA for columns."""
    config = config or PurchaseConfig()
    z = service_z(config.service_level)
    requirements = plan.select("product_id", "week_start", pl.col("production_qty").alias("qty")).filter(pl.col("qty") > 0)
    gross = explode_bom(requirements, bom, on_hand)
    leaves = set(bom["component_product_id"].to_list()) - set(bom["parent_product_id"].to_list())
    gross = gross.filter(pl.col("product_id").is_in(list(leaves)))
    weeks = sorted(set(plan["week_start"].to_list()))
    n_weeks = max(len(weeks), 1)
    receipts = scheduled_receipts(open_pos, as_of)
    stock = dict(on_hand.select("product_id", pl.col("on_hand_qty").cast(pl.Float64)).iter_rows())
    suppliers = {r["product_id"]: r for r in choose_suppliers(lead_times, config).iter_rows(named=True)}
    master = {r["product_id"]: r for r in products.iter_rows(named=True)}
    materials = sorted(set(gross["product_id"].to_list()) | (set(receipts["product_id"].to_list()) & leaves))
    need_by_week = _by_week(gross, "gross_qty")
    receipt_by_week = _by_week(receipts, "receipt_qty")

    rows = []
    for pid in materials:
        item = master.get(pid, {})
        sup = suppliers.get(pid)
        # A supplier with only open lines has no lead-time history yet: the default stands in for it.
        mean_days = sup["mean_days"] if sup and sup["mean_days"] is not None else config.default_lead_time_days
        p90_days = sup["p90_days"] if sup and sup["p90_days"] is not None else mean_days
        sd_days = sup["std_days"] if sup and sup["std_days"] is not None else 0.0
        std_cost = float(item.get("unit_cost_krw", item.get("unit_cost")) or 0.0)
        sup_krw = sup.get("mean_unit_cost_krw", sup.get("mean_unit_cost")) if sup else None
        price = sup_krw if sup_krw is not None else std_cost
        original = (sup["mean_unit_cost"], sup.get("currency")) if sup_krw is not None else (
            item.get("unit_cost"), item.get("currency"))
        lot = item.get("lot_size")
        weekly = [need_by_week.get(pid, {}).get(w, 0.0) for w in weeks]
        mean_week = sum(weekly) / n_weeks
        var_week = sum((q - mean_week) ** 2 for q in weekly) / max(n_weeks - 1, 1)
        d_day, sd_day = mean_week / 7.0, math.sqrt(var_week / 7.0)
        ss = safety_stock(z, d_day, sd_day, mean_days, sd_days)
        rop = reorder_point(d_day, mean_days, ss)
        rate = item.get("holding_cost_rate")
        rate = config.default_holding_cost_rate if rate is None else rate
        ordering = item.get("ordering_cost")
        ordering = config.default_ordering_cost if ordering is None else ordering
        q_eoq = eoq(mean_week * config.weeks_per_year, ordering, std_cost * rate)
        base = dict(product_id=pid, supplier_id=sup["supplier_id"] if sup else None, eoq=q_eoq,
                    reorder_point=rop, safety_stock=ss, lead_time_p90_days=float(p90_days), unit_cost=original[0],
                    currency=original[1] or "KRW", unit_cost_krw=price)
        projected = stock.get(pid, 0.0)
        timeline = sorted(set(need_by_week.get(pid, {})) | set(receipt_by_week.get(pid, {})))
        raised = False
        for week in timeline:
            projected += receipt_by_week.get(pid, {}).get(week, 0.0) - need_by_week.get(pid, {}).get(week, 0.0)
            if projected >= ss - 1e-9:
                continue
            net = ss - projected
            qty = round_up_to_lot(max(net, q_eoq), lot)
            order_by = week - timedelta(days=math.ceil(p90_days))
            rows.append({**base, "need_date": week, "order_by_date": order_by, "recommended_qty": qty,
                         "projected_on_hand": projected, "net_requirement": net,
                         "reason": _reason(pid, week, projected, ss, qty, q_eoq, lot, base["supplier_id"], order_by, p90_days, as_of)})
            projected += qty
            raised = True
        position = stock.get(pid, 0.0) + sum(receipt_by_week.get(pid, {}).values())
        if not raised and position < rop - 1e-9:
            qty = round_up_to_lot(max(q_eoq, rop - position), lot)
            rows.append({**base, "need_date": as_of + timedelta(days=math.ceil(p90_days)), "order_by_date": as_of,
                         "recommended_qty": qty, "projected_on_hand": position, "net_requirement": 0.0,
                         "reason": f"Inventory position of {pid} ({position:,.0f} on hand and on order) is below its "
                                   f"reorder point {rop:,.0f}; order {qty:,.0f} now (EOQ {q_eoq:,.0f})."})
    for row in rows:
        row["order_value_krw"] = row["recommended_qty"] * (row["unit_cost_krw"] or 0.0)
        row["days_late"] = max((as_of - row["order_by_date"]).days, 0)
    out = pl.DataFrame(rows, schema=OUTPUT_SCHEMA) if rows else pl.DataFrame(schema=OUTPUT_SCHEMA)
    return out.select(OUTPUT_SCHEMA.keys()).sort("order_by_date", "product_id")


def _by_week(frame: pl.DataFrame, column: str) -> dict[str, dict[date, float]]:
    out: dict[str, dict[date, float]] = {}
    for pid, week, qty in frame.select("product_id", "week_start", column).iter_rows():
        out.setdefault(pid, {})[week] = out.get(pid, {}).get(week, 0.0) + qty
    return out


def _reason(pid, week, projected, ss, qty, q_eoq, lot, supplier, order_by, p90_days, as_of) -> str:
    late = " That date has passed: expedite." if order_by < as_of else ""
    moq = f", MOQ {lot:,.0f}" if lot else ""
    return (
        f"Projected stock of {pid} falls to {projected:,.0f} in the week of {week}, below its safety stock "
        f"{ss:,.0f}; order {qty:,.0f} (EOQ {q_eoq:,.0f}{moq}) from {supplier or 'an unassigned supplier'} by "
        f"{order_by} to cover the P90 lead time of {p90_days:,.0f} days.{late}"
    )

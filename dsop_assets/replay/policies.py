"""What each policy decides on a week's Sunday: the next week's production and the POs to place.

* ``dsop``: the production plan (planning/assets.build_plan_inputs + solve_plan) made from the
  simulated stock and order book and the forecast of that origin, then the purchase
  recommendations (recommend_purchases) from it. A plan the gate refuses is not acted on: the
  previous usable plan's week is made instead (nothing, if there is none), as in production
  (``act_on_refused`` overrides that, for diagnosis only).
* ``order_up_to_{k}x_ma4``: make max(0, k x MA4 + overdue backlog - on hand) of each good, MA4 the
  mean weekly quantity ordered in the last 4 weeks (order dates known by the Sunday).
* ``orders_plus_1wk_ma4``: make max(0, open orders requested by the next Sunday + MA4 - on hand).
* ``erp_actual``: what the ERP made that week (daily_production), with the ERP's real receipts.

The rules round up to whole lots and make their sub-assemblies lot-for-lot; their materials are
bought by the same MRP as dsop's (recommend_purchases, fed the rule's quantity this week and MA4 per
week after), so the comparison is about production decisions, not a weaker purchasing rule. The
simulator cuts every policy to the same line hours (fit_to_lines) and the same components on hand.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from dsop_assets.decision_inputs import as_of
from dsop_assets.planning.assets import build_plan_inputs, solve_plan
from dsop_assets.planning.config import PlanConfig, PurchaseConfig
from dsop_assets.planning.inventory_policy import round_up_to_lot
from dsop_assets.planning.purchasing import recommend_purchases
from dsop_assets.replay.data import MA_WEEKS, ReplayData, lead_times_known, real_lead_days
from dsop_assets.replay.simulator import Receipt, State

DSOP, ERP = "dsop", "erp_actual"


@dataclass
class Decision:
    production: dict[str, float]
    purchases: list[Receipt] = field(default_factory=list)
    status: str = "ok"
    seconds: float = 0.0  # wall time of the decision (reported beside the table, never in it)


@dataclass
class Context:
    data: ReplayData
    components: dict[str, list[tuple[str, float]]]
    plan_config: PlanConfig
    purchase_config: PurchaseConfig
    last_plan: pl.DataFrame | None = None  # dsop's last plan that passed the gate
    # Diagnosis only: act on a plan the gate refused (the product never does); tells whether the
    # plans themselves, rather than the gate's refusals, win or lose.
    act_on_refused: bool = False


def moving_average(data: ReplayData, origin: date) -> dict[str, float]:
    day = as_of(origin)
    recent = data.orders.filter((pl.col("order_date") > day - timedelta(weeks=MA_WEEKS)) & (pl.col("order_date") <= day))
    return dict(recent.group_by("product_id").agg(pl.col("order_qty").sum() / MA_WEEKS).sort("product_id").iter_rows())


def open_book(state: State, until: date | None = None) -> dict[str, float]:
    out: dict[str, float] = {}
    for o in state.orders:
        if until is None or o.requested <= until:
            out[o.product_id] = out.get(o.product_id, 0.0) + o.open_qty
    return out


def orders_frame(state: State) -> pl.DataFrame:
    return pl.DataFrame([{"product_id": o.product_id, "requested_delivery_date": o.requested, "open_qty": o.open_qty}
                         for o in state.orders],
                        schema={"product_id": pl.String, "requested_delivery_date": pl.Date, "open_qty": pl.Float64})


def stock_frame(state: State) -> pl.DataFrame:
    return pl.DataFrame({"product_id": sorted(state.stock), "on_hand_qty": [max(state.stock[k], 0.0) for k in sorted(state.stock)]},
                        schema={"product_id": pl.String, "on_hand_qty": pl.Float64})


def pos_frame(state: State) -> pl.DataFrame:
    """Open POs as the planner sees them: promised dates, not the (unknown) real arrival."""
    return pl.DataFrame([{"product_id": r.product_id, "order_qty": r.qty, "promised_date": r.promised,
                          "received_date": None, "received_qty": None} for r in state.receipts],
                        schema={"product_id": pl.String, "order_qty": pl.Float64, "promised_date": pl.Date,
                                "received_date": pl.Date, "received_qty": pl.Float64})


def place_purchases(ctx: Context, origin: date, plan: pl.DataFrame, tree: pl.DataFrame, state: State) -> tuple[list[Receipt], int]:
    """Runs the MRP and places every recommendation whose order-by date falls before the next
    decision; each line arrives after the real lead time of that material at that time. Returns the
    placed lines and how many recommendations had no supplier (the product does not place those)."""
    day = as_of(origin)
    lead = lead_times_known(ctx.data, origin)
    recs = recommend_purchases(plan, tree, ctx.data.products[origin], stock_frame(state), pos_frame(state), lead, day,
                               ctx.purchase_config)
    due = recs.filter(pl.col("order_by_date") <= day + timedelta(days=7))
    mean_days = {(r["product_id"], r["supplier_id"]): r["mean_days"] for r in lead.iter_rows(named=True)}
    placed, orphans = [], 0
    for r in due.sort("product_id", "need_date").iter_rows(named=True):
        if r["supplier_id"] is None:
            orphans += 1
            continue
        quoted = mean_days.get((r["product_id"], r["supplier_id"])) or ctx.purchase_config.default_lead_time_days
        real = real_lead_days(ctx.data, r["product_id"], r["supplier_id"], day, quoted)
        placed.append(Receipt(r["product_id"], day + timedelta(days=real), float(r["recommended_qty"]),
                              day + timedelta(days=math.ceil(quoted)), r["supplier_id"]))
    return placed, orphans


def decide_dsop(ctx: Context, origin: date, state: State) -> Decision:
    began = time.perf_counter()
    execute = origin + timedelta(days=7)
    data, config = ctx.data, ctx.plan_config
    products = data.products[origin]
    forecast = data.forecasts[origin]
    status = "ok"
    if forecast.is_empty():
        status = "no forecast for this origin"
    else:
        inputs = build_plan_inputs(origin, forecast, orders_frame(state), stock_frame(state), products, data.bom,
                                   data.lines, config)
        outcome = solve_plan(inputs, config)
        if not outcome.usable:
            status = outcome.failure or "gate refused: " + "; ".join(outcome.gate or [])
        if outcome.usable or (ctx.act_on_refused and outcome.result is not None):
            ctx.last_plan = outcome.result.plan.select("product_id", "week_start", "production_qty")
            status = status if outcome.usable else status + " (acted on anyway)"
    plan = ctx.last_plan.filter(pl.col("week_start") >= execute) if ctx.last_plan is not None else None
    if plan is None or plan.is_empty():
        return Decision({}, [], status + " (no usable plan: nothing made or bought)" if status != "ok" else status,
                        time.perf_counter() - began)
    if status != "ok" and not status.endswith("(acted on anyway)"):
        status += " (previous plan used)"
    production = dict(plan.filter(pl.col("week_start") == execute).select("product_id", "production_qty").iter_rows())
    planned = plan["product_id"].unique().to_list()
    tree = data.bom.filter(~pl.col("component_product_id").is_in(planned))  # planned subs bring their own need
    placed, orphans = place_purchases(ctx, origin, plan, tree, state)
    if orphans:
        status += f"; {orphans} material(s) without a supplier not bought"
    return Decision({k: v for k, v in production.items() if v > 1e-9}, placed, status, time.perf_counter() - began)


def decide_rule(ctx: Context, origin: date, state: State, rule: str, k: float = 0.0) -> Decision:
    began = time.perf_counter()
    execute = origin + timedelta(days=7)
    data = ctx.data
    products = data.products[origin]
    goods = set(products.filter(pl.col("product_type") == "finished_good")["product_id"].to_list())
    lots = dict(products.select("product_id", "lot_size").iter_rows())
    ma = moving_average(data, origin)
    overdue = open_book(state, execute - timedelta(days=1))
    due = open_book(state, as_of(execute))
    made: dict[str, float] = {}
    for item in sorted(goods & (set(ma) | set(due))):
        on_hand = max(state.stock.get(item, 0.0), 0.0)
        if rule == "order_up_to":
            need = k * ma.get(item, 0.0) + overdue.get(item, 0.0) - on_hand
        else:
            need = due.get(item, 0.0) + ma.get(item, 0.0) - on_hand
        qty = round_up_to_lot(need, lots.get(item))
        if qty > 1e-9:
            made[item] = qty
    made |= sub_assemblies(made, ctx.components, state, set(products.filter(pl.col("production_line").is_not_null()
                                                                         & ~pl.col("product_id").is_in(list(goods)))
                                                         ["product_id"].to_list()), lots)
    weeks = [execute + timedelta(weeks=i) for i in range(ctx.plan_config.horizon_weeks)]
    rows = [(g, weeks[0], made.get(g, 0.0)) for g in sorted(goods) if made.get(g)]
    rows += [(g, w, ma[g]) for g in sorted(goods & set(ma)) for w in weeks[1:]]
    plan = pl.DataFrame(rows, schema={"product_id": pl.String, "week_start": pl.Date, "production_qty": pl.Float64},
                        orient="row")
    placed, _ = place_purchases(ctx, origin, plan, data.bom, state)
    return Decision(made, placed, "ok", time.perf_counter() - began)


def sub_assemblies(goods_made: dict[str, float], components: dict[str, list[tuple[str, float]]], state: State,
                   in_house: set[str], lots: dict) -> dict[str, float]:
    """Lot-for-lot sub-assemblies for this week's goods, net of their stock (one BOM level, as the plan)."""
    need: dict[str, float] = {}
    for good, qty in goods_made.items():
        for comp, per in components.get(good, []):
            if comp in in_house:
                need[comp] = need.get(comp, 0.0) + qty * per
    out = {}
    for comp in sorted(need):
        qty = round_up_to_lot(need[comp] - max(state.stock.get(comp, 0.0), 0.0), lots.get(comp))
        if qty > 1e-9:
            out[comp] = qty
    return out


def decide_erp(ctx: Context, origin: date) -> Decision:
    execute = origin + timedelta(days=7)
    made = ctx.data.production.filter(pl.col("week_start") == execute)
    return Decision({p: float(q) for p, q in made.sort("product_id").select("product_id", "qty").iter_rows() if q > 0})


RULES = {
    "order_up_to_2x_ma4": ("order_up_to", 2.0),
    "order_up_to_3x_ma4": ("order_up_to", 3.0),
    "orders_plus_1wk_ma4": ("orders_plus_ma", 0.0),
}
POLICIES = (DSOP, *RULES, ERP)


def decide(policy: str, ctx: Context, origin: date, state: State) -> Decision:
    if policy == DSOP:
        return decide_dsop(ctx, origin, state)
    if policy == ERP:
        return decide_erp(ctx, origin)
    rule, k = RULES[policy]
    return decide_rule(ctx, origin, state, rule, k)

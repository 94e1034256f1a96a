"""The closed loop: every policy decides on each Sunday from its own simulated state, then the
simulator runs the following week against the orders that really came in.

Week W's decision executes in W + 7; the next decision (W + 7) starts from the stock, order book
and pipeline that execution left, never from the ERP's stock after the first week. The table has
one row per (policy, executed week); ``summarise`` folds it into one row per policy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from dsop_assets.planning.config import PlanConfig, PurchaseConfig
from dsop_assets.replay.data import (
    ReplayData, bom_structure, costs_of, erp_receipts, opening_receipts, order_lines, orders_placed,
)
from dsop_assets.replay.policies import ERP, POLICIES, Context, decide
from dsop_assets.replay.simulator import State, execute_week

TABLE_SCHEMA = {
    "policy": pl.String, "plan_week": pl.Date, "week_start": pl.Date, "fill_rate": pl.Float64,
    "due_qty": pl.Float64, "otif_qty": pl.Float64, "shipped_qty": pl.Float64, "backlog_qty": pl.Float64,
    "stock_value_krw": pl.Float64, "turns": pl.Float64, "setups": pl.Int64, "overtime_hours": pl.Float64,
    "holding_cost_krw": pl.Float64, "setup_cost_krw": pl.Float64, "backlog_cost_krw": pl.Float64,
    "overtime_cost_krw": pl.Float64, "total_cost_krw": pl.Float64, "short_of_materials_qty": pl.Float64,
    "short_of_subassemblies_qty": pl.Float64,
    "purchases_placed": pl.Int64, "status": pl.String,
}


@dataclass
class ReplayRun:
    table: pl.DataFrame
    seconds: dict[str, list[float]] = field(default_factory=dict)  # policy -> wall time of each decision


def run_replay(data: ReplayData, plan_config: PlanConfig | None = None, purchase_config: PurchaseConfig | None = None,
               policies: tuple[str, ...] = POLICIES, log=None, act_on_refused: bool = False) -> ReplayRun:
    plan_config = plan_config or PlanConfig()
    components, levels = bom_structure(data.bom)
    opening = {p: max(float(q or 0.0), 0.0) for p, q in data.opening_stock.select("product_id", "on_hand_qty").iter_rows()}
    book = order_lines(data.opening_orders, "open_qty")
    rows, seconds = [], {p: [] for p in policies}
    for policy in policies:
        ctx = Context(data, components, plan_config, purchase_config or PurchaseConfig(), act_on_refused=act_on_refused)
        state = State(dict(opening), copy.deepcopy(book), erp_receipts(data) if policy == ERP else opening_receipts(data))
        for origin in data.origins:
            week = origin + timedelta(days=7)
            decision = decide(policy, ctx, origin, state)
            seconds[policy].append(decision.seconds)
            state.receipts.extend(decision.purchases)
            costs = costs_of(data.products[origin], data.lines, plan_config)
            fig = execute_week(state, week, decision.production, orders_placed(data, week), components, levels, costs,
                               limit_by_materials=policy != ERP)
            rows.append({
                "policy": policy, "plan_week": origin, "week_start": week, "fill_rate": fig.fill_rate,
                "due_qty": fig.due_qty, "otif_qty": fig.otif_qty, "shipped_qty": fig.shipped_qty,
                "backlog_qty": fig.backlog_qty, "stock_value_krw": fig.stock_value,
                "turns": 52.0 * fig.shipped_cost / fig.stock_value if fig.stock_value > 0 else None,
                "setups": fig.setups, "overtime_hours": fig.overtime_hours, "holding_cost_krw": fig.holding_cost,
                "setup_cost_krw": fig.setup_cost, "backlog_cost_krw": fig.backlog_cost,
                "overtime_cost_krw": fig.overtime_cost, "total_cost_krw": fig.total_cost,
                "short_of_materials_qty": fig.made_short_of_materials,
                "short_of_subassemblies_qty": fig.made_short_of_subassemblies, "purchases_placed": len(decision.purchases),
                "status": decision.status,
            })
            if log is not None:
                log.info(f"replay {policy} {week}: fill {fig.fill_rate if fig.fill_rate is not None else float('nan'):.3f} "
                         f"cost {fig.total_cost:,.0f} ({decision.seconds:.1f}s) {decision.status}")
    return ReplayRun(pl.DataFrame(rows, schema=TABLE_SCHEMA), seconds)


def summarise(table: pl.DataFrame) -> pl.DataFrame:
    """One row per policy: OTIF over every week's due units, mean stock value, turns (annualised cost of
    goods shipped / mean stock value), setups and costs summed, weeks whose decision was not 'ok'."""
    order = {p: i for i, p in enumerate(POLICIES)}
    return (
        table.group_by("policy").agg(
            (pl.col("otif_qty").sum() / pl.col("due_qty").sum()).alias("fill_rate"),
            pl.col("stock_value_krw").mean().alias("avg_stock_value_krw"),
            (pl.col("turns").fill_null(0.0) * pl.col("stock_value_krw")).sum().alias("_annual_cogs"),
            pl.col("setups").sum(),
            pl.col("holding_cost_krw", "setup_cost_krw", "backlog_cost_krw", "overtime_cost_krw", "total_cost_krw").sum(),
            pl.col("backlog_qty").last().alias("final_backlog_qty"),
            (pl.col("status") != "ok").sum().alias("weeks_not_ok"),
            pl.len().alias("weeks"),
        )
        .with_columns((pl.col("_annual_cogs") / pl.col("weeks") / pl.col("avg_stock_value_krw")).alias("turns"))
        .drop("_annual_cogs")
        .sort(pl.col("policy").replace_strict(order, default=len(order), return_dtype=pl.Int64))
    )


def verdict(summary: pl.DataFrame, fill_target: float = 0.98, cost_ratio: float = 0.85) -> dict:
    """The issue's target: dsop's fill >= fill_target and its cost <= cost_ratio x the cheapest simple
    rule whose fill is not above dsop's (the ERP's history is reported, not a rule to beat)."""
    rows = {r["policy"]: r for r in summary.iter_rows(named=True)}
    mine = rows.get("dsop")
    if mine is None:
        return {"met": False, "reason": "dsop not replayed"}
    rules = [r for p, r in rows.items() if p not in ("dsop", ERP) and (r["fill_rate"] or 0.0) <= (mine["fill_rate"] or 0.0) + 1e-12]
    best = min(rules, key=lambda r: r["total_cost_krw"], default=None)
    fill_ok = (mine["fill_rate"] or 0.0) >= fill_target
    cost_ok = best is not None and mine["total_cost_krw"] <= cost_ratio * best["total_cost_krw"]
    return {"met": bool(fill_ok and cost_ok), "fill_ok": bool(fill_ok), "cost_ok": bool(cost_ok),
            "dsop_fill": mine["fill_rate"], "dsop_cost_krw": mine["total_cost_krw"],
            "best_rule": best["policy"] if best else None,
            "best_rule_cost_krw": best["total_cost_krw"] if best else None,
            "cost_ratio": mine["total_cost_krw"] / best["total_cost_krw"] if best and best["total_cost_krw"] else None}

"""Weekly production plan: a capacitated lot-sizing MILP in Pyomo solved by HiGHS (plan_milp.py).

Shortage is modelled as **backlog**, not lost sales: the plants are order-driven, so an unmet
order is shipped late rather than lost, and it costs its penalty every week it stays open. Net
stock I - B follows the balance I[t] - B[t] = I[t-1] - B[t-1] + make[t] - demand[t].

The safety stock is a soft target (stock + gap >= SS, gap penalised) so a tight week lowers the
cushion instead of making the model infeasible. Only firm orders (``firm_qty``) are hard: the
cumulative supply must cover them on time. When they cannot be covered, ``PlanInfeasible`` says
which line is short in which week and by how many hours; the caller keeps its previous plan.

Products share nothing but their line's hours, so one model per line is solved (parts_of) and the
gap is reported over the sum of incumbents and bounds. The budget is soft: HiGHS 1.16 does not
look at its time limit during root cut separation, which with a warm start ran 5-10 s past a
1-2 s limit on the seed data, so a whole plan can take longer than ``time_limit_seconds``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers import Highs

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.diagnosis import PlanInfeasible, diagnose
from dsop_assets.planning.plan_data import UNCAPACITATED, PlanData, prepare_plan_data
from dsop_assets.planning.plan_milp import build_model, lot_unit, objective_scale, read_make, set_start
from dsop_assets.planning.warm_start import heuristic_plan

log = logging.getLogger(__name__)


@dataclass
class PlanResult:
    plan: pl.DataFrame
    lines: pl.DataFrame
    status: str  # "optimal" (overall gap within mip_rel_gap) or "feasible" (time ran out first)
    termination_condition: str  # worst Pyomo termination over the parts, e.g. "optimal", "maxTimeLimit"
    objective: float
    mip_gap: float  # (sum of incumbents - sum of dual bounds) / sum of incumbents over the parts
    solve_seconds: float
    build_seconds: float
    n_variables: int
    n_integer: int


def make_solver(config: PlanConfig, *, time_limit: float | None = None):
    """Pyomo's appsi HiGHS interface (what SolverFactory("appsi_highs") wraps), kept silent.

    Used directly rather than through the SolverFactory wrapper, whose legacy results object
    carries neither the incumbent nor the dual bound we need for the gap.
    """
    solver = Highs()
    solver.config.mip_gap = float(config.mip_rel_gap)
    solver.config.time_limit = float(config.time_limit_seconds if time_limit is None else time_limit)
    solver.config.load_solution = False  # an incumbent at the time limit is loaded by hand
    solver.config.warmstart = True
    solver.highs_options = {
        "output_flag": False,
        "threads": int(config.threads),
        "random_seed": int(config.random_seed),
    }
    return solver


def parts_of(data: PlanData, decompose: bool) -> list[tuple[list[int], list[int]]]:
    """(products, lines) per independent model: one per line, one for products without a line."""
    everything = (list(range(len(data.products))), list(range(len(data.lines))))
    if not decompose:
        return [everything]
    parts = []
    for l in [*range(len(data.lines)), UNCAPACITATED]:
        members = np.flatnonzero(data.line_of == l).tolist()
        if members:
            parts.append((members, [l] if l != UNCAPACITATED else []))
    return parts


def plan_production(
    demand: pl.DataFrame,
    products: pl.DataFrame,
    lines: pl.DataFrame,
    opening_stock: pl.DataFrame,
    config: PlanConfig | None = None,
) -> PlanResult:
    """Cheapest weekly plan over the horizon; raises ``PlanInfeasible`` with a diagnosis on failure.

    demand: product_id, week_start, p10, p50, p90 [, firm_qty]; products: product_master rows;
    lines: production_line rows; opening_stock: product_id, on_hand_qty (negative = backlog).
    """
    config = config or PlanConfig()
    data = prepare_plan_data(demand, products, lines, opening_stock, config)
    started = time.perf_counter()
    deadline = started + config.time_limit_seconds
    scale = objective_scale(data)
    start_plan = heuristic_plan(data, data.max_production())
    steps = np.zeros_like(data.demand)
    parts = parts_of(data, config.decompose_by_line)
    left = sum(len(members) for members, _ in parts)
    upper = lower = 0.0
    build = solve = 0.0
    n_vars = n_int = 0
    conditions = []
    for members, line_ids in parts:
        t0 = time.perf_counter()
        try:
            m = build_model(data, members, line_ids, ls_window=config.ls_window_weeks, scale=scale)
            set_start(m, data, start_plan)
            solver = make_solver(config)
            solver.set_instance(m)  # Pyomo -> HiGHS translation, counted as build time
            t1 = time.perf_counter()
            # Split what is left by size, holding back what building the rest will likely take.
            per_product = (build + t1 - t0) / (len(data.products) - left + len(members))
            room = deadline - t1 - per_product * (left - len(members))
            solver.config.time_limit = max(room * len(members) / left, config.min_part_seconds)
            results = solver.solve(m)
        except Exception as exc:  # noqa: BLE001 - any solver failure must end in a diagnosis
            raise diagnose(data, config, f"solver error: {exc}") from exc
        log.debug("part %s: %d products, %.1f s limit, %s, %s..%s", line_ids, len(members),
                  solver.config.time_limit, results.termination_condition.name,
                  results.best_objective_bound, results.best_feasible_objective)
        t2 = time.perf_counter()
        build, solve, left = build + t1 - t0, solve + t2 - t1, left - len(members)
        condition = results.termination_condition
        if results.best_feasible_objective is None:
            raise diagnose(data, config, f"no feasible plan ({condition.name})")
        results.solution_loader.load_vars()
        read_make(m, steps)
        upper += results.best_feasible_objective
        bound = results.best_objective_bound
        lower += results.best_feasible_objective if bound is None else min(bound, results.best_feasible_objective)
        conditions.append(condition)
        n_vars += m.nvariables()
        n_int += sum(1 for v in m.component_data_objects(pyo.Var) if not v.is_continuous())
    gap = (upper - lower) / abs(upper) if abs(upper) > 1e-12 else 0.0
    worst = next((c for c in conditions if c != TerminationCondition.optimal), TerminationCondition.optimal)
    qty, lots = _production(data, steps)
    log.debug("plan: %d part(s), build %.2f s, solve %.2f s, gap %.4f", len(parts), build, solve, gap)
    return PlanResult(
        plan=_plan_frame(data, qty, lots),
        lines=_line_frame(data, qty),
        status="optimal" if gap <= config.mip_rel_gap + 1e-9 else "feasible",
        termination_condition=worst.name,
        objective=upper * scale,
        mip_gap=gap,
        solve_seconds=solve,
        build_seconds=build,
        n_variables=n_vars,
        n_integer=n_int,
    )


def _production(data: PlanData, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.maximum(np.round(steps, 6), 0.0)
    lotted = ~np.isnan(data.lot)
    lots = np.where(lotted[:, None], np.round(steps), np.nan)
    qty = np.where(lotted[:, None], np.nan_to_num(lots) * lot_unit(data)[:, None], steps)
    return qty, lots


def _plan_frame(data: PlanData, qty: np.ndarray, lots: np.ndarray) -> pl.DataFrame:
    n_p, n_t = data.demand.shape
    # Rebuild stock and backlog from the rounded production so the balance holds to the unit.
    net = data.opening[:, None] + np.cumsum(qty - data.demand, axis=1)
    end_stock, backlog = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    start = np.concatenate([np.maximum(data.opening, 0.0)[:, None], end_stock[:, :-1]], axis=1)
    return pl.DataFrame(
        {
            "product_id": np.repeat(data.products, n_t).tolist(),
            "week_start": data.weeks * n_p,
            "production_qty": qty.ravel(),
            "lots": lots.ravel(),
            # A setup without output is never optimal (it only costs), so report setups by output.
            "setup": (qty > 1e-9).ravel(),
            "start_inventory": start.ravel(),
            "demand_p50": data.demand.ravel(),
            "safety_stock": data.safety_stock.ravel(),
            "end_inventory": end_stock.ravel(),
            "shortage_qty": backlog.ravel(),
            "line_id": np.repeat(np.array(data.line_label, dtype=object), n_t).tolist(),
            "line_hours": (qty * data.hours[:, None]).ravel(),
        },
        schema_overrides={"line_id": pl.Utf8},
    ).with_columns(pl.col("lots").fill_nan(None))


def _line_frame(data: PlanData, qty: np.ndarray) -> pl.DataFrame:
    rows = []
    for l, line in enumerate(data.lines):
        members = data.line_of == l
        hours = (qty[members] * data.hours[members, None]).sum(axis=0)
        for t, week in enumerate(data.weeks):
            overtime = max(0.0, hours[t] - data.regular[l])
            capacity = data.regular[l] + data.overtime[l]
            rows.append(
                {
                    "line_id": line,
                    "week_start": week,
                    "regular_hours_used": min(hours[t], data.regular[l]),
                    "overtime_hours": overtime,
                    "capacity_hours": capacity,
                    "utilisation": hours[t] / capacity if capacity > 0 else 0.0,
                }
            )
    return pl.DataFrame(rows, schema={
        "line_id": pl.Utf8, "week_start": pl.Date, "regular_hours_used": pl.Float64,
        "overtime_hours": pl.Float64, "capacity_hours": pl.Float64, "utilisation": pl.Float64,
    })


__all__ = ["PlanConfig", "PlanInfeasible", "PlanResult", "plan_production"]

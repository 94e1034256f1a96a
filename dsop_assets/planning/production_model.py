"""Weekly production plan: a capacitated lot-sizing MILP in Pyomo solved by HiGHS (plan_milp.py).

Shortage is modelled as **backlog**, not lost sales: the plants are order-driven, so an unmet
order is shipped late rather than lost, and it costs its penalty every week it stays open. Net
stock I - B follows the balance I[t] - B[t] = I[t-1] - B[t-1] + make[t] - demand[t].

The safety stock is a soft target (stock + gap >= SS, gap penalised) so a tight week lowers the
cushion instead of making the model infeasible. Only firm orders (``firm_qty``) are hard: the
cumulative supply must cover them on time. When they cannot be covered, ``PlanInfeasible`` says
which line is short in which week and by how many hours; the caller keeps its previous plan.

Products share nothing but their line's hours, so one model per line is solved (parts_of) and the
gap is reported over the sum of incumbents and bounds. Parts still short of the gap get a second
run with whatever time parts that closed early left over. On seed-scale lines HiGHS stayed at the
root for the whole budget (its root cut separation ignores the time limit and overran it by
5-15 s) and only proved a 17 % gap, so lines of SEARCH_MIN_PRODUCTS or more skip the MILP:
local_search.py plans them (Lagrangian prices, one-product best responses, small exact windows)
and lower_bound.py proves their bound; the seed benchmark then ends within the budget at ~1.3 %.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.diagnosis import PlanInfeasible, diagnose
from dsop_assets.planning.plan_data import UNCAPACITATED, PlanData, prepare_plan_data
from dsop_assets.planning.plan_milp import build_model, lot_unit, make_solver, objective_scale, read_make, set_start
from dsop_assets.planning.local_search import search_line
from dsop_assets.planning.lot_heuristic import lot_sizing_plan, plan_cost
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
    # The wall-clock budget ended a part (HiGHS time limit or the search's deadline): such a plan may
    # differ on a rerun or a busier machine, and the plan gate refuses it.
    time_capped: bool = False
    avoidable_backlog_qty: float = 0.0  # backlog a line had the spare hours to make (must be 0)
    avoidable_backlog_products: int = 0


# Below this many products a line's model gets past the root within its share and HiGHS improves
# either start; there the order-up-to start ended lower on the 60-product test (0.6 % against
# 0.8-1.2 % gap), while on the seed-scale lines HiGHS never leaves the root and keeps the start.
LOT_START_MIN_PRODUCTS = 20
# From this many products a line skips the full MILP, whose root alone overran the budget by
# 5-15 s at seed scale and closed less of the gap than the Lagrangian bound of lower_bound.py;
# local_search.py plans it and proves its gap instead. Smaller lines keep HiGHS's exact solve.
SEARCH_MIN_PRODUCTS = 20


def warm_start(data: PlanData) -> np.ndarray:
    """Per line, the cheaper of the two heuristic plans: lines share nothing, so mixing is free."""
    bound = data.max_production()
    plan = heuristic_plan(data, bound)
    other = lot_sizing_plan(data, bound)
    if other is None:
        return plan
    for l in [*range(len(data.lines)), UNCAPACITATED]:
        on = data.line_of == l
        if on.sum() >= LOT_START_MIN_PRODUCTS and plan_cost(data, other, on) < plan_cost(data, plan, on):
            plan[on] = other[on]
    return plan


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
    start_plan = warm_start(data)
    steps = np.zeros_like(data.demand)
    parts = parts_of(data, config.decompose_by_line)
    left = sum(len(members) for members, _ in parts)
    build = solve = 0.0
    n_vars = n_int = 0
    solved = []  # per part: [model, solver, incumbent, bound, termination]
    searched = []  # per large part: [members, upper, lower, termination], costs scaled
    for members, line_ids in parts:
        t0 = time.perf_counter()
        if line_ids and len(members) >= SEARCH_MIN_PRODUCTS:
            share = (deadline - t0) * len(members) / left
            start_plan, upper, lower = search_line(data, start_plan, members, line_ids[0], scale, config, t0 + share)
            late = time.perf_counter() >= t0 + share - 0.1
            searched.append([members, upper / scale, lower / scale,
                             TerminationCondition.maxTimeLimit if late else TerminationCondition.unknown])
            solve, left = solve + time.perf_counter() - t0, left - len(members)
            n_vars += len(members) * len(data.weeks) * 5 + len(data.weeks)
            n_int += (len(members) + int((~np.isnan(data.lot[members])).sum())) * len(data.weeks)
            continue
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
        if results.best_feasible_objective is None:
            raise diagnose(data, config, f"no feasible plan ({results.termination_condition.name})")
        results.solution_loader.load_vars()
        bound = results.best_objective_bound
        upper = results.best_feasible_objective
        solved.append([m, solver, upper, upper if bound is None else min(bound, upper), results.termination_condition])
        n_vars += m.nvariables()
        n_int += sum(1 for v in m.component_data_objects(pyo.Var) if not v.is_continuous())
    solve += _spend_leftover(solved, deadline, config)
    for m, *_ in solved:
        read_make(m, steps)
    for members, *_ in searched:
        steps[members] = start_plan[members] / lot_unit(data)[members, None]
    upper = sum(part[2] for part in solved) + sum(part[1] for part in searched)
    lower = sum(part[3] for part in solved) + sum(part[2] for part in searched)
    gap = (upper - lower) / abs(upper) if abs(upper) > 1e-12 else 0.0
    conditions = [part[4] for part in solved]
    for *_, up, low, condition in searched:
        conditions.append(TerminationCondition.optimal if up - low <= config.mip_rel_gap * abs(up) + 1e-9 else condition)
    worst = next((c for c in conditions if c != TerminationCondition.optimal), TerminationCondition.optimal)
    qty, lots = _production(data, steps)
    avoidable = avoidable_backlog(data, qty)
    capped = any(c == TerminationCondition.maxTimeLimit for c in [part[4] for part in solved] +
                 [part[3] for part in searched])
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
        time_capped=capped,
        avoidable_backlog_qty=float(avoidable.sum()),
        avoidable_backlog_products=int((avoidable.sum(axis=1) > 1e-6).sum()),
    )


def avoidable_backlog(data: PlanData, qty: np.ndarray) -> np.ndarray:
    """[p, t] backlog the product's line had the spare hours to make in that week or before.

    Per backlogged product-week: the most units (whole lots) the line's unused regular+overtime
    hours of any week up to t could have made, capped at the backlog. A product without a
    capacity-bound line could always have been made, so all its backlog is avoidable.
    """
    net = data.opening[:, None] + np.cumsum(qty - data.demand, axis=1)
    backlog = np.maximum(-net, 0.0)
    backlog[backlog < 1e-6] = 0.0
    out = np.zeros_like(backlog)
    for p in np.flatnonzero(backlog.sum(axis=1) > 0):
        l = data.line_of[p]
        if l == UNCAPACITATED or data.hours[p] <= 0:
            out[p] = backlog[p]
            continue
        on = data.line_of == l
        spare = data.regular[l] + data.overtime[l] - (qty[on] * data.hours[on, None]).sum(axis=0)
        units = np.maximum.accumulate(np.maximum(spare, 0.0)) / data.hours[p]
        if not np.isnan(data.lot[p]):
            units = np.floor(units / data.lot[p] + 1e-9) * data.lot[p]
        out[p] = np.minimum(backlog[p], units)
    return out


def _spend_leftover(solved: list, deadline: float, config: PlanConfig) -> float:
    """Re-solves the parts still short of the gap, widest first, with the time earlier parts left.

    Parts that close their gap early leave budget the time-limited ones could not see when their
    share was fixed; a second run starts from their incumbent, and either run's bound is valid.
    """
    spent = 0.0
    while True:
        open_parts = [part for part in solved if part[2] - part[3] > config.mip_rel_gap * abs(part[2]) + 1e-9]
        room = deadline - time.perf_counter()
        if not open_parts or room < config.min_part_seconds:
            return spent
        part = max(open_parts, key=lambda q: q[2] - q[3])
        m, solver = part[0], part[1]
        solver.config.time_limit = room
        t0 = time.perf_counter()
        results = solver.solve(m)
        spent += time.perf_counter() - t0
        if results.best_feasible_objective is not None and results.best_feasible_objective < part[2]:
            results.solution_loader.load_vars()
            part[2], part[4] = results.best_feasible_objective, results.termination_condition
        if results.best_objective_bound is not None:
            part[3] = max(part[3], min(results.best_objective_bound, part[2]))
        if part[2] - part[3] <= config.mip_rel_gap * abs(part[2]) + 1e-9:
            part[4] = TerminationCondition.optimal
        elif results.termination_condition == TerminationCondition.maxTimeLimit:
            return spent


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

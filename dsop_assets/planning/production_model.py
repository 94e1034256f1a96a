"""Weekly production plan: a capacitated lot-sizing MILP in Pyomo solved by HiGHS (plan_milp.py).

Shortage is modelled as **backlog**, not lost sales: the plants are order-driven, so an unmet
order is shipped late rather than lost, and it costs its penalty every week it stays open. Net
stock I - B follows the balance I[t] - B[t] = I[t-1] - B[t-1] + make[t] - demand[t].

The safety stock is a soft target (stock + gap >= SS, gap penalised) so a tight week lowers the
cushion instead of making the model infeasible. Only firm orders (``firm_qty``) are hard: the
cumulative supply must cover them on time. When they cannot be covered, ``PlanInfeasible`` says
which line is short in which week and by how many hours; the caller keeps its previous plan.

Products share nothing but their line's hours, so each line is planned on its own and the gap is
reported over the sum of incumbents and bounds. A line is planned by column generation
(column_generation.py): its LP over each product's whole plans is the Lagrangian bound of the
capacity rows, and rounding that LP, a dive and HiGHS on the whole-plan master give the plan. On a
replayed week whose worst line was backlogged for its whole horizon (2026-06-15, L02) it proved
0.5 % in 16 s, where HiGHS on the line's MILP stood at 6 % after 90 s. Products without a line
(and the single model of everything, ``decompose_by_line=False``) go to HiGHS directly.

Every part stops on deterministic work limits (node and round counts, PlanConfig), never on the
clock, so the same inputs give the same plan on an idle machine and a busy one. End-of-horizon
backlog pays ``terminal_backlog_weeks`` more weeks of penalty so the last weeks' demand is made.
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
from dsop_assets.planning.diagnosis import PlanInfeasible, diagnose, firm_capacity_shortfalls
from dsop_assets.planning.plan_data import UNCAPACITATED, PlanData, prepare_plan_data
from dsop_assets.planning.plan_milp import build_model, lot_unit, make_solver, objective_scale, read_make, set_start
from dsop_assets.planning.column_generation import plan_line
from dsop_assets.planning.local_search import sweep
from dsop_assets.planning.lot_heuristic import fits, lot_sizing_plan, plan_cost
from dsop_assets.planning.multi_level import (
    component_links, echelon_hours, follow_batches, levels_of, lot_hours, overloaded, subset,
)
from dsop_assets.planning.warm_start import firm_plan, heuristic_plan

log = logging.getLogger(__name__)


@dataclass
class PlanResult:
    plan: pl.DataFrame
    lines: pl.DataFrame
    status: str  # "optimal" (overall gap within mip_rel_gap) or "feasible" (time ran out first)
    termination_condition: str  # worst Pyomo termination over the parts, e.g. "optimal", "maxTimeLimit"
    objective: float
    mip_gap: float  # (sum of incumbents - sum of dual bounds) / sum of incumbents over the parts
    # The gap against a bound that also holds when sub-assemblies are made before their parents'
    # week or come from stock (the planning model makes them in the parent's week); their own cost
    # counts as zero there. What pre-building sub-assemblies could at most save; the gate reads mip_gap.
    gap_any_timing: float
    solve_seconds: float
    build_seconds: float
    n_variables: int
    n_integer: int
    # The safety-net time limit ended a solve instead of a work limit: such a plan may differ on a
    # rerun or a busier machine, and the plan gate refuses it.
    time_capped: bool = False
    avoidable_backlog_qty: float = 0.0  # backlog a line had the spare hours to make (must be 0)
    avoidable_backlog_products: int = 0
    # Lines that cannot make their firm orders on time, and by how many hours (diagnosis rows): the
    # plan makes those orders as early as it can and backlogs the rest.
    late_firm: pl.DataFrame | None = None


# Below this many products a line's model gets past the root within its share and HiGHS improves
# either start; there the order-up-to start ended lower on the 60-product test (0.6 % against
# 0.8-1.2 % gap), while on the seed-scale lines HiGHS never leaves the root and keeps the start.
LOT_START_MIN_PRODUCTS = 20
# A line with fewer products than this whose column-generation gap stays open goes on to HiGHS's
# MILP from that plan: small lines are where the Lagrangian bound is weakest (few products to mix)
# and where HiGHS proves the optimum within its node limit.
EXACT_MAX_PRODUCTS = 20
WHOLE_UNIT = 1.0


def warm_start(data: PlanData, config: PlanConfig) -> np.ndarray:
    """Per line, the cheaper of the two heuristic plans that fits the line; lines share nothing, so
    mixing is free. A line neither fits (their rules can miss a firm order when the line is tight)
    starts from its firm orders made as late as possible, improved by one-product best responses.
    ``data.firm`` must already fit every line (``soften_late_firm``).
    """
    bound = data.max_production()
    plan = heuristic_plan(data, bound)
    other = lot_sizing_plan(data, bound)
    for l in [*range(len(data.lines)), UNCAPACITATED]:
        on = data.line_of == l
        if not on.any():
            continue
        other_fits, plan_fits = fits(data, other, l), fits(data, plan, l)
        prefer_other = on.sum() >= LOT_START_MIN_PRODUCTS and plan_cost(data, other, on) < plan_cost(data, plan, on)
        if other_fits and (prefer_other or not plan_fits):
            plan[on] = other[on]
        elif not plan_fits and l != UNCAPACITATED:
            made = firm_plan(data, l)
            members = np.flatnonzero(on).tolist()
            made, _ = sweep(data, made, members, l, on, plan_cost(data, made, on))
            plan[on] = made[on]
    return plan


def soften_late_firm(data: PlanData, config: PlanConfig) -> pl.DataFrame:
    """The short line-weeks of lines whose firm orders cannot be made on time; on those lines the
    firm orders become ordinary demand (backlogged at the penalty). Raises ``PlanInfeasible``
    instead when ``firm_orders_when_short`` is "refuse"."""
    short = firm_capacity_shortfalls(data)
    late = set(short["line_id"].to_list())
    for l, line in enumerate(data.lines):  # lots can make orders that pass the arithmetic still miss
        if line not in late and not fits(data, firm_plan(data, l), l):
            late.add(line)
            short = pl.concat([short, pl.DataFrame([(line, data.weeks[0], None, None, None, "firm orders in whole lots")],
                                                   schema=short.schema, orient="row")])
    if late and config.firm_orders_when_short == "refuse":
        raise diagnose(data, config, "firm orders exceed line capacity")
    for l, line in enumerate(data.lines):
        if line in late:
            data.firm[data.line_of == l] = 0.0
    return short


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
    bom: pl.DataFrame | None = None,
) -> PlanResult:
    """Cheapest weekly plan over the horizon; raises ``PlanInfeasible`` with a diagnosis on failure.

    demand: product_id, week_start, p10, p50, p90 [, firm_qty]; products: product_master rows;
    lines: production_line rows; opening_stock: product_id, on_hand_qty (negative = backlog).
    bom: when given, planned products that are components of other planned products (in-house
    sub-assemblies) follow their parents' planned batches (multi_level.py) instead of being
    planned against their own demand rows.
    """
    config = config or PlanConfig()
    data = prepare_plan_data(demand, products, lines, opening_stock, config)
    started = time.perf_counter()
    links = component_links(data.products, bom)
    subs = np.flatnonzero(links.sum(axis=0) > 0)
    if subs.size == 0:
        solved = _plan_parts(data, config)
        full, qty = data, solved.qty
    else:
        levels = levels_of(data.products, bom)
        tops = np.setdiff1d(np.arange(len(data.products)), subs)
        top_data = subset(data, tops)
        echelon = echelon_hours(data, links, levels)
        top_data.hours = echelon[tops]
        # Hours already embodied in sub-assemblies on hand, per line: the goods' bound may spend them.
        credit = np.array([float((echelon[subs] * np.maximum(data.opening[subs], 0.0))[data.line_of[subs] == l].sum())
                           for l in range(len(data.lines))])
        solved = _plan_parts(top_data, config, banked=(data.hours[tops], credit))
        goods_gap = (solved.upper - solved.lower) / abs(solved.upper) if abs(solved.upper) > 1e-12 else 0.0
        unit_hours = lot_hours(data, links, levels)
        capped: list[bool] = []  # a sub-assembly schedule that ended on HiGHS's safety-net time limit
        full, qty, sub_bound = _with_sub_assemblies(data, solved.qty, tops, subs, links, levels, capped)
        # The planning model's own plan and bound: goods on echelon hours, sub-assemblies following.
        model_upper = solved.upper + plan_cost(full, qty) - plan_cost(top_data, solved.qty)
        model_lower = solved.lower + sub_bound
        # The goods were planned on echelon hours; the sub-assemblies' stock usually leaves real hours
        # spare, and backlog a line could have made there is a planning error (the gate's rule).
        for _ in range(MAX_CLEARING_ROUNDS):
            cleared = clear_avoidable_backlog(full, qty, unit_hours)
            if np.array_equal(cleared[tops], qty[tops]):
                break
            full, qty, sub_bound = _with_sub_assemblies(data, cleared[tops], tops, subs, links, levels, capped)
        solved.capped |= bool(capped)
        solved.upper += plan_cost(full, qty) - plan_cost(top_data, solved.qty)
        # The goods' bound counts overtime on echelon hours and the sub-assemblies' on batches made in
        # their parents' week, so the real plan (sub-assemblies from stock, backlog cleared on real
        # hours) can cost less than their sum: the gap reported is then at least the goods' own.
        lower = min(model_lower, model_lower * solved.upper / max(model_upper, 1e-12))
        solved.lower = min(lower, solved.upper * (1.0 - goods_gap))
        solved.lower_any_timing = min(solved.lower_any_timing, solved.upper)
    gap = (solved.upper - solved.lower) / abs(solved.upper) if abs(solved.upper) > 1e-12 else 0.0
    gap_any = (solved.upper - solved.lower_any_timing) / abs(solved.upper) if abs(solved.upper) > 1e-12 else 0.0
    worst = next((c for c in solved.conditions if c != TerminationCondition.optimal), TerminationCondition.optimal)
    if worst == TerminationCondition.optimal and gap > config.mip_rel_gap + 1e-6:
        # Every line was proved, but the sub-assemblies' step opened the gap: no part stopped "optimal".
        worst = TerminationCondition.maxIterations
    qty, lots = _production(full, qty / lot_unit(full)[:, None])
    avoidable = avoidable_backlog(full, qty, unit_hours if subs.size else None)
    work = solved.work
    log.debug("plan: gap %.4f (%.1f s in all)", gap, time.perf_counter() - started)
    return PlanResult(
        plan=_plan_frame(full, qty, lots),
        lines=_line_frame(full, qty),
        status="optimal" if worst == TerminationCondition.optimal else "feasible",
        termination_condition=worst.name,
        objective=solved.upper,
        mip_gap=gap,
        gap_any_timing=gap_any,
        solve_seconds=time.perf_counter() - started - work.build_seconds,
        build_seconds=work.build_seconds,
        n_variables=work.n_variables,
        n_integer=work.n_integer,
        time_capped=solved.capped,
        avoidable_backlog_qty=float(avoidable.sum()),
        avoidable_backlog_products=int((avoidable.sum(axis=1) > 1e-6).sum()),
        late_firm=solved.late_firm,
    )


def _with_sub_assemblies(data: PlanData, top_qty: np.ndarray, tops: np.ndarray, subs: np.ndarray, links: np.ndarray,
                         levels: np.ndarray, capped: list[bool] | None = None) -> tuple[PlanData, np.ndarray, float]:
    """(data whose sub-assembly demand is their need, the whole plan, a bound on the sub-assemblies'
    cost given the goods' plan): sub-assemblies follow the goods' batches; where a sub-assembly's lot
    finds no hours up to its need, the good on that line-week whose lot costs least per hour freed
    loses one until the line fits (the good is then backlogged, not overbooked). After
    MAX_SUB_REPAIRS cuts a line may still be over; ``production_plan_line_within_capacity`` says so."""
    made = np.zeros_like(data.demand)
    made[tops] = top_qty
    unit = lot_unit(data)
    for _ in range(MAX_SUB_REPAIRS):
        full = subset(data, np.arange(len(data.products)))
        planned, sub_bound = follow_batches(full, made, subs, links, levels, capped)
        over = overloaded(full, planned)
        if not over:
            break
        l, t = over[0]
        candidates = [p for p in tops if data.line_of[p] == l and made[p, t] > 1e-9 and data.hours[p] > 0]
        if not candidates:
            break
        # Each candidate gives up one lot (half a continuous batch) in week t: the lot moves to the
        # first later week whose real hours hold it with its sub-assemblies, or leaves the plan.
        # Dropping it leaves the good below its safety stock for the rest of the horizon (six such
        # cuts cost 17.9 bn KRW on a replayed week); a week's delay usually costs far less.
        echelon = lot_hours(data, links, levels)
        spare = np.array([data.regular[l] + data.overtime[l]] * len(data.weeks)) - \
            (planned[data.line_of == l] * data.hours[data.line_of == l, None]).sum(axis=0)
        moves = []
        for q in candidates:
            step = min(unit[q], made[q, t]) if not np.isnan(data.lot[q]) else made[q, t] * 0.5
            later = [s for s in range(t + 1, len(data.weeks)) if spare[s] >= step * echelon[q] - 1e-9][:1]
            for target in [*later, None]:
                moves.append((q, step, target))

        def cost_per_hour(move: tuple[int, float, int | None]) -> float:
            q, step, target = move
            row = np.zeros(len(data.products), dtype=bool)
            row[q] = True
            before = plan_cost(data, made, row)
            trial = made.copy()
            trial[q, t] -= step
            if target is not None:
                trial[q, target] += step
            return (plan_cost(data, trial, row) - before) / (step * data.hours[q])

        q, step, target = min(moves, key=lambda m: (cost_per_hour(m), data.products[m[0]], m[2] is None, m[2] or 0))
        made[q, t] -= step
        if target is not None:
            made[q, target] += step
    return full, planned, sub_bound


MAX_SUB_REPAIRS = 500
MAX_CLEARING_ROUNDS = 5


@dataclass
class _Solved:
    qty: np.ndarray
    upper: float
    lower: float
    conditions: list
    capped: bool
    work: "_Work"
    late_firm: pl.DataFrame
    lower_any_timing: float  # bound for any timing of the sub-assemblies (banked_bound.py)


def _plan_parts(data: PlanData, config: PlanConfig, banked: tuple[np.ndarray, np.ndarray] | None = None) -> _Solved:
    """Every line's plan (one model per line), the sum of their costs and proved bounds.

    ``banked`` (own hours [p], sub-assembly stock hours [line]): ``data.hours`` are echelon hours,
    which bind the plan week by week but only bound it through their running sums
    (column_generation.banked_bound)."""
    scale = objective_scale(data)
    late_firm = soften_late_firm(data, config)
    plan = warm_start(data, config)
    upper = lower = any_timing = 0.0
    conditions, capped, work = [], False, _Work()

    def unproved(up: float, low: float) -> bool:
        # HiGHS's own absolute gap (1e-6 on the scaled objective) and float noise count as closed.
        return up - low > config.mip_rel_gap * abs(up) + 1e-6 * scale + 1e-9 * abs(up)

    for members, line_ids in parts_of(data, config.decompose_by_line):
        if line_ids and config.decompose_by_line:
            line = line_ids[0]
            solved = plan_line(data, members, line, plan, rounds=config.cg_rounds, dive_steps=config.dive_steps,
                               dive_bans=config.dive_bans, max_nodes=config.master_max_nodes,
                               time_limit=config.time_limit_seconds, seed=config.random_seed,
                               banked=None if banked is None else (banked[0][members], float(banked[1][line])))
            plan[members] = solved.made
            work.n_variables += solved.columns
            work.n_integer += solved.columns
            up, low, capped = solved.cost, solved.bound, capped or solved.time_capped
            line_any_timing = solved.bound_any_timing
            condition = TerminationCondition.maxIterations
            # With sub-assemblies, ``data.hours`` are echelon hours: HiGHS's bound holds for the same
            # planning model, not for any timing, which keeps the column-generation line's.
            if unproved(up, low) and len(members) < EXACT_MAX_PRODUCTS:
                made, m_up, m_low, condition, hit = _solve_milp(data, members, line_ids, plan, scale, config, work)
                capped |= hit
                if m_up < up and fits(data, made, line):
                    plan, up = made, m_up
                low = max(low, m_low)
                if banked is None:
                    line_any_timing = low
        else:  # products without a capacity-bound line, or the single model of everything
            plan, up, low, condition, hit = _solve_milp(data, members, line_ids, plan, scale, config, work)
            capped |= hit
            line_any_timing = low
        low = min(low, up)
        any_timing += min(line_any_timing, up)
        upper, lower = upper + up, lower + low
        conditions.append(condition if unproved(up, low) else TerminationCondition.optimal)
    cleared = clear_avoidable_backlog(data, plan)
    upper += plan_cost(data, cleared) - plan_cost(data, plan)
    return _Solved(cleared, upper, lower, conditions, capped, work, late_firm, any_timing)


@dataclass
class _Work:
    n_variables: int = 0
    n_integer: int = 0
    build_seconds: float = 0.0


def _solve_milp(data: PlanData, members: list[int], line_ids: list[int], start: np.ndarray, scale: float,
                config: PlanConfig, work: _Work) -> tuple[np.ndarray, float, float, TerminationCondition, bool]:
    """(plan in units, its exact cost, HiGHS's proved bound, termination, hit the time limit) for
    one part, warm-started from ``start``."""
    t0 = time.perf_counter()
    try:
        m = build_model(data, members, line_ids, ls_window=config.ls_window_weeks, scale=scale)
        set_start(m, data, start)
        solver = make_solver(config)
        solver.set_instance(m)  # Pyomo -> HiGHS translation, counted as build time
        built = time.perf_counter() - t0
        results = solver.solve(m)
    except Exception as exc:  # noqa: BLE001 - any solver failure must end in a diagnosis
        raise diagnose(data, config, f"solver error: {exc}") from exc
    work.n_variables += m.nvariables()
    work.n_integer += sum(1 for v in m.component_data_objects(pyo.Var) if not v.is_continuous())
    work.build_seconds += built
    if results.best_feasible_objective is None:
        raise diagnose(data, config, f"no feasible plan ({results.termination_condition.name})")
    results.solution_loader.load_vars()
    steps = start / lot_unit(data)[:, None]
    read_make(m, steps)
    made, _ = _production(data, steps)
    on = np.zeros(len(data.products), dtype=bool)
    on[members] = True
    cost = plan_cost(data, made, on)
    bound = results.best_objective_bound
    low = -np.inf if bound is None else bound * scale
    return made, cost, low, results.termination_condition, \
        results.termination_condition == TerminationCondition.maxTimeLimit


def clear_avoidable_backlog(data: PlanData, made: np.ndarray, unit_hours: np.ndarray | None = None) -> np.ndarray:
    """``made`` with every avoidable backlog made where the line's spare hours allow.

    The optimum may leave a sliver of backlog (fractional forecast demand against whole lots) when
    another lot costs more than its penalty; a planner reads any backlog on a line with spare hours
    as a planning error, so the plan makes it anyway, in the week (up to the backlog's) where it
    costs least. The cost this adds is counted in the objective, so the gap stays honest.
    """
    made = made.copy()
    unit = lot_unit(data)
    need = data.hours if unit_hours is None else unit_hours
    for p in np.flatnonzero(avoidable_backlog(data, made, unit_hours).sum(axis=1) > 0):
        for _ in range(len(data.weeks)):
            avoidable = avoidable_backlog(data, made, unit_hours)[p]
            late = np.flatnonzero(avoidable > 0)
            if late.size == 0:
                break
            t, l = int(late[0]), data.line_of[p]
            qty = np.ceil(avoidable[t] / unit[p] - 1e-9) * unit[p] if not np.isnan(data.lot[p]) else avoidable[t]
            if l == UNCAPACITATED or data.hours[p] <= 0:
                weeks = [t]
            else:
                on = data.line_of == l
                spare = data.regular[l] + data.overtime[l] - (made[on] * data.hours[on, None]).sum(axis=0)
                weeks = [s for s in range(t, -1, -1) if spare[s] >= qty * need[p] - 1e-9]
            if not weeks:
                break
            on = data.line_of == l
            costs = []
            for s in weeks:
                made[p, s] += qty
                costs.append(plan_cost(data, made, on))
                made[p, s] -= qty
            made[p, weeks[int(np.argmin(costs))]] += qty
    return made


def avoidable_backlog(data: PlanData, qty: np.ndarray, unit_hours: np.ndarray | None = None) -> np.ndarray:
    """[p, t] backlog of a whole unit or more the product's line had the spare hours to make in that
    week or before.

    Per backlogged product-week: the most units (whole lots) the line's unused regular+overtime
    hours of any week up to t could have made, capped at the backlog. A product without a
    capacity-bound line could always have been made, so all its backlog is avoidable.
    ``unit_hours`` [p]: the hours one more unit takes, when more than its own (a good's in-house
    sub-assemblies in whole lots, multi_level.lot_hours); the spare hours are always the line's real ones.
    """
    need = data.hours if unit_hours is None else unit_hours
    net = data.opening[:, None] + np.cumsum(qty - data.demand, axis=1)
    backlog = np.maximum(-net, 0.0)
    # Forecast demand is fractional, goods ship in whole units: a backlog under one unit is the
    # remainder of a fraction, not a shortage (clearing one such 0.07 on the demo cost a 94-unit lot).
    backlog[backlog < WHOLE_UNIT - 1e-9] = 0.0
    out = np.zeros_like(backlog)
    for p in np.flatnonzero(backlog.sum(axis=1) > 0):
        l = data.line_of[p]
        if l == UNCAPACITATED or data.hours[p] <= 0:
            out[p] = backlog[p]
            continue
        on = data.line_of == l
        spare = data.regular[l] + data.overtime[l] - (qty[on] * data.hours[on, None]).sum(axis=0)
        units = np.maximum.accumulate(np.maximum(spare, 0.0)) / need[p]
        if not np.isnan(data.lot[p]):
            units = np.floor(units / data.lot[p] + 1e-9) * data.lot[p]
        out[p] = np.minimum(backlog[p], units)
    return out


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

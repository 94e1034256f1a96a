"""Fix-and-optimise local search: re-solves small windows of a line's products exactly.

A seed-scale line (30-65 products) keeps HiGHS at the root for the whole budget, so it never
improves its warm start; a window of a few products, with every other product's plan held at the
incumbent and only the hours it takes subtracted from the line, is a sub-MILP HiGHS solves to
optimality in a fraction of a second. Any window's optimum is at least as good as the incumbent
(which is one of its solutions), so every accepted move keeps the plan feasible and exact.

Windows are built from the products that cost most first, then from products sharing the most
loaded weeks (their interaction through overtime is what a lone product cannot see), then at
random with a fixed seed. The search stops once its gap is proved, after a round of each kind
without a gain or after ``search_windows`` windows; each window stops at its optimum or after
``window_max_nodes`` nodes (windows of 4 products at 50 nodes gained more per second than 8 at 500
on the demo's tightest week). No
step looks at the clock, so the plan is the same on an idle machine and a busy one; HiGHS's time
limit is only a safety net, and a window that hits it marks the plan ``time_capped``.
"""

from __future__ import annotations

import logging

import numpy as np
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers import Highs

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.lot_heuristic import fits, plan_cost
from dsop_assets.planning.lower_bound import line_bound, product_plan
from dsop_assets.planning.plan_data import PlanData
from dsop_assets.planning.plan_milp import build_model, lot_unit, lp_prices, read_make, set_start

log = logging.getLogger(__name__)

# Below ~1e-9 relative, a "gain" is solver noise and would only churn the plan.
MIN_GAIN = 1e-7
# Gauss-Seidel sweeps of one-product best responses per call; each accepted move strictly lowers
# the cost, and on the seed lines they settle within 3-5 sweeps.
MAX_SWEEPS = 20


def _window_solver(config: PlanConfig) -> Highs:
    import highspy

    # HiGHS sizes one task scheduler per process on the first solve; after a 2-thread line solve a
    # 1-thread window otherwise fails at once with no solution (every window was silently lost).
    highspy.Highs.resetGlobalScheduler(True)
    solver = Highs()
    solver.config.mip_gap = 1e-6
    solver.config.time_limit = float(config.time_limit_seconds)
    solver.config.load_solution = False
    solver.config.warmstart = True
    # One thread: windows are tiny and thread start-up costs more than it returns there.
    solver.highs_options = {"output_flag": False, "threads": 1, "random_seed": int(config.random_seed),
                            "mip_max_nodes": int(config.window_max_nodes)}
    return solver


def _line_hours(data: PlanData, made: np.ndarray, line: int, among: np.ndarray) -> np.ndarray:
    on = among & (data.line_of == line)
    out = np.zeros((len(data.lines), len(data.weeks)))
    out[line] = (made[on] * data.hours[on, None]).sum(axis=0)
    return out


def _solve_window(data: PlanData, made: np.ndarray, window: list[int], line: int, scale: float,
                  config: PlanConfig) -> tuple[np.ndarray | None, bool]:
    """(the window's best plan with everything else fixed or None when HiGHS finds nothing,
    whether the safety-net time limit ended it)."""
    rest = np.ones(len(data.products), dtype=bool)
    rest[window] = False
    fixed = _line_hours(data, made, line, rest)
    m = build_model(data, window, [line], ls_window=config.ls_window_weeks, scale=scale, fixed_hours=fixed)
    set_start(m, data, made)
    # set_start sees only the window's hours; the start's overtime must count the fixed ones too.
    total = fixed[line] + _line_hours(data, made, line, ~rest)[line]
    for t, v in m.overtime.items():
        v.set_value(min(max(total[t[1]] - data.regular[line], 0.0), data.overtime[line]), skip_validation=True)
    results = _window_solver(config).solve(m)
    capped = results.termination_condition == TerminationCondition.maxTimeLimit
    if results.best_feasible_objective is None:
        return None, capped
    results.solution_loader.load_vars()
    steps = np.zeros_like(data.demand)
    read_make(m, steps)
    out = made.copy()
    unit = lot_unit(data)
    lotted = ~np.isnan(data.lot)
    for p in window:
        out[p] = np.round(steps[p]) * unit[p] if lotted[p] else np.maximum(np.round(steps[p], 6), 0.0)
    return out, capped


def _best_response(data: PlanData, made: np.ndarray, p: int, line: int, states: int = 300) -> np.ndarray:
    """Product p's cheapest plan with every other product fixed: a one-product window solved by
    a recursion over cumulative output, in milliseconds where HiGHS took a few tenths of a second.

    The line's overtime and hard capacity enter through each week's output, so a step costs
    setup plus the overtime it adds on top of the others' hours. Continuous products use a grid
    of ``states`` steps, lots their own size; the caller keeps the plan only if it is cheaper.
    """
    n_t = len(data.weeks)
    others = (data.line_of == line) & (np.arange(len(data.products)) != p)
    taken = (made[others] * data.hours[others, None]).sum(axis=0)
    cum = np.cumsum(data.demand[p])
    top = max(cum[-1] + float(data.safety_stock[p].max(initial=0.0)) + max(-data.opening[p], 0.0),
              float(data.firm[p].sum()), float(made[p].sum()))
    step = float(data.lot[p]) if not np.isnan(data.lot[p]) else max(top / states, 1e-9)
    level = np.arange(int(np.ceil(top / step - 1e-9)) + 2) * step
    if level.size > 4 * states:
        return made[p]
    if np.isnan(data.lot[p]):
        # The grid alone leaves a fraction of a step unmade; the exact cumulative requirements
        # (demand, and demand plus the stock target) let the recursion clear backlog to the unit.
        exact = np.concatenate([cum, cum + data.safety_stock[p], np.cumsum(made[p])]) - data.opening[p]
        level = np.unique(np.concatenate([level, np.clip(exact, 0.0, level[-1])]))
    out = level[None, :] - level[:, None]  # [from, to] output of the week
    firm_need = np.cumsum(data.firm[p]) - data.opening[p]
    reg, room = data.regular[line], data.regular[line] + data.overtime[line]
    best = np.full(level.size, np.inf)
    best[0] = 0.0
    came = np.zeros((n_t, level.size), dtype=int)
    for t in range(n_t):
        load = taken[t] + data.hours[p] * out
        move = np.where(out > 1e-9, data.setup_cost[p], 0.0) + data.overtime_cost[line] * np.maximum(load - reg, 0.0)
        move[(out < -1e-9) | (load > room + 1e-6)] = np.inf
        total = best[:, None] + move
        came[t] = np.argmin(total, axis=0)
        best = total[came[t], np.arange(level.size)]
        net = data.opening[p] + level - cum[t]
        stock = np.maximum(net, 0.0)
        gap = np.clip(data.safety_stock[p, t] - stock, 0.0, data.safety_stock[p, t])
        late = data.shortage_cost[p] + (data.terminal_cost[p] if t == n_t - 1 else 0.0)
        best = best + data.hold_cost[p] * stock + late * np.maximum(-net, 0.0) + data.ss_cost[p] * gap
        best[level < firm_need[t] - 1e-6] = np.inf
    if not np.isfinite(best).any():
        return made[p]
    k = int(np.argmin(best))
    plan = np.zeros(n_t)
    for t in range(n_t - 1, -1, -1):
        plan[t] = level[k] - level[came[t, k]]
        k = came[t, k]
    return plan


def sweep(data: PlanData, made: np.ndarray, members: list[int], line: int, on: np.ndarray,
           best: float) -> tuple[np.ndarray, float]:
    """Best responses product by product until a sweep gains nothing (at most MAX_SWEEPS)."""
    for _ in range(MAX_SWEEPS):
        gained = False
        for p in members:
            trial = made.copy()
            trial[p] = _best_response(data, made, p, line)
            cost = plan_cost(data, trial, on)
            if cost < best - MIN_GAIN * abs(best) and fits(data, trial, line):
                made, best, gained = trial, cost, True
        if not gained:
            break
    return made, best


def _windows(data: PlanData, made: np.ndarray, members: list[int], line: int, size: int,
             round_no: int, rng: np.random.Generator) -> list[list[int]]:
    if round_no % 3 == 0:
        cost = np.array([plan_cost(data, made, np.arange(len(data.products)) == p) for p in members])
        order = [members[i] for i in np.argsort(-cost, kind="stable")]
    elif round_no % 3 == 1:
        # Group products that run in the same busy weeks, busiest week first.
        hours = _line_hours(data, made, line, np.ones(len(data.products), dtype=bool))[line]
        peak = [int(np.argmax(np.where(made[p] > 0, hours, -1.0))) for p in members]
        order = [members[i] for i in np.lexsort((np.arange(len(members)), -hours[peak]))]
    else:
        order = [int(p) for p in rng.permutation(members)]
    return [order[k:k + size] for k in range(0, len(order), size)]


def improve_line(data: PlanData, made: np.ndarray, members: list[int], line: int, scale: float,
                 config: PlanConfig, lower: float) -> tuple[np.ndarray, bool]:
    """(a plan at least as cheap as ``made`` for the line's products, whether a window hit the
    safety-net time limit); other products are left untouched. Stops once the plan is proved
    within mip_rel_gap of ``lower``, after ``search_windows`` windows, or after a round of each
    window kind without a gain."""
    on = np.zeros(len(data.products), dtype=bool)
    on[members] = True
    best = plan_cost(data, made, on)
    rng = np.random.default_rng(config.random_seed)
    quiet = tried = round_no = 0
    capped = False

    def proved() -> bool:
        return best - lower <= config.mip_rel_gap * abs(best)

    while quiet < 3 and tried < config.search_windows and not proved():
        gained = False
        for window in _windows(data, made, members, line, config.window_size, round_no, rng):
            if tried >= config.search_windows or proved():
                break
            tried += 1
            trial, hit = _solve_window(data, made, window, line, scale, config)
            capped |= hit
            # fits guards against the rounding of lots and continuous steps read back from HiGHS.
            if trial is None or not fits(data, trial, line):
                continue
            cost = plan_cost(data, trial, on)
            if cost < best - MIN_GAIN * abs(best):
                made, best, gained = trial, cost, True
        if gained:
            made, best = sweep(data, made, members, line, on, best)
        quiet = 0 if gained else quiet + 1
        round_no += 1
    log.debug("line %d: %d windows, cost %.1f, bound %.1f", line, tried, best, lower)
    return made, capped


def _product_cost(data: PlanData, row: np.ndarray, p: int) -> float:
    """Product p's own terms of the objective (no overtime) for its production ``row`` [t]."""
    net = data.opening[p] + np.cumsum(row - data.demand[p])
    stock, backlog = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    gap = np.clip(data.safety_stock[p] - stock, 0.0, data.safety_stock[p])
    return float(data.setup_cost[p] * (row > 1e-9).sum() + data.hold_cost[p] * stock.sum()
                 + data.shortage_cost[p] * backlog.sum() + data.ss_cost[p] * gap.sum()
                 + data.terminal_cost[p] * backlog[-1])


def _priced_plan(data: PlanData, made: np.ndarray, members: list[int], prices: np.ndarray) -> np.ndarray:
    out = made.copy()
    for p in members:
        out[p] = product_plan(data, p, prices)[1]
    return out


def repair_to_fit(data: PlanData, made: np.ndarray, members: list[int], line: int) -> np.ndarray | None:
    """``made`` brought within the line's hours, or None: the earliest overbooked week gives up the
    step (a lot, or the excess of a continuous product) whose move costs least per hour freed:
    to the nearest earlier week with room, the nearest later one, or out of the plan. The
    Lagrangian plans at the LP's prices are near-optimal but overbook the tight weeks; this
    turns them into a plan (on the backlogged replay weeks, 5-10 % cheaper than the warm start)."""
    made = made.copy()
    unit = lot_unit(data)
    cap, reg, ot_cost = data.regular[line] + data.overtime[line], data.regular[line], data.overtime_cost[line]
    firm = np.cumsum(data.firm, axis=1) - data.opening[:, None]
    movable = [p for p in members if data.hours[p] > 0]
    for _ in range(MAX_REPAIR_MOVES):
        used = (made[members] * data.hours[members, None]).sum(axis=0)
        over = np.flatnonzero(used > cap + 1e-6)
        if over.size == 0:
            return made
        t = int(over[0])
        best, choice = np.inf, None
        for p in movable:
            if made[p, t] <= 1e-9:
                continue
            q = min(unit[p], made[p, t]) if not np.isnan(data.lot[p]) else min(made[p, t], (used[t] - cap) / data.hours[p] + 1e-9)
            h = q * data.hours[p]
            earlier = [s for s in range(t - 1, -1, -1) if used[s] + h <= cap + 1e-6][:1]
            later = [s for s in range(t + 1, len(data.weeks)) if used[s] + h <= cap + 1e-6][:1]
            base = _product_cost(data, made[p], p)
            for target in [*earlier, *later, None]:
                row = made[p].copy()
                row[t] -= q
                if target is not None:
                    row[target] += q
                if (np.cumsum(row) < firm[p] - 1e-6).any():
                    continue
                delta = _product_cost(data, row, p) - base
                if target is not None:
                    moved = used.copy()
                    moved[t] -= h
                    moved[target] += h
                    delta += ot_cost * (np.maximum(moved - reg, 0.0).sum() - np.maximum(used - reg, 0.0).sum())
                score = delta / h
                if score < best:
                    best, choice = score, (p, q, target)
        if choice is None:
            return None
        p, q, target = choice
        made[p, t] -= q
        if target is not None:
            made[p, target] += q
    return None


MAX_REPAIR_MOVES = 2000


def settle_line(data: PlanData, made: np.ndarray, members: list[int], line: int,
                config: PlanConfig) -> tuple[np.ndarray, float, float]:
    """(plan, cost, bound) for a line: best-response sweeps, then the Lagrangian bound.

    Sweeps come first: the Lagrangian steps aim at the incumbent's cost, and a start still
    carrying heavy backlog (1,000x the optimum on a tight demo week) would wreck them. The
    relaxation (lower_bound.line_bound) often also finds a cheaper plan, swept in turn. Costs are
    unscaled and exact for the returned plan. ``made`` must fit the line (production_model.warm_start).
    """
    on = np.zeros(len(data.products), dtype=bool)
    on[members] = True
    made, upper = sweep(data, made, members, line, on, plan_cost(data, made, on))
    lp_bound, prices = lp_prices(data, members, line, config)
    lower, priced = line_bound(data, members, line, upper, rounds=config.bound_rounds, start=prices)
    lower = max(lower, lp_bound)
    if priced is not None:
        trial = made.copy()
        trial[members] = priced
        cost = plan_cost(data, trial, on)
        if cost < upper and fits(data, trial, line):
            made, upper = sweep(data, trial, members, line, on, cost)
    if upper - lower > config.mip_rel_gap * abs(upper):
        repaired = repair_to_fit(data, _priced_plan(data, made, members, prices), members, line)
        if repaired is not None and fits(data, repaired, line):
            cost = plan_cost(data, repaired, on)
            repaired, cost = sweep(data, repaired, members, line, on, cost)
            if cost < upper:
                made, upper = repaired, cost
    return made, upper, min(lower, upper)

"""One-product best responses: each product's cheapest plan with every other product held fixed.

Used to make a start plan cheaper before column generation, to finish the products a dive leaves
open, and to polish the line's final plan (column_generation.py). Every accepted move strictly
lowers the exact cost and keeps the line within its hours, so a sweep never makes a plan worse.
"""

from __future__ import annotations

import numpy as np

from dsop_assets.planning.lot_heuristic import fits, plan_cost
from dsop_assets.planning.plan_data import PlanData

# Below ~1e-9 relative, a "gain" is solver noise and would only churn the plan.
MIN_GAIN = 1e-7
# Gauss-Seidel sweeps of one-product best responses per call; each accepted move strictly lowers
# the cost, and on the seed lines they settle within 3-5 sweeps.
MAX_SWEEPS = 20


def best_response(data: PlanData, made: np.ndarray, p: int, line: int, states: int = 300) -> np.ndarray:
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
            trial[p] = best_response(data, made, p, line)
            cost = plan_cost(data, trial, on)
            if cost < best - MIN_GAIN * abs(best) and fits(data, trial, line):
                made, best, gained = trial, cost, True
        if not gained:
            break
    return made, best

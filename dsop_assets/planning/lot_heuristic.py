"""A second warm start: each product's uncapacitated lot sizing solved exactly, then levelled.

On the seed data HiGHS spends the whole budget separating cuts at the root and never improves
the first incumbent, so the final plan (and the reported gap) is only as good as the warm start.
The order-up-to rule of warm_start.py loses about 20 % against the optimum there, mostly by
starting every batch in the same weeks and paying overtime for the peak on a half-loaded line.

Per product, a Wagner-Whitin recursion over the requirement R (cumulative demand plus safety
stock, net of opening stock) picks the setup weeks; each batch is rounded up to whole lots and
its overshoot carried into the next. Weeks whose hours exceed regular time then pull whole
batches one week earlier while the holding this adds costs less than the overtime it saves.
"""

from __future__ import annotations

import numpy as np

from dsop_assets.planning.plan_data import PlanData


def plan_cost(data: PlanData, made: np.ndarray, among: np.ndarray | None = None) -> float:
    """The model's objective (unscaled) for production ``made`` [p, t] in units.

    ``among`` (a product mask) restricts it to those products and the overtime of their lines.
    """
    among = np.ones(len(data.products), dtype=bool) if among is None else among
    net = data.opening[:, None] + np.cumsum(made - data.demand, axis=1)
    stock, backlog = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    gap = np.clip(data.safety_stock - stock, 0.0, data.safety_stock)
    cost = (data.setup_cost[:, None] * (made > 1e-9) + data.hold_cost[:, None] * stock
            + data.shortage_cost[:, None] * backlog + data.ss_cost[:, None] * gap)[among].sum()
    cost += (data.terminal_cost * backlog[:, -1])[among].sum()
    for l in np.unique(data.line_of[among & (data.line_of >= 0)]):
        on = data.line_of == l
        over = np.maximum((made[on] * data.hours[on, None]).sum(axis=0) - data.regular[l], 0.0)
        cost += data.overtime_cost[l] * over.sum()
    return float(cost)


def fits(data: PlanData, made: np.ndarray, line: int | None = None) -> bool:
    """Within regular + overtime hours and covering the firm orders on time, on ``line`` (its
    products only) or on every line. Lines share nothing, so a move on one line is judged by that
    line alone: one line's shortfall must not freeze the others."""
    lines = range(len(data.lines)) if line is None else [line] if line >= 0 else []
    for l in lines:
        on = data.line_of == l
        if ((made[on] * data.hours[on, None]).sum(axis=0) > data.regular[l] + data.overtime[l] + 1e-6).any():
            return False
    rows = np.ones(len(data.products), dtype=bool) if line is None else data.line_of == line
    need = np.cumsum(data.firm[rows], axis=1) - data.opening[rows, None]
    return bool((np.cumsum(made[rows], axis=1) >= need - 1e-6).all())


def _requirement(data: PlanData) -> tuple[np.ndarray, np.ndarray]:
    req = np.maximum.accumulate(np.cumsum(data.demand, axis=1) + data.safety_stock - data.opening[:, None], axis=1)
    return req, np.diff(np.maximum(req, 0.0), axis=1, prepend=0.0)


def _wagner_whitin(data: PlanData, step: np.ndarray, price: np.ndarray) -> np.ndarray:
    """last[p, t]: last week the batch set up in week t covers, -1 for no setup (all products at once)."""
    n_p, n_t = step.shape
    best = np.zeros((n_p, n_t + 1))
    last = np.full((n_p, n_t), -1)
    rows = np.arange(n_p)
    for t in range(n_t - 1, -1, -1):
        best[:, t] = np.where(step[:, t] > 1e-9, np.inf, best[:, t + 1])
        carry = data.setup_cost.copy()
        for e in range(t, n_t):
            carry = carry + step[:, e] * (data.hold_cost * (e - t) + price[:, t])
            better = carry + best[:, e + 1] < best[:, t] - 1e-9
            best[:, t] = np.where(better, carry + best[:, e + 1], best[:, t])
            last[:, t] = np.where(better, e, last[:, t])
    # last[t] >= 0 only where setting up beats skipping; follow the chain from week 0.
    chosen = np.full((n_p, n_t), -1)
    t_next = np.zeros(n_p, dtype=int)
    for t in range(n_t):
        here = (t_next == t)
        take = here & (last[rows, t] >= 0)
        chosen[take, t] = last[take, t]
        t_next = np.where(take, last[rows, t] + 1, np.where(here, t + 1, t_next))
    return chosen


def _round_batches(data: PlanData, req: np.ndarray, chosen: np.ndarray, bound: np.ndarray) -> np.ndarray:
    n_p, n_t = req.shape
    made = np.zeros((n_p, n_t))
    done = np.zeros(n_p)
    lotted = ~np.isnan(data.lot)
    lot = np.where(lotted, data.lot, 1.0)
    for t in range(n_t):
        on = chosen[:, t] >= 0
        qty = np.maximum(req[np.arange(n_p), np.maximum(chosen[:, t], 0)] - done, 0.0) * on
        qty = np.where(lotted, np.ceil(qty / lot - 1e-9) * lot, qty)
        made[:, t] = np.minimum(qty, bound[:, t])
        done += made[:, t]
    return made


def lot_sizing_plan(data: PlanData, bound: np.ndarray, rounds: int = 40) -> np.ndarray:
    """Per line, the cheapest plan that fits it over ``rounds`` capacity prices (Lagrangian).

    Hours past regular time get a price per line and week that rises while the line is over
    regular hours and falls when it is not, steering the per-product recursions apart in time.
    A line no round fit keeps the last round's plan (the caller checks ``fits`` per line).
    """
    req, step = _requirement(data)
    capped = (data.line_of >= 0) & (data.hours > 0)
    lam = np.zeros((len(data.lines), len(data.weeks)))
    groups = [*range(len(data.lines)), -1]
    best = np.zeros_like(data.demand)
    best_cost = dict.fromkeys(groups, np.inf)
    for k in range(rounds):
        price = np.where(capped[:, None], lam[np.maximum(data.line_of, 0)] * data.hours[:, None], 0.0)
        made = _round_batches(data, req, _wagner_whitin(data, step, price), bound)
        for l in range(len(data.lines)):
            _level(data, made, np.flatnonzero((data.line_of == l) & (data.hours > 0)), l)
        for l in groups:
            on = data.line_of == l
            cost = plan_cost(data, made, on)
            if (cost < best_cost[l] and fits(data, made, l)) or (k == rounds - 1 and best_cost[l] == np.inf):
                best[on], best_cost[l] = made[on], cost
        for l in range(len(data.lines)):
            on = data.line_of == l
            used = (made[on] * data.hours[on, None]).sum(axis=0)
            over = (used - data.regular[l]) / max(data.regular[l], 1e-9)
            lam[l] = np.maximum(lam[l] + data.overtime_cost[l] * 2.0 * 0.9**k * over, 0.0)
    for l in groups:
        _merge(data, best, l)
    return best


def _level(data: PlanData, made: np.ndarray, on: np.ndarray, l: int) -> None:
    """Pulls whole batches one week earlier out of weeks past regular time while it pays."""
    hours = (made[on] * data.hours[on, None]).sum(axis=0)
    for t in range(len(data.weeks) - 1, 0, -1):
        while hours[t] > data.regular[l] + 1e-9:
            excess = hours[t] - data.regular[l]
            best, gain = None, 0.0
            for p in on[made[on, t] > 0]:
                load = made[p, t] * data.hours[p]
                room = data.regular[l] + data.overtime[l] - hours[t - 1]
                if load > room + 1e-9:
                    continue
                added = max(hours[t - 1] + load - data.regular[l], 0.0) - max(hours[t - 1] - data.regular[l], 0.0)
                saved = data.overtime_cost[l] * (min(excess, load) - added)
                # Merging into an existing batch of t-1 also saves a setup.
                saved += data.setup_cost[p] * (made[p, t - 1] > 0)
                value = saved - data.hold_cost[p] * made[p, t]
                if value > gain:
                    best, gain = p, value
            if best is None:
                break
            hours[t] -= made[best, t] * data.hours[best]
            hours[t - 1] += made[best, t] * data.hours[best]
            made[best, t - 1] += made[best, t]
            made[best, t] = 0.0


def _merge(data: PlanData, made: np.ndarray, line: int) -> None:
    """Folds a batch into the product's previous one wherever that lowers the line's cost.

    The recursion prices capacity only through the multipliers of its last rounds, so a batch
    it split off for a peak that levelling has since flattened often no longer pays its setup.
    """
    on = data.line_of == line
    cost = plan_cost(data, made, on)
    for p in np.flatnonzero(on):
        weeks = list(np.flatnonzero(made[p] > 0))
        k = 1
        while k < len(weeks):
            first, then = weeks[k - 1], weeks[k]
            saved = made[p].copy()
            made[p, first] += made[p, then]
            made[p, then] = 0.0
            trial = plan_cost(data, made, on)
            if trial < cost - 1e-9 and fits(data, made, line):
                cost = trial
                weeks.pop(k)
            else:
                made[p] = saved
                k += 1

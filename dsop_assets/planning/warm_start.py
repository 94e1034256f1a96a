"""A quick feasible plan handed to HiGHS as its first incumbent (Pyomo warm start).

HiGHS's own heuristics found only plans with heavy backlog on the seed-scale benchmark (10x the
eventual cost) and spent the time limit in root cuts; starting from a sensible plan lets its
improvement heuristics and pruning work from the first second.

The rule is a periodic "order-up-to" per product: when the coming week would end below its
safety stock, make enough for that week and the next ``cover`` weeks plus the target, in whole
lots, where ``cover`` is the economic cover from setup versus holding cost. A line that would run
past regular + overtime first drops the extra cover, then trims the largest makers.
"""

from __future__ import annotations

import numpy as np

from dsop_assets.planning.plan_data import PlanData


def _round_up(qty: np.ndarray, lot: np.ndarray) -> np.ndarray:
    lotted = ~np.isnan(lot)
    out = np.maximum(qty, 0.0)
    out[lotted] = np.ceil(out[lotted] / lot[lotted] - 1e-9) * lot[lotted]
    return out


def _round_down(qty: np.ndarray, lot: np.ndarray) -> np.ndarray:
    lotted = ~np.isnan(lot)
    out = np.maximum(qty, 0.0)
    out[lotted] = np.floor(out[lotted] / lot[lotted] + 1e-9) * lot[lotted]
    return out


def _fill_by_value(data: PlanData, qty: np.ndarray, members: np.ndarray, room: float) -> None:
    """Cuts the week's quantities to ``room`` hours keeping the dearest backlog per hour first.

    A week past the line's hours leaves some of its orders in backlog whatever the plan does; a
    proportional cut spreads that over every product, while backlog costs its price per unit-week,
    so the hours go first to the products whose backlog costs most per hour (a fractional knapsack,
    optimal for the week taken alone, in whole lots).
    """
    value = data.shortage_cost[members] / data.hours[members]
    left = room
    for p in members[np.argsort(-value, kind="stable")]:
        fit = min(qty[p], max(left, 0.0) / data.hours[p])
        qty[p] = _round_down(np.array([fit]), data.lot[[p]])[0]
        left -= qty[p] * data.hours[p]


def heuristic_plan(data: PlanData, bound: np.ndarray) -> np.ndarray:
    """Production quantity per [p, t] respecting lots, bounds and (mostly) line capacity."""
    n_p, n_t = data.demand.shape
    mean = np.maximum(data.demand.mean(axis=1), 1e-9)
    cover = np.sqrt(2.0 * data.setup_cost / np.maximum(data.hold_cost * mean, 1e-9))
    cover = np.clip(np.round(cover), 1, n_t).astype(int)
    cum = np.concatenate([np.zeros((n_p, 1)), np.cumsum(data.demand, axis=1)], axis=1)
    firm_need = np.cumsum(data.firm, axis=1) - data.opening[:, None]
    made = np.zeros((n_p, n_t))
    net = data.opening.copy()
    rows = np.arange(n_p)
    for t in range(n_t):
        after = net - data.demand[:, t]
        end = np.minimum(t + cover, n_t)
        target = cum[rows, end] - cum[:, t + 1] + data.safety_stock[rows, end - 1]
        floor = np.maximum(data.safety_stock[:, t], firm_need[:, t] - made[:, :t].sum(axis=1) + data.demand[:, t] - net)
        urgent = after < floor - 1e-9
        qty = np.where(urgent, _round_up(target - after, data.lot), 0.0)
        minimum = np.where(urgent, _round_up(np.maximum(floor - after, 0.0), data.lot), 0.0)
        qty = np.minimum(np.maximum(qty, minimum), bound[:, t])
        for l in range(len(data.lines)):
            members = (data.line_of == l) & (data.hours > 0)
            room = data.regular[l] + data.overtime[l]
            if (qty[members] * data.hours[members]).sum() > room + 1e-9:
                qty[members] = np.minimum(qty[members], minimum[members])
            used = (qty[members] * data.hours[members]).sum()
            if used > room + 1e-9:
                _fill_by_value(data, qty, np.flatnonzero(members), room)
        made[:, t] = qty
        net = after + qty
    return made


def firm_plan(data: PlanData, line: int) -> np.ndarray:
    """[p, t] for the line's products: only the firm orders, each made as late as the line allows.

    Week by week from the last, the hours left go to whole lots of whatever firm requirement is
    still unmade and due that week or later; any such requirement may move earlier, so the order
    among them does not matter for feasibility. A requirement left over at week 0 means the firm
    orders do not fit the line (up to lot granularity): the caller reports it through the diagnosis.
    """
    made = np.zeros_like(data.demand)
    on = np.flatnonzero(data.line_of == line)
    need = np.maximum.accumulate(np.maximum(np.cumsum(data.firm[on], axis=1) - data.opening[on, None], 0.0), axis=1)
    step = np.diff(need, axis=1, prepend=0.0)  # new firm requirement due in week t
    lot = np.where(np.isnan(data.lot[on]), 0.0, data.lot[on])
    open_qty = np.zeros(len(on))
    for t in range(len(data.weeks) - 1, -1, -1):
        open_qty += step[:, t]
        room = data.regular[line] + data.overtime[line]
        for i in np.argsort(-open_qty, kind="stable"):
            if open_qty[i] <= 1e-9:
                break
            hours = data.hours[on[i]]
            fit = np.inf if hours <= 0 else max(room, 0.0) / hours  # units the hours left allow
            if lot[i] > 0:
                qty = min(np.ceil(open_qty[i] / lot[i] - 1e-9), np.floor(fit / lot[i] + 1e-9)) * lot[i]
            else:
                qty = min(open_qty[i], fit)
            made[on[i], t] = qty
            open_qty[i] = max(open_qty[i] - qty, 0.0)
            room -= qty * max(hours, 0.0)
    return made

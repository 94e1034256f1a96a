"""A valid bound for goods planned on echelon hours, whose sub-assemblies may be made earlier.

The goods are planned with each unit charged its same-line sub-assemblies' hours in the week it is
made (multi_level.echelon_hours). That binds the plan, but it is not a relaxation of the real
problem: a sub-assembly can be made in an earlier week with spare hours, or already be on hand. What
any real plan does satisfy is

    own hours of the goods made in week t            <= regular_t + overtime_t      (every week)
    sum over weeks <= t of their echelon hours       <= sum of regular + overtime
                                                        + hours embodied in sub-assemblies on hand

so the Dantzig-Wolfe master over those rows (column_generation's, with these rows in place of the
per-week echelon ones) bounds the goods' cost. Its columns come from the same shortest path per
product (lower_bound.product_plan), priced per echelon hour, with one week's output capped by the
good's own hours; every round's prices give a valid Lagrangian bound, and the best is returned.
"""

from __future__ import annotations

import numpy as np

from dsop_assets.planning.highs import quiet_highs
from dsop_assets.planning.lower_bound import product_cost, product_plan
from dsop_assets.planning.plan_data import PlanData
from dsop_assets.planning.plan_milp import objective_scale

INF = 1e30


def banked_bound(data: PlanData, members: list[int], line: int, own_hours: np.ndarray, credit: float,
                 columns: list[tuple[int, np.ndarray, float]], rounds: int) -> float:
    """Lower bound on the members' cost. ``data.hours`` are echelon hours, ``own_hours`` [members]
    the goods' own; ``columns`` (member index, plan [t], exact cost) seed the master and must hold
    a plan that fits the line; ``rounds`` caps the pricing rounds."""
    import highspy

    h = quiet_highs()
    scale = objective_scale(data)
    n_p, n_t = len(members), len(data.weeks)
    echelon = data.hours[members]
    reg, ot, ot_cost = float(data.regular[line]), float(data.overtime[line]), float(data.overtime_cost[line])
    # Rows: n_p one-plan rows, n_t weekly own-hours rows, n_t running echelon-hours rows.
    lower = np.concatenate([np.ones(n_p), np.full(2 * n_t, -INF)])
    upper = np.concatenate([np.ones(n_p), np.full(n_t, reg), reg * np.arange(1, n_t + 1) + credit])
    h.addRows(len(lower), lower, upper, 0, np.array([], dtype=np.int32), np.array([], dtype=np.int32),
              np.array([], dtype=float))
    for t in range(n_t):  # overtime of week t counts in its week and every running sum from t on
        rows = np.concatenate([[n_p + t], n_p + n_t + np.arange(t, n_t)]).astype(np.int32)
        h.addCol(ot_cost / scale, 0.0, ot, len(rows), rows, -np.ones(len(rows)))
    seen: set[tuple[int, bytes]] = set()

    def add(i: int, row: np.ndarray, cost: float) -> int:
        key = (i, np.round(row, 6).tobytes())
        if key in seen:
            return 0
        seen.add(key)
        used = np.flatnonzero(row > 1e-9)
        running = np.cumsum(row) * echelon[i]
        since = np.flatnonzero(running > 1e-9)
        rows = np.concatenate([[i], n_p + used, n_p + n_t + since]).astype(np.int32)
        values = np.concatenate([[1.0], row[used] * own_hours[i], running[since]])
        h.addCol(cost / scale, 0.0, 1.0, len(rows), rows, values)
        return 1

    for i, row, cost in columns:
        add(i, row, cost)
    best = -np.inf
    for _ in range(rounds):
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        value = float(h.getInfo().objective_function_value) * scale
        duals = np.asarray(h.getSolution().row_dual) * scale
        mu = duals[:n_p]
        week = np.maximum(-duals[n_p:n_p + n_t], 0.0)
        running = np.maximum(-duals[n_p + n_t:], 0.0)
        later = np.cumsum(running[::-1])[::-1]  # price of an echelon hour made in week s: sum over t >= s
        priced, added = 0.0, 0
        for i, p in enumerate(members):
            # product_plan prices per data.hours (echelon) hour: fold the own-hours price into it.
            per_hour = later + (week * own_hours[i] / echelon[i] if echelon[i] > 0 else 0.0)
            v, row = product_plan(data, p, per_hour, max_hours=reg + ot, cap_hours=float(own_hours[i]))
            priced += v
            cost = product_cost(data, p, row)
            if cost + float(per_hour @ (row * echelon[i])) - mu[i] < -1e-9 * max(abs(value), 1.0):
                added += add(i, row, cost)
        extra = np.minimum(ot_cost - week - later, 0.0) * ot
        best = max(best, priced + float(extra.sum() - (week * reg).sum()
                                        - (running * (reg * np.arange(1, n_t + 1) + credit)).sum()))
        if added == 0 or value - best <= 1e-9 * abs(value):
            break
    return best

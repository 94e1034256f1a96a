"""One line's plan by Dantzig-Wolfe column generation: a bound proved in seconds, and a plan from its columns.

The products of a line share nothing but its weekly hours, and each product's own plan is a
shortest path over "lots made so far" (lower_bound.product_plan, with one week's output capped at
what the whole line could make of it). So the line is the master LP

    min  sum_pk c_pk x_pk + sum_t o_t O_t
    s.t. sum_k x_pk = 1                          for every product p   (one plan each)
         sum_pk a_pkt x_pk - O_t <= regular_t    for every week t      (hours; O_t <= overtime_t)

over plans k (columns: exact cost c_pk, hours a_pkt). Its LP optimum is the Lagrangian dual of
the capacity rows: the LP bound of the shortest-path reformulation of lot sizing, far above the
(l,S)-cut LP on saturated lines. Columns come from the shortest path at the master's hour prices;
every round's prices give a valid Lagrangian bound.

Plans: a dive (fix every product whose LP plan is whole, then the most decided fractional one,
price again, repeat) and the master with binary x over every column found, started from the best
plan known (HiGHS, a node limit). Both give real plans that fit the line by construction, costed
exactly. Every step stops on a work limit (rounds, dive steps, nodes), never on the clock; HiGHS's
time limit is only a safety net and says when it was hit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsop_assets.planning.banked_bound import banked_bound
from dsop_assets.planning.highs import quiet_highs
from dsop_assets.planning.local_search import best_response, sweep
from dsop_assets.planning.lot_heuristic import fits, plan_cost
from dsop_assets.planning.lower_bound import product_cost, product_plan
from dsop_assets.planning.plan_data import PlanData
from dsop_assets.planning.plan_milp import objective_scale

INF = 1e30
WHOLE = 1.0 - 1e-6  # an LP weight this close to 1 is a whole plan
# Most plans per product the whole-plan master chooses among (least reduced cost first). 12 left a
# saturated replayed line (2026-05-25, L02) at 2.88 % over its bound; 60 took it to 0.69 %.
IP_COLUMNS_PER_PRODUCT = 60


@dataclass
class LinePlan:
    made: np.ndarray  # [members, t] units
    cost: float  # exact cost of ``made`` (products' own terms and the line's overtime)
    bound: float  # Lagrangian (Dantzig-Wolfe) lower bound on the line's cost in the planning model
    bound_any_timing: float  # the same for any timing of the sub-assemblies (= bound without them)
    rounds: int  # column-generation rounds before the dive
    columns: int
    time_capped: bool  # HiGHS's safety-net time limit ended the integer master


def line_cost(data: PlanData, members: list[int], line: int, made: np.ndarray) -> float:
    used = (made * data.hours[members, None]).sum(axis=0)
    return sum(product_cost(data, p, made[i]) for i, p in enumerate(members)) \
        + float(data.overtime_cost[line] * np.maximum(used - data.regular[line], 0.0).sum())


class _Master:
    """The restricted master in HiGHS: rows 0..P-1 one plan per product, P..P+T-1 hours;
    columns 0..T-1 overtime, then one per plan. Costs are divided by ``scale`` for HiGHS."""

    def __init__(self, data: PlanData, members: list[int], line: int, seed: int, time_limit: float):
        import highspy

        self.highspy = highspy
        self.h = quiet_highs(seed, time_limit)
        self.scale = objective_scale(data)
        self.n_p, self.n_t = len(members), len(data.weeks)
        self.hours = data.hours[members]
        self.regular, self.overtime = float(data.regular[line]), float(data.overtime[line])
        n_p, n_t = self.n_p, self.n_t
        lower = np.concatenate([np.ones(n_p), np.full(n_t, -INF)])
        upper = np.concatenate([np.ones(n_p), np.full(n_t, self.regular)])
        self.h.addRows(n_p + n_t, lower, upper, 0, np.array([], dtype=np.int32), np.array([], dtype=np.int32),
                       np.array([], dtype=float))
        for t in range(n_t):
            self.h.addCol(float(data.overtime_cost[line]) / self.scale, 0.0, self.overtime, 1,
                          np.array([n_p + t], dtype=np.int32), np.array([-1.0]))
        # Hours beyond the line's, at a price no plan would pay (far above any backlog an hour
        # could clear): a dive that fixes a plan the columns so far cannot make room for stays
        # feasible, and its prices call for the columns that do.
        timed = self.hours > 0  # products that take no hours cannot free any
        late = (data.shortage_cost[members] * (n_t + 1) + data.terminal_cost[members])[timed] / self.hours[timed]
        self.slack_cost = 10.0 * float(np.max(late, initial=1.0)) / self.scale
        for t in range(n_t):
            self.h.addCol(self.slack_cost, 0.0, INF, 1, np.array([n_p + t], dtype=np.int32), np.array([-1.0]))
        self.first = 2 * n_t  # index of the first plan column
        self.plans: list[tuple[int, np.ndarray, float]] = []  # (member index, row [t] in units, exact cost)
        self.seen: set[tuple[int, bytes]] = set()
        self.banned: set[int] = set()

    def add(self, i: int, row: np.ndarray, cost: float) -> bool:
        key = (i, np.round(row, 6).tobytes())
        if key in self.seen:
            return False
        self.seen.add(key)
        used = np.flatnonzero(row > 1e-9)
        index = np.concatenate([[i], self.n_p + used]).astype(np.int32)
        value = np.concatenate([[1.0], row[used] * self.hours[i]])
        self.h.addCol(cost / self.scale, 0.0, 1.0, len(index), index, value)
        self.plans.append((i, row, cost))
        return True

    def solve_lp(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
        """(objective, duals of the one-plan rows [p], hour prices [t] >= 0, plan weights), unscaled;
        ``slack`` says how many hours beyond the line's it needed. None when HiGHS ends without an
        optimal LP (seen once in a replay, kUnknown): the caller keeps what it has."""
        self.h.run()
        if self.h.getModelStatus() != self.highspy.HighsModelStatus.kOptimal:
            return None
        solution = self.h.getSolution()
        duals = np.asarray(solution.row_dual) * self.scale
        weights = np.asarray(solution.col_value)[self.first:]
        self.slack = float(np.asarray(solution.col_value)[self.n_t:self.first].sum())
        return (float(self.h.getInfo().objective_function_value) * self.scale, duals[:self.n_p],
                np.maximum(-duals[self.n_p:], 0.0), weights)

    def column(self, i: int, row: np.ndarray) -> int:
        key = (i, np.round(row, 6).tobytes())
        return next(k for k, (owner, plan, _) in enumerate(self.plans)
                    if owner == i and np.round(plan, 6).tobytes() == key[1])

    def fix(self, i: int, k: int) -> None:
        for j, (owner, _, _) in enumerate(self.plans):
            if owner == i:
                on = 1.0 if j == k else 0.0
                self.h.changeColBounds(self.first + j, on, on)

    def unfix(self, i: int) -> None:
        for j, (owner, _, _) in enumerate(self.plans):
            if owner == i and j not in self.banned:
                self.h.changeColBounds(self.first + j, 0.0, 1.0)

    def ban(self, k: int) -> None:
        self.banned.add(k)
        self.h.changeColBounds(self.first + k, 0.0, 0.0)

    def keep_cheapest(self, per_product: int, always: list[int], upper: float) -> None:
        """Bans every column but each product's ``per_product`` of least reduced cost at the LP's
        prices (and ``always``): the whole-plan master's root grew to minutes on a replayed week
        with thousands of columns, and its work has no other limit HiGHS offers. A column whose
        reduced cost exceeds ``upper`` (the best plan's cost) less the LP's value is in no plan
        cheaper than that one, so it goes too (reduced-cost fixing)."""
        self.h.run()
        reduced = np.asarray(self.h.getSolution().col_dual)[self.first:]
        room = upper / self.scale - float(self.h.getInfo().objective_function_value)
        keep = set(always)
        for i in range(self.n_p):
            own = [k for k, (owner, _, _) in enumerate(self.plans) if owner == i and reduced[k] <= room + 1e-9]
            keep.update(sorted(own, key=lambda k: (reduced[k], k))[:per_product])
        for k in range(len(self.plans)):
            if k not in keep:
                self.h.changeColBounds(self.first + k, 0.0, 0.0)

    def release(self) -> None:
        self.banned.clear()
        for j in range(len(self.plans)):
            self.h.changeColBounds(self.first + j, 0.0, 1.0)

    def solve_ip(self, start: list[int], max_nodes: int, rel_gap: float) -> tuple[list[int] | None, bool]:
        """(chosen column per member, whether the safety-net time limit ended it): the master with
        binary weights, started from the columns ``start`` (one per member)."""
        n_cols = self.first + len(self.plans)
        kinds = np.array([0] * self.first + [1] * len(self.plans), dtype=np.int32)
        for t in range(self.n_t):
            self.h.changeColBounds(self.n_t + t, 0.0, 0.0)
        self.h.changeColsIntegrality(n_cols, np.arange(n_cols, dtype=np.int32), kinds)
        self.h.setOptionValue("mip_max_nodes", int(max_nodes))
        self.h.setOptionValue("mip_rel_gap", float(rel_gap))
        x = np.zeros(n_cols)
        hours = np.zeros(self.n_t)
        for k in start:
            x[self.first + k] = 1.0
            hours += self.plans[k][1] * self.hours[self.plans[k][0]]
        x[:self.n_t] = np.clip(hours - self.regular, 0.0, self.overtime)
        solution = self.highspy.HighsSolution()
        solution.col_value = x.tolist()
        self.h.setSolution(solution)
        self.h.run()
        capped = self.h.getModelStatus() == self.highspy.HighsModelStatus.kTimeLimit
        if self.h.getInfo().primal_solution_status != 2:  # 2: feasible
            return None, capped
        x = np.asarray(self.h.getSolution().col_value)[self.first:]
        chosen = [-1] * self.n_p
        for k, (i, _, _) in enumerate(self.plans):
            if x[k] > 0.5:
                chosen[i] = k
        return (chosen if min(chosen) >= 0 else None), capped


def _price(master: _Master, data: PlanData, members: list[int], which: list[int], pi: np.ndarray,
           mu: np.ndarray, cap: float, value: float) -> tuple[float, int]:
    """(sum of the priced product optima over ``which``, columns added): each product's cheapest
    plan at hour prices ``pi`` joins the master when its reduced cost is negative."""
    priced, added = 0.0, 0
    for i in which:
        p = members[i]
        v, row = product_plan(data, p, pi, max_hours=cap)
        priced += v
        cost = product_cost(data, p, row)
        if cost + float(pi @ (row * data.hours[p])) - mu[i] < -1e-9 * max(abs(value), 1.0):
            added += master.add(i, row, cost)
    return priced, added


def _settle(master: _Master, data: PlanData, members: list[int], free: list[int], cap: float,
            rounds: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
    """The master LP re-priced for the ``free`` products until no column joins (at most ``rounds``)."""
    for _ in range(rounds):
        lp = master.solve_lp()
        if lp is None:
            return None
        value, mu, pi, _ = lp
        if _price(master, data, members, free, pi, mu, cap, value)[1] == 0:
            break
    return master.solve_lp()


def _dive(master: _Master, data: PlanData, members: list[int], line: int, start: np.ndarray, steps: int,
          rounds: int, bans: int) -> np.ndarray | None:
    """A plan [members, t] from fixing the LP's plans one decision at a time, or None.

    Products whose LP plan is whole keep it; then the split product with the largest lot takes
    its heaviest plan, and the free products are re-priced around it. When the line then needs
    hours it does not have, that plan is banned and the product stays free; after ``bans`` such
    misses (or ``steps`` fixes) the products still free take, one by one, their best plan in the
    hours the others leave (local_search.best_response)."""
    cap = float(data.regular[line] + data.overtime[line])
    lot_hours = np.nan_to_num(data.lot[members], nan=0.0) * data.hours[members]
    free = list(range(master.n_p))
    chosen = [-1] * master.n_p
    lp = _settle(master, data, members, free, cap, rounds)
    missed = 0
    for _ in range(steps):
        if lp is None or master.slack > 1e-6:
            return None
        weights = lp[3]
        best_k, best_w = {}, {}
        for k, (i, _, _) in enumerate(master.plans):
            if chosen[i] < 0 and weights[k] > best_w.get(i, -1.0):
                best_k[i], best_w[i] = k, weights[k]
        split = [i for i in free if best_w[i] < WHOLE]
        if not split or missed >= bans:
            for i in [i for i in free if best_w[i] >= WHOLE]:
                chosen[i] = best_k[i]
                master.fix(i, best_k[i])
            free = [i for i in free if chosen[i] < 0]
            break
        # The split product with the largest lot goes first: small lots fill the hours around it.
        i = max(split, key=lambda i: (lot_hours[i], best_w[i], -i))
        master.fix(i, best_k[i])
        lp = _settle(master, data, members, [j for j in free if j != i], cap, rounds)
        if lp is None:
            return None
        if master.slack > 1e-6:
            master.unfix(i)
            master.ban(best_k[i])
            missed += 1
            lp = _settle(master, data, members, free, cap, rounds)
        else:
            chosen[i] = best_k[i]
            free.remove(i)
    made = start.copy()
    made[members] = 0.0
    for i, k in enumerate(chosen):
        if k >= 0:
            made[members[i]] = master.plans[k][1]
    for i in free:
        made[members[i]] = best_response(data, made, members[i], line)
    return made[members]


def round_mixed(data: PlanData, members: list[int], line: int, mixed: np.ndarray) -> np.ndarray:
    """A plan that follows the LP's cumulative production in whole lots within the line's hours.

    Week by week, each product is brought to the lot count nearest its LP cumulative output while
    hours last, the products furthest behind the LP in backlog money (units behind x penalty) first;
    hours still free then make one more lot of products still behind, in the same order. Ordering by
    penalty per hour instead starved the product with the largest backlog in the first weeks (a lot
    short early is short every week after): 388 against 363 bn KRW on a saturated replayed line."""
    unit = np.where(np.isnan(data.lot[members]), 0.0, np.nan_to_num(data.lot[members]))
    hours = data.hours[members]
    cap = data.regular[line] + data.overtime[line]
    target = np.cumsum(mixed, axis=1)
    made = np.zeros_like(mixed)
    done = np.zeros(len(members))
    for t in range(mixed.shape[1]):
        left = cap
        # Most behind the LP in backlog money first: a lot short now is short every week after.
        behind = (target[:, t] - done) * data.shortage_cost[members]
        for i in np.argsort(-behind, kind="stable"):
            need = target[i, t] - done[i]
            qty = max(np.round(need / unit[i]) * unit[i], 0.0) if unit[i] > 0 else max(need, 0.0)
            if hours[i] > 0:
                qty = min(qty, np.floor(left / (hours[i] * (unit[i] or 1.0)) + 1e-9) * (unit[i] or 1.0))
            made[i, t], done[i], left = qty, done[i] + qty, left - qty * hours[i]
        behind = (target[:, t] - done) * data.shortage_cost[members]
        for i in np.argsort(-behind, kind="stable"):
            if unit[i] > 0 and behind[i] > 0 and hours[i] * unit[i] <= left + 1e-9:
                made[i, t] += unit[i]
                done[i] += unit[i]
                left -= hours[i] * unit[i]
    return made


def plan_line(data: PlanData, members: list[int], line: int, start: np.ndarray, *, rounds: int = 100,
              dive_steps: int = 40, dive_rounds: int = 5, dive_bans: int = 3, max_nodes: int = 200, rel_gap: float = 1e-4,
              time_limit: float = 300.0, seed: int = 0, banked: tuple[np.ndarray, float] | None = None) -> LinePlan:
    """The line's plan and bound from ``start`` (a plan [p, t] in units that fits the line).

    ``banked`` (own hours [members], hours in sub-assembly stock): ``data.hours`` are echelon
    hours, which bind the plan week by week (the planning model: sub-assemblies made in their
    parent's week) but bound a plan free to make them earlier only through their running sums:
    ``LinePlan.bound_any_timing`` is then banked_bound.py's bound."""
    on = np.zeros(len(data.products), dtype=bool)
    on[members] = True
    start, _ = sweep(data, start, members, line, on, plan_cost(data, start, on))
    master = _Master(data, members, line, seed, time_limit)
    for i, p in enumerate(members):
        master.add(i, start[p].astype(float), product_cost(data, p, start[p]))
    reg, ot, ot_cost = data.regular[line], data.overtime[line], data.overtime_cost[line]
    cap = float(reg + ot)
    everyone = list(range(len(members)))
    bound, done = -np.inf, 0
    for done in range(1, rounds + 1):
        lp = master.solve_lp()
        if lp is None:
            break
        value, mu, pi, _ = lp
        priced, added = _price(master, data, members, everyone, pi, mu, cap, value)
        # Any hour prices >= 0 bound the line: the priced optima, the best overtime at those
        # prices, less the priced regular hours.
        bound = max(bound, priced + float((np.minimum(ot_cost - pi, 0.0) * ot).sum() - (pi * reg).sum()))
        if added == 0 or value - bound <= 1e-9 * abs(value):
            break
    any_timing = bound if banked is None else banked_bound(data, members, line, banked[0], banked[1], master.plans, rounds)
    best = start[members].astype(float)
    best_cost = line_cost(data, members, line, best)
    lp = master.solve_lp()
    rounded = None
    if lp is not None:
        mixed = np.zeros_like(best)  # the LP's production [members, t]: its plans mixed by weight
        for k, (i, row, _) in enumerate(master.plans):
            mixed[i] += lp[3][k] * row
        rounded = round_mixed(data, members, line, mixed)
    dived = _dive(master, data, members, line, start, dive_steps, dive_rounds, dive_bans)
    master.release()

    def better(made: np.ndarray | None) -> None:
        nonlocal best, best_cost
        if made is None:
            return
        cost = line_cost(data, members, line, made)
        if cost < best_cost and fits(data, _on_line(start, members, made), line):
            best, best_cost = made, cost

    better(rounded)
    better(dived)
    # The master with whole plans, from the best plan so far when it is made of columns.
    for i, row in enumerate(best):
        master.add(i, row, product_cost(data, members[i], row))
    start_columns = [master.column(i, row) for i, row in enumerate(best)]
    master.keep_cheapest(IP_COLUMNS_PER_PRODUCT, start_columns, best_cost)
    chosen, capped = master.solve_ip(start_columns, max_nodes, rel_gap)
    better(None if chosen is None else np.array([master.plans[k][1] for k in chosen]))
    # Whole plans from a few columns leave one-product gains (a lot a week earlier, one setup fewer).
    swept, _ = sweep(data, _on_line(start, members, best), members, line, on, plan_cost(data, _on_line(start, members, best), on))
    better(swept[members])
    return LinePlan(best, best_cost, min(bound, best_cost), min(any_timing, best_cost), done, len(master.plans), capped)


def _on_line(start: np.ndarray, members: list[int], made: np.ndarray) -> np.ndarray:
    out = start.copy()
    out[members] = made
    return out

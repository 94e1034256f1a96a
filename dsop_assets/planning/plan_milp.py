"""The production MILP as a Pyomo model over one group of products and the lines they share.

Products interact only through the capacity of their own line, so the full plan separates into
one independent model per line (plus one for products without a known line). Each is built here
over the global product indices of its members, which keeps mapping results back trivial; the
monolithic model is the same call with every product and every line.

Variables, indexed [p, t] over the member products or [l, t] over the lines:
  make     lots (integer) for products with a lot size, units for the others
  setup    binary: the product is made in week t
  stock    end-of-week stock;  backlog  end-of-week unmet demand carried forward
  ss_gap   how far stock falls below the safety-stock target (soft constraint)
  overtime hours per line and week;  cap_slack (diagnosis only) priced extra capacity
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.solvers import Highs

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.plan_data import PlanData

CAPACITY_SLACK_COST = 1e9  # per hour; dominates any real cost so slack means "truly short"


def make_solver(config: PlanConfig, *, time_limit: float | None = None):
    """Pyomo's appsi HiGHS interface (what SolverFactory("appsi_highs") wraps), kept silent.

    Used directly rather than through the SolverFactory wrapper, whose legacy results object
    carries neither the incumbent nor the dual bound we need for the gap.
    """
    import highspy

    # HiGHS keeps one task scheduler per process, sized by the first solve's `threads`; a solve asking
    # for another count (the network plan in the same code server) would fail unless it is reset.
    highspy.Highs.resetGlobalScheduler(True)
    solver = Highs()
    solver.config.mip_gap = float(config.mip_rel_gap)
    solver.config.time_limit = float(config.time_limit_seconds if time_limit is None else time_limit)
    solver.config.load_solution = False  # an incumbent at the time limit is loaded by hand
    solver.config.warmstart = True
    solver.highs_options = {
        "output_flag": False,
        "threads": int(config.threads),
        "random_seed": int(config.random_seed),
        "mip_max_nodes": int(config.mip_max_nodes),
    }
    return solver


def objective_scale(data: PlanData) -> float:
    # HiGHS warns about (and slows on) costs of 1e6 and more; KRW costs routinely reach that.
    costs = np.concatenate([data.setup_cost, data.hold_cost, data.shortage_cost, data.terminal_cost, data.ss_cost,
                            data.overtime_cost])
    top = float(np.max(np.abs(costs), initial=1.0))
    return 10.0 ** max(0, int(np.floor(np.log10(max(top, 1.0)))) - 3)


def lot_unit(data: PlanData) -> np.ndarray:
    """Units per step of ``make``: the lot size, or 1 for continuous production."""
    return np.where(np.isnan(data.lot), 1.0, np.nan_to_num(data.lot, nan=1.0))


def build_model(
    data: PlanData,
    members: Sequence[int],
    lines: Sequence[int],
    *,
    elastic: bool = False,
    relax: bool = False,
    ls_window: int = 2,
    scale: float | None = None,
    fixed_hours: np.ndarray | None = None,
) -> pyo.ConcreteModel:
    """Model over products ``members`` with capacity rows for ``lines`` (indices into data.lines).

    ``fixed_hours`` [l, t] are hours already taken on the line by products outside ``members``
    whose plan is held fixed (fix-and-optimise windows, local_search.py); overtime stays priced
    for the whole line, so the window's objective differs from the line's only by a constant.
    """
    members = [int(p) for p in members]
    lines = [int(l) for l in lines]
    n_t = len(data.weeks)
    scale = objective_scale(data) if scale is None else scale
    unit = lot_unit(data)
    lotted = ~np.isnan(data.lot)
    bound = data.max_production()
    make_ub = np.where(lotted[:, None], np.round(bound / unit[:, None]), bound)
    ss = data.safety_stock

    m = pyo.ConcreteModel()
    m.P = pyo.Set(initialize=members, ordered=True)
    m.T = pyo.Set(initialize=range(n_t), ordered=True)
    m.L = pyo.Set(initialize=lines, ordered=True)

    def make_domain(_, p, t):
        return pyo.NonNegativeIntegers if lotted[p] and not relax else pyo.NonNegativeReals

    m.make = pyo.Var(m.P, m.T, domain=make_domain, bounds=lambda _, p, t: (0.0, float(make_ub[p, t])))
    m.setup = pyo.Var(m.P, m.T, domain=pyo.UnitInterval if relax else pyo.Binary)
    m.stock = pyo.Var(m.P, m.T, domain=pyo.NonNegativeReals)
    m.backlog = pyo.Var(m.P, m.T, domain=pyo.NonNegativeReals)
    m.ss_gap = pyo.Var(m.P, m.T, bounds=lambda _, p, t: (0.0, float(ss[p, t])))
    m.overtime = pyo.Var(m.L, m.T, bounds=lambda _, l, t: (0.0, float(data.overtime[l])))
    if elastic:
        m.cap_slack = pyo.Var(m.L, m.T, domain=pyo.NonNegativeReals)

    cost = sum(
        data.setup_cost[p] / scale * m.setup[p, t] + data.hold_cost[p] / scale * m.stock[p, t]
        + data.shortage_cost[p] / scale * m.backlog[p, t] + data.ss_cost[p] / scale * m.ss_gap[p, t]
        for p in members for t in range(n_t)
    ) + sum(data.overtime_cost[l] / scale * m.overtime[l, t] for l in lines for t in range(n_t)) + sum(
        data.terminal_cost[p] / scale * m.backlog[p, n_t - 1] for p in members
    )
    if elastic:
        cost = cost + sum(CAPACITY_SLACK_COST / scale * m.cap_slack[l, t] for l in lines for t in range(n_t))
    m.cost = pyo.Objective(expr=cost, sense=pyo.minimize)

    def balance(_, p, t):
        carried = m.stock[p, t - 1] - m.backlog[p, t - 1] if t > 0 else float(data.opening[p])
        return m.stock[p, t] - m.backlog[p, t] == carried + unit[p] * m.make[p, t] - float(data.demand[p, t])

    m.balance = pyo.Constraint(m.P, m.T, rule=balance)
    # Soft safety stock: stock + gap >= target.
    m.cushion = pyo.Constraint(m.P, m.T, rule=lambda _, p, t: m.stock[p, t] + m.ss_gap[p, t] >= float(ss[p, t]))
    # make_ub is already the tight big-M (plan_data.max_production): capacity and remaining need.
    m.link = pyo.Constraint(m.P, m.T, rule=lambda _, p, t: m.make[p, t] <= float(make_ub[p, t]) * m.setup[p, t])

    # (l,S) inequalities of Barany, Van Roy and Wolsey for S = {t}, written over stock above its
    # safety target (J = stock + ss_gap - SS >= 0), with the target's growth counted as demand and
    # the gap counted as backlog: J and B' = backlog + ss_gap follow the same balance as stock and
    # backlog. Whatever week t makes then clears B' carried in, meets demand t..e (only if set up)
    # or is still in J at the end of week e. Without the shift the relaxation makes the safety
    # stock for free; with it the root bound roughly doubles on the seed-scale benchmark.
    cum = np.concatenate([np.zeros((len(data.products), 1)), np.cumsum(data.demand, axis=1)], axis=1)
    ss_before = np.concatenate([np.zeros((len(data.products), 1)), ss[:, :-1]], axis=1)
    cut_index = [(p, t, e) for p in members for t in range(n_t) for e in range(t, min(n_t, t + ls_window))]

    def ls_cut(_, p, t, e):
        covered = float(cum[p, e + 1] - cum[p, t] + ss[p, e] - ss_before[p, t])
        lhs = unit[p] * m.make[p, t] - covered * m.setup[p, t] - m.stock[p, e] - m.ss_gap[p, e]
        if t > 0:
            return lhs - m.backlog[p, t - 1] - m.ss_gap[p, t - 1] <= float(-ss[p, e])
        return lhs <= float(-ss[p, e] + max(-data.opening[p], 0.0))

    m.ls_cut = pyo.Constraint(pyo.Set(initialize=cut_index, dimen=3), rule=ls_cut)

    loaded = {l: [p for p in members if data.line_of[p] == l and data.hours[p] > 0] for l in lines}

    def capacity(_, l, t):
        hours = sum(float(data.hours[p] * unit[p]) * m.make[p, t] for p in loaded[l])
        extra = m.overtime[l, t] + (m.cap_slack[l, t] if elastic else 0.0)
        taken = 0.0 if fixed_hours is None else float(fixed_hours[l, t])
        if not loaded[l]:
            return pyo.Constraint.Skip
        return hours - extra <= float(data.regular[l]) - taken

    m.capacity = pyo.Constraint(m.L, m.T, rule=capacity)

    # Hard firm orders: cumulative make covers cumulative firm orders net of opening stock; only
    # rows that can bind are written.
    need = np.cumsum(data.firm, axis=1) - data.opening[:, None]
    firm_index = [(p, t) for p in members for t in range(n_t) if need[p, t] > 1e-9]
    m.firm = pyo.Constraint(
        pyo.Set(initialize=firm_index, dimen=2),
        rule=lambda _, p, t: sum(unit[p] * m.make[p, s] for s in range(t + 1)) >= float(need[p, t]),
    )
    return m


def set_start(m: pyo.ConcreteModel, data: PlanData, made: np.ndarray) -> None:
    """Loads a production plan [p, t] (units) and its implied stock, gaps and overtime as values."""
    unit = lot_unit(data)
    net = data.opening[:, None] + np.cumsum(made - data.demand, axis=1)
    stock = np.maximum(net, 0.0)
    gap = np.minimum(np.maximum(data.safety_stock - stock, 0.0), data.safety_stock)
    for (p, t), v in m.make.items():
        v.set_value(float(np.round(made[p, t] / unit[p], 6)), skip_validation=True)
        m.setup[p, t].set_value(float(made[p, t] > 1e-9), skip_validation=True)
        m.stock[p, t].set_value(float(stock[p, t]), skip_validation=True)
        m.backlog[p, t].set_value(float(max(-net[p, t], 0.0)), skip_validation=True)
        m.ss_gap[p, t].set_value(float(gap[p, t]), skip_validation=True)
    for (l, t), v in m.overtime.items():
        on_line = [p for p in m.P if data.line_of[p] == l]
        hours = float(sum(made[p, t] * data.hours[p] for p in on_line))
        v.set_value(min(max(hours - data.regular[l], 0.0), data.overtime[l]), skip_validation=True)


def read_make(m: pyo.ConcreteModel, out: np.ndarray) -> None:
    """Writes the solved ``make`` steps of the model's products into out[p, t]."""
    for (p, t), v in m.make.items():
        out[p, t] = v.value if v.value is not None else 0.0

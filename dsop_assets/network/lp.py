"""A sparse MILP assembled from Polars frames, then handed to Pyomo (default) or straight to highspy.

Variables and rows are added a block at a time from frames, so the model is built with joins, not
Python loops per term; that keeps model generation linear in its size and cheap. The same matrix is
solved through Pyomo's HiGHS interface (``pyomo.contrib.solver``) or passed to highspy directly:
the figures in docs/network.md compare the two build paths on one model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

INF = float("inf")
_NO_LIMIT = 2_147_483_647  # HiGHS's "no limit" for integer options


@dataclass
class SolveResult:
    values: np.ndarray
    objective: float
    status: str
    mip_gap: float
    nodes: int
    build_s: float  # backend model construction (Pyomo objects or highspy arrays)
    solve_s: float
    hit_time_limit: bool
    hit_work_limit: bool = False  # a deterministic cap (LP iterations) stopped a stage short of optimal
    bound: float = float("nan")  # the solver's proven lower bound on ``objective`` (nan if none)


@dataclass
class Milp:
    n_vars: int = 0
    lb: list = field(default_factory=list)
    ub: list = field(default_factory=list)
    cost: list = field(default_factory=list)
    integer: list = field(default_factory=list)
    n_rows: int = 0
    row_lo: list = field(default_factory=list)
    row_hi: list = field(default_factory=list)
    terms: list = field(default_factory=list)  # frames of (row, col, coef)
    blocks: dict = field(default_factory=dict)

    def add_vars(self, name: str, keys: pl.DataFrame, lb=0.0, ub=INF, cost=0.0, integer=False) -> pl.DataFrame:
        """One variable per row of ``keys``; lb/ub/cost are scalars or column names. Returns keys + ``col``.

        Columns are numbered in key order: Polars joins and group-bys return rows in an order that
        varies from run to run, and HiGHS's path (so the plan it stops at) depends on column order.
        """
        keys = keys.sort(keys.columns)
        n = keys.height
        cols = np.arange(self.n_vars, self.n_vars + n, dtype=np.int64)
        for store, value in ((self.lb, lb), (self.ub, ub), (self.cost, cost)):
            store.append(keys[value].to_numpy().astype(float) if isinstance(value, str) else np.full(n, float(value)))
        self.integer.append(np.full(n, bool(integer)))
        self.n_vars += n
        out = keys.with_columns(pl.Series("col", cols))
        self.blocks[name] = out
        return out

    def add_rows(self, terms: pl.DataFrame, by: list[str], lo=-INF, hi=INF) -> int:
        """One row per distinct ``by`` key of ``terms`` (columns ``by`` + col + coef); lo/hi are scalars
        or columns of ``terms`` constant within a row. Returns the number of rows added."""
        if terms.height == 0:
            return 0
        rows = terms.select(by).unique().sort(by).with_row_index("row")  # rows in key order, as columns
        joined = terms.join(rows, on=by, how="left")
        first = joined.group_by("row", maintain_order=True).first().sort("row")
        for store, value in ((self.row_lo, lo), (self.row_hi, hi)):
            store.append(first[value].to_numpy().astype(float) if isinstance(value, str) else np.full(rows.height, float(value)))
        self.terms.append(joined.select((pl.col("row").cast(pl.Int64) + self.n_rows).alias("row"), "col", pl.col("coef").cast(pl.Float64)))
        self.n_rows += rows.height
        return rows.height

    def arrays(self):
        cat = lambda xs, dtype=float: np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)  # noqa: E731
        terms = pl.concat(self.terms) if self.terms else pl.DataFrame(schema={"row": pl.Int64, "col": pl.Int64, "coef": pl.Float64})
        terms = terms.group_by("row", "col").agg(pl.col("coef").sum()).sort("row", "col")
        return (cat(self.lb), cat(self.ub), cat(self.cost), cat(self.integer, bool), cat(self.row_lo), cat(self.row_hi),
                terms["row"].to_numpy(), terms["col"].to_numpy(), terms["coef"].to_numpy())

    @property
    def n_integer(self) -> int:
        return int(sum(a.sum() for a in self.integer))

    def nnz(self) -> int:
        return sum(t.height for t in self.terms)


def _options(config) -> dict:
    return {"mip_rel_gap": config.mip_rel_gap, "mip_max_nodes": config.mip_max_nodes, "time_limit": config.time_limit_s,
            "threads": config.threads, "random_seed": 0, "output_flag": False}


def _highs(milp: Milp, arrays: tuple, config, *, mip: bool):
    """(a silent Highs with the config's options, the matrix as a column-wise HighsLp, not passed yet).

    ``mip=False`` leaves out the MIP options (the LP relaxation of relax_and_fix).
    """
    import highspy

    lb, ub, cost, _, lo, hi, r, c, v = arrays
    # HiGHS keeps one task scheduler per process, sized by the first solve's `threads`; a later solve
    # asking for another count fails outright (no solution at all) unless the scheduler is reset.
    highspy.Highs.resetGlobalScheduler(True)
    h = highspy.Highs()
    h.silent()
    for key, value in _options(config).items():
        if mip or not key.startswith("mip_"):
            h.setOptionValue(key, value)
    if not mip:
        h.setOptionValue("simplex_iteration_limit", int(config.lp_iteration_limit))
    return h, column_lp(milp, arrays)


def column_lp(milp: Milp, arrays: tuple):
    """``milp.arrays()`` as a column-wise HighsLp (integrality not set)."""
    import highspy

    lb, ub, cost, _, lo, hi, r, c, v = arrays
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = milp.n_vars, milp.n_rows
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lb, ub
    lp.row_lower_, lp.row_upper_ = lo, hi
    order = np.lexsort((r, c))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(c[order], np.arange(milp.n_vars + 1)).astype(np.int32)
    lp.a_matrix_.index_, lp.a_matrix_.value_ = r[order].astype(np.int32), v[order]
    return lp


def solve_highspy(milp: Milp, config) -> SolveResult:
    import highspy

    began = time.perf_counter()
    arrays = milp.arrays()
    integer = arrays[3]
    h, lp = _highs(milp, arrays, config, mip=True)
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    built = time.perf_counter()
    h.run()
    solved = time.perf_counter()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value) if info.primal_solution_status else np.full(milp.n_vars, np.nan)
    return SolveResult(values, float(info.objective_function_value), status, float(info.mip_gap), int(info.mip_node_count),
                       built - began, solved - built, status == "Time limit reached",
                       # Without integers HiGHS solves an LP and leaves mip_dual_bound unset: the optimum is the bound.
                       bound=float(info.mip_dual_bound) if integer.any() else float(info.objective_function_value))


def solve_pyomo(milp: Milp, config) -> SolveResult:
    """The same matrix as a Pyomo model: one indexed Var, one LinearExpression per row."""
    import pyomo.environ as pyo
    from pyomo.contrib.solver.solvers.highs import Highs
    from pyomo.core.expr.numeric_expr import LinearExpression

    began = time.perf_counter()
    lb, ub, cost, integer, lo, hi, r, c, v = milp.arrays()
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(milp.n_vars))
    xs = [m.x[i] for i in range(milp.n_vars)]
    for i, var in enumerate(xs):
        var.setlb(None if lb[i] == -INF else lb[i])
        var.setub(None if ub[i] == INF else ub[i])
        if integer[i]:
            var.domain = pyo.Integers
    nz = np.nonzero(cost)[0]
    m.obj = pyo.Objective(expr=LinearExpression([float(cost[i]) * xs[i] for i in nz]))
    bounds = np.searchsorted(r, np.arange(milp.n_rows + 1))
    m.rows = pyo.ConstraintList()
    for k in range(milp.n_rows):
        a, b = bounds[k], bounds[k + 1]
        body = LinearExpression([float(v[j]) * xs[c[j]] for j in range(a, b)])
        m.rows.add((None if lo[k] == -INF else float(lo[k]), body, None if hi[k] == INF else float(hi[k])))
    built = time.perf_counter()
    import highspy

    highspy.Highs.resetGlobalScheduler(True)  # see solve_highspy
    opt = Highs()
    res = opt.solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False, time_limit=config.time_limit_s,
                    threads=config.threads, rel_gap=config.mip_rel_gap,
                    solver_options={"mip_max_nodes": config.mip_max_nodes, "random_seed": 0})
    solved = time.perf_counter()
    status = str(res.termination_condition)
    values = np.full(milp.n_vars, np.nan)
    if res.incumbent_objective is not None:
        res.solution_loader.load_vars()
        values = np.array([x.value if x.value is not None else 0.0 for x in xs])
    gap = np.nan
    if res.incumbent_objective is not None and res.objective_bound is not None:
        gap = abs(res.incumbent_objective - res.objective_bound) / max(abs(res.incumbent_objective), 1e-9)
    nodes = int(getattr(res.extra_info, "mip_node_count", -1) or -1)
    return SolveResult(values, float(res.incumbent_objective or np.nan), status, float(gap), nodes,
                       built - began, solved - built, "maxTimeLimit" in status,
                       bound=float(res.objective_bound) if res.objective_bound is not None else float("nan"))


def solve(milp: Milp, config, backend: str = "pyomo") -> SolveResult:
    if backend == "lp_fix":
        return solve_lp_fix(milp, config)
    if backend == "highspy":
        return solve_highspy(milp, config)
    if backend == "pyomo":
        return solve_pyomo(milp, config)
    raise ValueError(f"unknown backend {backend!r}; expected pyomo or highspy")


def solve_lp_fix(milp: Milp, config) -> SolveResult:
    """Relax, fix, then branch and bound on what is left: for chunks too large to branch on whole.

    1. LP relaxation: its objective is a proven lower bound.  2. Each lane-weekday-block takes the
    mode its LP uses most (binaries ``y`` fixed); lane-days the LP leaves (nearly) empty are closed;
    the others keep integer containers within one of the LP's rounded-up count.  3. HiGHS solves
    that smaller MIP under the same deterministic limits (gap, nodes).  4. Containers are recounted
    as ceil(load / 4000). ``mip_gap`` is measured against the step-1 bound, so the plan states how far
    from optimal it can be at most. If step 3 finds nothing, rounded-up containers are used.
    """
    import highspy

    began = time.perf_counter()
    arrays = milp.arrays()
    lb, ub, cost = arrays[0], arrays[1], arrays[2]
    h, lp = _highs(milp, arrays, config, mip=False)
    h.passModel(lp)
    built = time.perf_counter()
    h.run()
    lp_status = h.modelStatusToString(h.getModelStatus())
    # An LP stopped by its iteration cap (or the safety-net time limit) gives no bound and a poorer
    # vote; the plan is still made from it, and the result says so.
    lp_capped = lp_status == "Iteration limit reached"
    lp_timed_out = lp_status == "Time limit reached"
    bound = float(h.getInfo().objective_function_value)
    x = np.asarray(h.getSolution().col_value)
    lb2, ub2 = lb.copy(), ub.copy()
    blocks = milp.blocks
    if "y" in blocks and blocks["y"].height:
        y = blocks["y"].with_columns(pl.Series("v", x[blocks["y"]["col"].to_numpy()]))
        use = blocks["n"].with_columns(pl.Series("v", x[blocks["n"]["col"].to_numpy()])).group_by(
            "src", "dst", "weekday", "block", "mode").agg(pl.col("v").sum().alias("use"))
        pick = y.join(use, on=["src", "dst", "weekday", "block", "mode"], how="left").with_columns(
            (pl.col("use").fill_null(0) + 1e-6 * pl.col("v")).alias("score")).sort("score", "mode", descending=[True, False]).with_columns(
            (pl.col("score").rank("ordinal", descending=True).over("src", "dst", "weekday", "block") == 1).alias("chosen"))
        cols = pick["col"].to_numpy()
        chosen = pick["chosen"].to_numpy()
        lb2[cols] = np.where(chosen, 1.0, 0.0)
        ub2[cols] = np.where(chosen, 1.0, 0.0)
    n_cols = blocks["n"]["col"].to_numpy()
    n_round = np.ceil(np.maximum(x[n_cols], 0.0) - 1e-6)
    # A lane-day whose mode lost the vote carries nothing now.
    if "y" in blocks and blocks["y"].height:
        lost = blocks["n"].join(blocks["y"].rename({"col": "ycol"}), on=["src", "dst", "weekday", "block", "mode"], how="left")["ycol"].to_numpy()
        has = ~np.isnan(lost.astype(float))
        n_round[has] = np.where(ub2[lost[has].astype(np.int64)] > 0.5, n_round[has], 0.0)
    if not config.container_mip:
        x2, status, nodes = _round_containers(h, milp, lb2, ub2, n_cols, config)
        return _finish(milp, cost, x2, bound, lp_status, status, nodes, began, built, lp_timed_out, lp_capped, config)
    # Lane-days the LP barely uses are closed; the rest stay integer for a small branch and bound.
    closed = x[n_cols] < config.lp_close_below
    ub2[n_cols[closed]] = 0.0
    ub2[n_cols] = np.minimum(ub2[n_cols], np.maximum(n_round, 0.0) + 1.0)
    tonnes = blocks.get("co2_tonnes")
    h.changeColsBounds(milp.n_vars, np.arange(milp.n_vars, dtype=np.int32), lb2, ub2)
    open_int = np.zeros(milp.n_vars, dtype=bool)
    open_int[n_cols[~closed]] = True
    if tonnes is not None:
        open_int[tonnes["col"].to_numpy()] = True
    h.changeColsIntegrality(milp.n_vars, np.arange(milp.n_vars, dtype=np.int32),
                            np.where(open_int, highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous))
    for key, value in _options(config).items():
        h.setOptionValue(key, value)
    h.setOptionValue("simplex_iteration_limit", _NO_LIMIT)  # the branch and bound is capped by nodes instead
    h.silent()
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if not h.getInfo().primal_solution_status:
        lb2[n_cols], ub2[n_cols] = n_round, n_round
        h.changeColsIntegrality(milp.n_vars, np.arange(milp.n_vars, dtype=np.int32),
                                np.full(milp.n_vars, highspy.HighsVarType.kContinuous))
        h.changeColsBounds(milp.n_vars, np.arange(milp.n_vars, dtype=np.int32), lb2, ub2)
        h.run()
        status = "rounded:" + h.modelStatusToString(h.getModelStatus())
    x2 = np.asarray(h.getSolution().col_value)
    nodes = int(h.getInfo().mip_node_count)
    return _finish(milp, cost, x2, bound, lp_status, status, nodes, began, built, lp_timed_out, lp_capped, config)


def _round_containers(h, milp: Milp, lb2: np.ndarray, ub2: np.ndarray, n_cols: np.ndarray, config):
    """Modes fixed: re-solve the LP; every lane-day then pays its containers rounded up.

    The branch and bound over containers stalls at its root for minutes on a network chunk (no node
    cap applies there); an LP from the previous basis is cheap and bounded by the same iteration cap.
    ``refill_containers`` adds a third LP with the rounded-up containers fixed, so flows may fill what
    is paid for: a little cheaper, but at network scale it costs more than the first LP.
    """
    every = np.arange(milp.n_vars, dtype=np.int32)
    h.changeColsBounds(milp.n_vars, every, lb2, ub2)
    h.run()
    first = h.modelStatusToString(h.getModelStatus())
    x = np.asarray(h.getSolution().col_value)
    if not config.refill_containers:
        return x, f"round:{first}", 0  # containers are recounted from these flows (_finish)
    paid = np.ceil(np.maximum(x[n_cols], 0.0) - 1e-6)
    lb3, ub3 = lb2.copy(), ub2.copy()
    lb3[n_cols] = ub3[n_cols] = np.minimum(paid, ub2[n_cols])
    h.changeColsBounds(milp.n_vars, every, lb3, ub3)
    h.run()
    status = f"round:{first}/{h.modelStatusToString(h.getModelStatus())}"
    return np.asarray(h.getSolution().col_value), status, 0


def _finish(milp: Milp, cost, x2, bound, lp_status, status, nodes, began, built, lp_timed_out, lp_capped, config) -> SolveResult:
    blocks = milp.blocks
    n_cols = blocks["n"]["col"].to_numpy()
    tonnes = blocks.get("co2_tonnes")
    load = x2.copy()
    n_final = _recount(milp, load, config)
    load[n_cols] = n_final
    if tonnes is not None:
        t_col = tonnes["col"].to_numpy()
        load[t_col] = np.ceil(load[t_col] - 1e-6)
    objective = float(cost @ load)
    solved = time.perf_counter()
    gap = (objective - bound) / max(abs(objective), 1e-9)
    return SolveResult(load, objective, f"lp_fix:lp {lp_status}, mip {status}", gap, max(nodes, 0), built - began, solved - built,
                       lp_timed_out or "Time limit reached" in status, lp_capped or "Iteration limit reached" in status,
                       bound=bound if lp_status == "Optimal" else float("nan"))


def _recount(milp: Milp, x: np.ndarray, config) -> np.ndarray:
    """ceil(units on each lane-day-mode / container size), from the flow variables."""
    n = milp.blocks["n"]
    keys = ["src", "dst", "mode", "t"]
    flows = pl.concat([milp.blocks[b].select(*keys, "col") for b in ("x_pw", "x_wc")])
    units = flows.with_columns(pl.Series("u", x[flows["col"].to_numpy()])).group_by(keys).agg(pl.col("u").sum())
    need = n.join(units, on=keys, how="left").with_columns(
        (pl.col("u").fill_null(0.0) / config.container_units - 1e-6).ceil().clip(0).alias("k"))
    return need["k"].to_numpy().astype(float)

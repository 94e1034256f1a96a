"""The production MILP as sparse arrays handed straight to HiGHS.

Why not a Pyomo model: at seed scale (300 products, 6 lines, 12 weeks; 18k columns, 37k rows)
building the Pyomo model took 2-6 s and the appsi HiGHS interface another 7.5 s to translate it,
more than the whole 20 s budget before the first simplex iteration. Assembling the same rows with
numpy takes about 0.1 s, so the model is written here as blocks of rows over blocks of columns.

Columns, each block indexed [p, t] (p * n_weeks + t) or [line, t]:
  make     lots (integer) for products with a lot size, units for the others
  setup    binary: the product is made in week t
  stock    end-of-week stock;  backlog  end-of-week unmet demand carried forward
  ss_gap   how far stock falls below the safety-stock target (soft constraint)
  overtime hours per line and week;  cap_slack (diagnosis only) priced extra capacity
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from dsop_assets.planning.plan_data import UNCAPACITATED, PlanData

CAPACITY_SLACK_COST = 1e9  # per hour; dominates any real cost so slack means "truly short"


@dataclass
class Layout:
    n_p: int
    n_t: int
    n_l: int
    offsets: dict[str, int]
    n_cols: int
    unit: np.ndarray  # [p] units per make-column step (lot size or 1)

    def block(self, x: np.ndarray, name: str) -> np.ndarray:
        rows = self.n_l if name in ("overtime", "cap_slack") else self.n_p
        start = self.offsets[name]
        return x[start : start + rows * self.n_t].reshape(rows, self.n_t)


class _Rows:
    """Collects constraint rows as COO triplets with their bounds."""

    def __init__(self) -> None:
        self.r, self.c, self.v, self.lo, self.hi = [], [], [], [], []
        self.n = 0

    def add(self, n_rows: int, terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]], lo, hi) -> None:
        """terms: (local row index, column index, coefficient) arrays; lo/hi broadcast to n_rows."""
        for row, col, val in terms:
            self.r.append(np.asarray(row) + self.n)
            self.c.append(np.asarray(col))
            self.v.append(np.broadcast_to(np.asarray(val, dtype=float), np.shape(row)))
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (n_rows,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (n_rows,)))
        self.n += n_rows


def _objective_scale(costs: np.ndarray) -> float:
    # HiGHS warns about (and slows on) costs of 1e6 and more; KRW costs routinely reach that.
    top = float(np.max(np.abs(costs), initial=1.0))
    return 10.0 ** max(0, int(np.floor(np.log10(max(top, 1.0)))) - 3)


def build_milp(data: PlanData, *, elastic: bool = False, relax: bool = False, ls_window: int = 4) -> tuple[highspy.HighsLp, Layout, float]:
    """The model, its column layout and the factor its objective was divided by."""
    n_p, n_t = data.demand.shape
    n_l = len(data.lines)
    lotted = ~np.isnan(data.lot)
    unit = np.where(lotted, np.nan_to_num(data.lot, nan=1.0), 1.0)
    names = ["make", "setup", "stock", "backlog", "ss_gap", "overtime"] + (["cap_slack"] if elastic else [])
    sizes = [n_p * n_t] * 5 + [n_l * n_t] * (2 if elastic else 1)
    offsets = dict(zip(names, np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()))
    lay = Layout(n_p, n_t, n_l, offsets, int(sum(sizes)), unit)
    pt = np.arange(n_p * n_t).reshape(n_p, n_t)
    col = {k: offsets[k] + pt for k in names[:5]}
    lt = np.arange(n_l * n_t).reshape(n_l, n_t)
    col["overtime"] = offsets["overtime"] + lt
    P, T = np.meshgrid(np.arange(n_p), np.arange(n_t), indexing="ij")

    # Bounds and costs.
    bound = data.max_production()
    lo, hi, cost = np.zeros(lay.n_cols), np.full(lay.n_cols, np.inf), np.zeros(lay.n_cols)
    make_ub = np.where(lotted[:, None], np.round(bound / unit[:, None]), bound)
    hi[col["make"].ravel()] = make_ub.ravel()
    hi[col["setup"].ravel()] = 1.0
    hi[col["ss_gap"].ravel()] = data.safety_stock.ravel()
    hi[col["overtime"].ravel()] = np.repeat(data.overtime, n_t)
    cost[col["setup"].ravel()] = np.repeat(data.setup_cost, n_t)
    cost[col["stock"].ravel()] = np.repeat(data.hold_cost, n_t)
    cost[col["backlog"].ravel()] = np.repeat(data.shortage_cost, n_t)
    cost[col["ss_gap"].ravel()] = np.repeat(data.ss_cost, n_t)
    cost[col["overtime"].ravel()] = np.repeat(data.overtime_cost, n_t)
    if elastic:
        cost[offsets["cap_slack"] : offsets["cap_slack"] + n_l * n_t] = CAPACITY_SLACK_COST
    scale = _objective_scale(cost[cost < CAPACITY_SLACK_COST])
    integer = np.zeros(lay.n_cols, dtype=bool)
    if not relax:
        integer[col["make"][lotted].ravel()] = True
        integer[col["setup"].ravel()] = True

    rows = _Rows()
    k = np.arange(n_p * n_t)
    u = np.repeat(unit, n_t)
    # Balance: stock - backlog - (stock - backlog)[t-1] - make = -demand (+ opening in week 0).
    prev = T.ravel() > 0
    rhs = -data.demand.ravel() + np.where(~prev, np.repeat(data.opening, n_t), 0.0)
    rows.add(n_p * n_t, [
        (k, col["stock"].ravel(), 1.0), (k, col["backlog"].ravel(), -1.0), (k, col["make"].ravel(), -u),
        (k[prev], col["stock"].ravel()[prev] - 1, -1.0), (k[prev], col["backlog"].ravel()[prev] - 1, 1.0),
    ], rhs, rhs)
    # Soft safety stock: stock + gap >= target.
    rows.add(n_p * n_t, [(k, col["stock"].ravel(), 1.0), (k, col["ss_gap"].ravel(), 1.0)],
             data.safety_stock.ravel(), np.inf)
    # Setup link: make <= bound * setup.
    rows.add(n_p * n_t, [(k, col["make"].ravel(), 1.0), (k, col["setup"].ravel(), -make_ub.ravel())], -np.inf, 0.0)

    # (l,S) inequalities of Barany, Van Roy and Wolsey for S = {t}, written over stock above its
    # safety target (J = stock + ss_gap - SS >= 0), with the target's growth counted as demand and
    # the gap counted as backlog: J and B' = backlog + ss_gap follow the same balance as stock and
    # backlog. Whatever week t makes then clears B' carried in, meets demand t..e (only if set up)
    # or is still in J at the end of week e. Without the shift the relaxation makes the safety
    # stock for free; with it the root bound roughly doubles on the seed-scale benchmark.
    ss = data.safety_stock
    cum = np.concatenate([np.zeros((n_p, 1)), np.cumsum(data.demand, axis=1)], axis=1)
    ss_before = np.concatenate([np.zeros((n_p, 1)), ss[:, :-1]], axis=1)
    pp, tt, ee = (a.ravel() for a in np.meshgrid(np.arange(n_p), np.arange(n_t), np.arange(n_t), indexing="ij"))
    keep = (ee >= tt) & (ee < tt + ls_window)
    pp, tt, ee = pp[keep], tt[keep], ee[keep]
    j = np.arange(len(pp))
    c = tt > 0
    pc, tc = pp[c], tt[c] - 1
    rows.add(len(pp), [
        (j, col["make"][pp, tt], unit[pp]),
        (j, col["setup"][pp, tt], -(cum[pp, ee + 1] - cum[pp, tt] + ss[pp, ee] - ss_before[pp, tt])),
        (j, col["stock"][pp, ee], -1.0), (j, col["ss_gap"][pp, ee], -1.0),
        (j[c], col["backlog"][pc, tc], -1.0), (j[c], col["ss_gap"][pc, tc], -1.0),
    ], -np.inf, -ss[pp, ee] + np.where(c, 0.0, np.maximum(-data.opening[pp], 0.0)))

    # Line capacity: hours made <= regular + overtime (+ slack in the elastic diagnosis model).
    on_line = (data.line_of != UNCAPACITATED) & (data.hours > 0)
    cp, ct = P[on_line].ravel(), T[on_line].ravel()
    row_of = data.line_of[cp] * n_t + ct
    terms = [(row_of, col["make"][cp, ct], data.hours[cp] * unit[cp]), (lt.ravel(), col["overtime"].ravel(), -1.0)]
    if elastic:
        terms.append((lt.ravel(), offsets["cap_slack"] + lt.ravel(), -1.0))
    rows.add(n_l * n_t, terms, -np.inf, np.repeat(data.regular, n_t))

    # Hard firm orders: cumulative make covers cumulative firm orders net of opening stock; only
    # rows that can bind are written.
    need = np.cumsum(data.firm, axis=1) - data.opening[:, None]
    fp, ft = np.nonzero(need > 1e-9)
    if len(fp):
        fr = np.repeat(np.arange(len(fp)), ft + 1)
        fs = np.concatenate([np.arange(t + 1) for t in ft])
        fpp = np.repeat(fp, ft + 1)
        rows.add(len(fp), [(fr, col["make"][fpp, fs], unit[fpp])], need[fp, ft], np.inf)

    a = sp.csc_matrix(
        (np.concatenate(rows.v), (np.concatenate(rows.r), np.concatenate(rows.c))), shape=(rows.n, lay.n_cols)
    )
    a.sum_duplicates()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = lay.n_cols, rows.n
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost / scale, lo, hi
    lp.row_lower_, lp.row_upper_ = np.concatenate(rows.lo), np.concatenate(rows.hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    if integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    return lp, lay, scale

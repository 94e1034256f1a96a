"""Weekly production plan: a capacitated lot-sizing MILP solved by HiGHS (model in plan_milp.py).

Shortage is modelled as **backlog**, not lost sales: the plants are order-driven, so an unmet
order is shipped late rather than lost, and it costs its penalty every week it stays open. Net
stock I - B follows the balance I[t] - B[t] = I[t-1] - B[t-1] + make[t] - demand[t].

The safety stock is a soft target (stock + gap >= SS, gap penalised) so a tight week lowers the
cushion instead of making the model infeasible. Only firm orders (``firm_qty``) are hard: the
cumulative supply must cover them on time. When they cannot be covered, ``PlanInfeasible`` says
which line is short in which week and by how many hours; the caller keeps its previous plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import polars as pl

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.diagnosis import PlanInfeasible, diagnose
from dsop_assets.planning.plan_data import PlanData, prepare_plan_data
from dsop_assets.planning.plan_milp import Layout, build_milp
from dsop_assets.planning.warm_start import start_vector


@dataclass
class PlanResult:
    plan: pl.DataFrame
    lines: pl.DataFrame
    status: str  # "optimal" (within mip_rel_gap) or "feasible" (time limit hit with an incumbent)
    termination_condition: str  # HiGHS model status, e.g. "Optimal", "Time limit reached"
    objective: float
    mip_gap: float  # HiGHS relative gap between incumbent and dual bound
    solve_seconds: float
    build_seconds: float
    n_variables: int
    n_integer: int


def make_solver(config: PlanConfig, *, time_limit: float | None = None) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", float(config.mip_rel_gap))
    h.setOptionValue("time_limit", float(config.time_limit_seconds if time_limit is None else time_limit))
    h.setOptionValue("threads", int(config.threads))
    h.setOptionValue("random_seed", int(config.random_seed))
    return h


def plan_production(
    demand: pl.DataFrame,
    products: pl.DataFrame,
    lines: pl.DataFrame,
    opening_stock: pl.DataFrame,
    config: PlanConfig | None = None,
) -> PlanResult:
    """Cheapest weekly plan over the horizon; raises ``PlanInfeasible`` with a diagnosis on failure.

    demand: product_id, week_start, p10, p50, p90 [, firm_qty]; products: product_master rows;
    lines: production_line rows; opening_stock: product_id, on_hand_qty (negative = backlog).
    """
    config = config or PlanConfig()
    data = prepare_plan_data(demand, products, lines, opening_stock, config)
    started = time.perf_counter()
    try:
        lp, layout, scale = build_milp(data, ls_window=config.ls_window_weeks)
        built = time.perf_counter()
        h = make_solver(config)
        h.passModel(lp)
        _offer_start(h, start_vector(data, layout, data.max_production()))
        h.run()
    except Exception as exc:  # noqa: BLE001 - any solver failure must end in a diagnosis
        raise diagnose(data, config, f"solver error: {exc}") from exc
    solved = time.perf_counter()
    model_status = h.getModelStatus()
    condition = h.modelStatusToString(model_status)
    info = h.getInfo()
    if info.primal_solution_status != 2:  # 2 = feasible solution at hand
        raise diagnose(data, config, f"no feasible plan ({condition})")
    x = np.asarray(h.getSolution().col_value)
    qty, lots = _production(data, layout, x)
    return PlanResult(
        plan=_plan_frame(data, qty, lots),
        lines=_line_frame(data, qty),
        status="optimal" if model_status == highspy.HighsModelStatus.kOptimal else "feasible",
        termination_condition=condition,
        objective=float(info.objective_function_value) * scale,
        mip_gap=float(info.mip_gap),
        solve_seconds=solved - built,
        build_seconds=built - started,
        n_variables=int(lp.num_col_),
        n_integer=int(sum(1 for v in lp.integrality_ if v == highspy.HighsVarType.kInteger)),
    )


def _offer_start(h: highspy.Highs, x: np.ndarray) -> None:
    # HiGHS checks the start itself and ignores it when infeasible (e.g. firm orders not covered).
    start = highspy.HighsSolution()
    start.col_value = x.tolist()
    start.value_valid = True
    h.setSolution(start)


def _production(data: PlanData, layout: Layout, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.maximum(np.round(layout.block(x, "make"), 6), 0.0)
    lotted = ~np.isnan(data.lot)
    lots = np.where(lotted[:, None], np.round(steps), np.nan)
    qty = np.where(lotted[:, None], np.nan_to_num(lots) * layout.unit[:, None], steps)
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

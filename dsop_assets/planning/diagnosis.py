"""Why a production plan could not be made: which line is short of hours in which week.

Two views, the first that finds something wins:

1. Firm-order arithmetic. Products sit on exactly one line, and stock made early serves later
   weeks, so firm orders are coverable only if, for every line and week t, the hours to make the
   cumulative firm quantity (net of opening stock, rounded up to whole lots) fit in the line's
   cumulative regular + overtime hours up to t. This is exact for continuous production and a
   necessary condition with lots, and needs no solver.
2. Elastic LP. Otherwise the LP relaxation is re-solved with priced slack on every capacity row;
   the slack that remains is the shortfall.
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.plan_data import PlanData

log = logging.getLogger(__name__)
TOLERANCE_HOURS = 1e-6

DIAGNOSIS_SCHEMA = {
    "line_id": pl.Utf8,
    "week_start": pl.Date,
    "required_hours": pl.Float64,
    "capacity_hours": pl.Float64,
    "short_hours": pl.Float64,
    "basis": pl.Utf8,
}


class PlanInfeasible(Exception):
    """No plan could be made. ``diagnosis`` lists the short line-weeks; the caller keeps the old plan."""

    def __init__(self, message: str, diagnosis: pl.DataFrame, reason: str):
        super().__init__(message)
        self.message = message
        self.diagnosis = diagnosis
        self.reason = reason


def firm_capacity_shortfalls(data: PlanData) -> pl.DataFrame:
    """Line-weeks whose cumulative capacity cannot make the firm orders due by then (hours)."""
    need = np.maximum(np.cumsum(data.firm, axis=1) - data.opening[:, None], 0.0)
    lotted = ~np.isnan(data.lot)
    need[lotted] = np.ceil(need[lotted] / data.lot[lotted, None] - 1e-9) * data.lot[lotted, None]
    hours = need * data.hours[:, None]
    rows = []
    for l, line in enumerate(data.lines):
        required = hours[data.line_of == l].sum(axis=0)
        capacity = (data.regular[l] + data.overtime[l]) * np.arange(1, len(data.weeks) + 1)
        for t in np.flatnonzero(required - capacity > TOLERANCE_HOURS):
            rows.append(
                (line, data.weeks[t], float(required[t]), float(capacity[t]),
                 float(required[t] - capacity[t]), "cumulative firm orders")
            )
    return pl.DataFrame(rows, schema=DIAGNOSIS_SCHEMA, orient="row")


def elastic_capacity_shortfalls(data: PlanData, config: PlanConfig) -> pl.DataFrame:
    """Capacity slack the LP relaxation cannot do without, per line and week (hours)."""
    from dsop_assets.planning.plan_milp import build_model, make_solver  # pyomo only when a diagnosis needs the LP

    m = build_model(data, range(len(data.products)), range(len(data.lines)), elastic=True, relax=True,
                    ls_window=config.ls_window_weeks)
    results = make_solver(config, time_limit=max(config.time_limit_seconds, 5.0)).solve(m)
    if results.best_feasible_objective is None:
        return pl.DataFrame(schema=DIAGNOSIS_SCHEMA)
    results.solution_loader.load_vars()
    rows = []
    for (l, t), var in sorted(m.cap_slack.items()):
        short = float(var.value or 0.0)
        if short > TOLERANCE_HOURS:
            capacity = float(data.regular[l] + data.overtime[l])
            rows.append((data.lines[l], data.weeks[t], capacity + short, capacity, short, "elastic LP"))
    return pl.DataFrame(rows, schema=DIAGNOSIS_SCHEMA, orient="row")


def describe(shortfalls: pl.DataFrame) -> str:
    """One sentence per line: the first week it runs short and by how many hours."""
    parts = []
    for line, group in shortfalls.sort("week_start").group_by("line_id", maintain_order=True):
        first = group.row(0, named=True)
        span = "by the end of week" if first["basis"] == "cumulative firm orders" else "in week"
        parts.append(
            f"line {line[0]} is short {first['short_hours']:.1f} h {span} {first['week_start']} "
            f"(needs {first['required_hours']:.1f} h, regular+overtime capacity "
            f"{first['capacity_hours']:.1f} h; {group.height} week(s) short in total)"
        )
    return "; ".join(parts)


def diagnose(data: PlanData, config: PlanConfig, reason: str) -> PlanInfeasible:
    """A ``PlanInfeasible`` carrying the best explanation we can find; never raises itself."""
    shortfalls = firm_capacity_shortfalls(data)
    if shortfalls.is_empty():
        try:
            shortfalls = elastic_capacity_shortfalls(data, config)
        except Exception:  # noqa: BLE001 - the diagnosis must not hide the original failure
            log.exception("elastic capacity diagnosis failed")
            shortfalls = pl.DataFrame(schema=DIAGNOSIS_SCHEMA)
    if shortfalls.is_empty():
        message = f"production plan failed ({reason}); no line capacity shortfall found"
    else:
        message = f"production plan infeasible ({reason}): {describe(shortfalls)}"
    return PlanInfeasible(message, shortfalls, reason)

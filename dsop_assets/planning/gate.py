"""The plan gate: whether a production plan is good enough for purchases and actions to be built on it.

A plan passes when it exists, its proved gap is at most ``gate_max_gap`` and it leaves no
avoidable backlog (backlog a line had the spare hours to make). A plan that fails is not written:
the previous plan of the week stays, and the blocking check stops the purchases and actions of the
run. A plan a time budget ended is marked (``time_capped``, in the metadata) but not refused: the
large lines' search still runs to a wall-clock deadline, so refusing it would refuse every
seed-scale plan (see the closing note of issue #16).
"""

from __future__ import annotations

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.production_model import PlanResult

PLAN_GATE_CHECK = "production_plan_gate"
MIN_AVOIDABLE_UNITS = 0.5


def gate_failures(result: PlanResult | None, failure: str | None, config: PlanConfig) -> list[str]:
    """Reasons the plan may not be used; empty when it passes."""
    if result is None:
        return [f"no plan: {failure}"]
    reasons = []
    if result.mip_gap > config.gate_max_gap + 1e-12:
        reasons.append(f"proved gap {result.mip_gap:.2%} > {config.gate_max_gap:.2%} ({result.termination_condition})")
    # Demand is an expected, fractional quantity: a backlog under half a unit is rounding (the MILP may
    # leave 0.03 units short a week rather than bring a 120-unit lot forward), not a plan to refuse.
    if result.avoidable_backlog_qty >= MIN_AVOIDABLE_UNITS:
        reasons.append(f"avoidable backlog {result.avoidable_backlog_qty:,.1f} units on "
                       f"{result.avoidable_backlog_products} product(s) whose line had spare hours")
    return reasons

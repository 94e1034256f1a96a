"""The plan gate: whether a production plan is good enough for purchases and actions to be built on it.

A plan passes when it exists, its proved gap is at most ``gate_max_gap`` and it leaves no
avoidable backlog (backlog a line had the spare hours to make). A plan that fails is not written:
the previous plan of the week stays, and the blocking check stops the purchases and actions of the
run. The plan stops on deterministic work limits; a plan that hit the safety-net time limit instead
may differ on a rerun or a busier machine, so it is refused too.
"""

from __future__ import annotations

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.production_model import PlanResult

PLAN_GATE_CHECK = "production_plan_gate"


def gate_failures(result: PlanResult | None, failure: str | None, config: PlanConfig) -> list[str]:
    """Reasons the plan may not be used; empty when it passes."""
    if result is None:
        return [f"no plan: {failure}"]
    reasons = []
    if result.mip_gap > config.gate_max_gap + 1e-12:
        reasons.append(f"proved gap {result.mip_gap:.2%} > {config.gate_max_gap:.2%} ({result.termination_condition})")
    if result.time_capped:
        reasons.append("the solver's safety-net time limit ended it, so a rerun may give another plan")
    if result.avoidable_backlog_qty > 1e-6:
        reasons.append(f"avoidable backlog {result.avoidable_backlog_qty:,.1f} units on "
                       f"{result.avoidable_backlog_products} product(s) whose line had spare hours")
    return reasons

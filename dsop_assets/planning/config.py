"""Tunable settings of the production plan and the purchase recommendations.

Every default is a planner's starting point, not a law: they are Dagster configs (pydantic,
``config_base.DsopConfig``), so the launchpad shows and edits them for a run of production_plan /
purchase_recommendation, and a dict or YAML file overrides any field through ``from_dict``.
Every cost is in KRW: product costs and prices are read from ``unit_cost_krw`` /
``unit_price_krw`` (decision_inputs.products_in_krw, the business date's rate), setup, ordering
and overtime costs are KRW by the ERP contract.
"""

from __future__ import annotations

from pydantic import model_validator

from dsop_assets.config_base import DsopConfig


class PlanConfig(DsopConfig):
    """Settings of the production-plan MILP (``plan_production``)."""

    # Planning horizon in weeks; demand beyond it is ignored, missing weeks count as zero demand.
    horizon_weeks: int = 12
    # Cycle service level the safety stock protects; z = NormalDist().inv_cdf(service_level).
    service_level: float = 0.95
    # Backlogged demand costs this multiple of unit_price (unit_cost when no price) per unit and
    # per week late. Above any holding or overtime cost so the model only backlogs when it must.
    shortage_cost_multiple: float = 3.0
    # Stock below the safety-stock target costs this multiple of unit_cost per unit-week. Kept
    # well below the shortage penalty (the cushion must never beat serving real demand) and well
    # above the weekly holding cost (otherwise nobody would hold it).
    safety_stock_penalty_multiple: float = 0.5
    # Fallbacks when product_master / production_line leave a field empty.
    default_holding_cost_rate: float = 0.25
    default_setup_cost: float = 200_000.0
    default_overtime_cost_per_hour: float = 50_000.0
    # firm_qty in the demand frame (confirmed orders) must be covered on time when True; this is
    # the "hard minimum" whose violation makes the plan infeasible and triggers the diagnosis.
    firm_orders_hard: bool = True
    # When a line cannot make its firm orders on time (the backlog a closed loop carries into week 1
    # often exceeds one week's hours): "plan_late" plans that line with those orders as backlog at
    # the penalty, as early as the hours allow, and reports the short line-weeks beside the plan
    # (PlanResult.late_firm); "refuse" raises PlanInfeasible and the caller keeps its old plan.
    # Refusing left the replay of issue #16 on a 12-week-old plan (36.9 % fill); the order is late
    # either way, and the best plan with it is what the planner needs.
    firm_orders_when_short: str = "plan_late"
    # Stopping rules. The plan must not depend on how busy the machine is, so every part stops on
    # deterministic work limits. Each line is planned by column generation (column_generation.py):
    # at most cg_rounds pricing rounds for its bound, a dive of at most dive_steps fixes (giving up
    # a fix dive_bans times), then the master with whole plans for at most master_max_nodes
    # branch-and-bound nodes. Products without a line, and the single model of everything
    # (decompose_by_line=False), are solved by HiGHS to mip_rel_gap or mip_max_nodes nodes.
    # time_limit_seconds is only a safety net per solve: a plan that hits it is marked
    # ``time_capped`` and the plan gate refuses it.
    mip_rel_gap: float = 0.01
    mip_max_nodes: int = 20_000
    cg_rounds: int = 100
    dive_steps: int = 100
    dive_bans: int = 30
    master_max_nodes: int = 200
    time_limit_seconds: float = 300.0
    # Backlog still open at the end of the horizon costs this many more weeks of its penalty: it
    # will take at least that long to clear, and without the term the last weeks' demand would be
    # left unmade because a single week of penalty is cheaper than a setup.
    terminal_backlog_weeks: float = 4.0
    # The plan gate (planning/gate.py): the largest proved gap a plan may have and still be acted on.
    gate_max_gap: float = 0.02
    # Products only share their own line's capacity, so one model per line gives the same optimum
    # as one model of everything and each is far easier for HiGHS; False builds the single model.
    decompose_by_line: bool = True
    threads: int = 2
    # How many weeks ahead each (l,S) cut looks (plan_milp); 2-4 tightens the relaxation most per
    # row on the benchmark, the full horizon makes the root LP slower than it helps.
    ls_window_weeks: int = 2
    random_seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> PlanConfig:
        if not 0.5 <= self.service_level < 1.0:
            raise ValueError(f"service_level must be in [0.5, 1), got {self.service_level}")
        if self.horizon_weeks < 1:
            raise ValueError("horizon_weeks must be at least 1")
        if self.firm_orders_when_short not in ("plan_late", "refuse"):
            raise ValueError(f"firm_orders_when_short must be 'plan_late' or 'refuse', got {self.firm_orders_when_short!r}")
        return self


class PurchaseConfig(DsopConfig):
    """Settings of the purchase recommendations (``recommend_purchases``)."""

    # Cycle service level of the material safety stock; z = NormalDist().inv_cdf(service_level).
    service_level: float = 0.95
    # Supplier score = weighted sum of cost, P90 lead time and lateness, each relative to the best
    # candidate for the material (lower is better); see purchasing.choose_suppliers.
    weight_cost: float = 0.5
    weight_lead_time: float = 0.3
    weight_reliability: float = 0.2
    # Used for a material nobody has delivered yet (no row in lead_times).
    default_lead_time_days: float = 28.0
    default_on_time_rate: float = 0.8
    default_holding_cost_rate: float = 0.25
    default_ordering_cost: float = 50_000.0
    # Annualises the horizon's mean weekly requirement for the EOQ.
    weeks_per_year: float = 52.0

    @model_validator(mode="after")
    def _check(self) -> PurchaseConfig:
        if not 0.5 <= self.service_level < 1.0:
            raise ValueError(f"service_level must be in [0.5, 1), got {self.service_level}")
        if min(self.weight_cost, self.weight_lead_time, self.weight_reliability) < 0:
            raise ValueError("supplier score weights must be non-negative")
        return self

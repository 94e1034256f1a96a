"""Every weight, threshold and ratio behind the risk scores and the action rules, in one place.

Defaults are the documented starting point. ``RiskConfig`` is a Dagster config (pydantic,
``config_base.DsopConfig``): the launchpad shows and edits it for a run of risk_score, action_queue or
risk_backtest, and a plain dict (e.g. read from YAML) overrides it through ``RiskConfig.from_dict``.
Unknown keys raise so a typo cannot silently leave a default in force.

Piecewise-linear mappings are given as ``[x, score]`` breakpoints with increasing ``x``; outside
the first/last breakpoint the score is held flat (so it stays within 0..100). Lists, not tuples:
Dagster's config system has no tuple type.
"""

from __future__ import annotations

import math

from pydantic import model_validator

from dsop_assets.config_base import DsopConfig

Breakpoints = list[list[float]]

GRADES = ("A", "B", "C", "D", "F")


class RiskConfig(DsopConfig):
    # Component weights of the total; they must sum to 1 so the total stays on the 0..100 scale.
    weight_stockout: float = 0.35
    weight_excess: float = 0.25
    weight_delivery: float = 0.25
    weight_margin: float = 0.15

    # Replenishment lead of a finished good made in-house (lead_time_weeks of the risk inputs).
    production_lead_weeks: float = 1.0

    # Stockout: coverage = on_hand / (P90 weekly demand * lead_time_weeks * safety_ratio).
    # Full cover scores 0, half cover 60, nothing on hand 100.
    # 1.0 from risk_backtest (22 weeks, seed demo): 1.2 flagged 738 good-weeks as stockout risk
    # against 11 actual stock-outs, 1.0 flagged 517 with the same hits.
    safety_ratio: float = 1.0
    stockout_breakpoints: Breakpoints = [[0.0, 100.0], [0.5, 60.0], [1.0, 0.0]]

    # Excess: days of cover = on_hand / (P50 weekly demand / 7). 0 up to the threshold, rising
    # linearly to 100 at ``excess_full_multiple`` x threshold.
    excess_threshold_days: float = 90.0
    excess_full_multiple: float = 3.0

    # Delivery: gap = P90 lead time - days to the requested delivery. 0 while gap <= 0, 100 once
    # new supply would arrive ``delivery_full_gap_days`` late.
    delivery_full_gap_days: float = 21.0
    # "min" = the most urgent open order line; "weighted" = quantity-weighted days to delivery.
    delivery_slack_basis: str = "min"
    # Scale the delivery score by the share of the open order book that on-hand stock cannot cover:
    # a long lead time does not threaten orders that can ship from stock.
    delivery_net_of_stock: bool = True

    # Margin: erosion = (current margin - margin at pressured cost) / current margin.
    # 0 with no erosion, 100 once ``margin_full_erosion`` of the current margin is gone.
    margin_full_erosion: float = 0.5

    # A weighted sum caps a single maxed component at its weight (stockout alone tops out at 35 = B),
    # so a product about to run dry would get no action. The total is at least this share of the
    # largest component: 0.6 lifts one maxed component to 60 (grade C, actionable); 0 = pure weighted sum.
    # 0.8 from risk_backtest (22 weeks, seed demo): recall of late deliveries 0.16 -> 0.38 at the same
    # precision (0.98-0.99) as 0.6; excess unchanged (precision 0.98, recall 0.59); 0 flags almost nothing.
    dominant_floor: float = 0.8

    # Grade upper bounds on the total rounded half up to an integer: A <= 20 < B <= 40 < C ...
    grade_upper_bounds: list[int] = [20, 40, 60, 80]

    # Action rules.
    action_min_grade: str = "C"  # products graded this or worse get proposals
    volatility_threshold: float = 0.5  # (P90 - P50) / P50 at or above which demand counts as volatile
    concentration_share: float = 0.6  # top customer share at or above which we alert
    action_plan_weeks: int = 4  # weeks of the production plan / purchase plan an action draws on

    @model_validator(mode="after")
    def _check(self) -> RiskConfig:
        total = self.weight_stockout + self.weight_excess + self.weight_delivery + self.weight_margin
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"risk weights must sum to 1, got {total:.6f}")
        if min(self.weights.values()) < 0:
            raise ValueError("risk weights must be non-negative")
        if any(len(point) != 2 for point in self.stockout_breakpoints):
            raise ValueError("stockout_breakpoints are [x, score] pairs")
        xs = [x for x, _ in self.stockout_breakpoints]
        if len(xs) < 2 or xs != sorted(xs):
            raise ValueError("stockout_breakpoints need at least two points with increasing x")
        if self.production_lead_weeks < 0:
            raise ValueError("production_lead_weeks must be >= 0")
        if self.safety_ratio <= 0 or self.excess_threshold_days <= 0 or self.excess_full_multiple <= 1:
            raise ValueError("safety_ratio and excess_threshold_days must be > 0, excess_full_multiple > 1")
        if self.delivery_full_gap_days <= 0 or self.margin_full_erosion <= 0:
            raise ValueError("delivery_full_gap_days and margin_full_erosion must be > 0")
        if not 0.0 <= self.dominant_floor <= 1.0:
            raise ValueError("dominant_floor must be within 0..1")
        if self.delivery_slack_basis not in ("min", "weighted"):
            raise ValueError("delivery_slack_basis must be 'min' or 'weighted'")
        if list(self.grade_upper_bounds) != sorted(self.grade_upper_bounds) or len(self.grade_upper_bounds) != 4:
            raise ValueError("grade_upper_bounds must be four increasing integers")
        if self.action_min_grade not in GRADES:
            raise ValueError(f"action_min_grade must be one of {GRADES}")
        return self

    @property
    def weights(self) -> dict[str, float]:
        return {
            "stockout": self.weight_stockout,
            "excess": self.weight_excess,
            "delivery": self.weight_delivery,
            "margin": self.weight_margin,
        }

    @property
    def action_grades(self) -> tuple[str, ...]:
        return GRADES[GRADES.index(self.action_min_grade) :]

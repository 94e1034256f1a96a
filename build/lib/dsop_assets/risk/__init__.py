"""Risk scores A-F per product and week, and the action queue built from them (pure Polars)."""

from dsop_assets.risk.actions import action_kpis, build_actions, merge_action_status
from dsop_assets.risk.config import RiskConfig
from dsop_assets.risk.scoring import score_risk

__all__ = ["RiskConfig", "action_kpis", "build_actions", "merge_action_status", "score_risk"]

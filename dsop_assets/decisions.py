"""The decision assets (inventory, lead times, risk, plan, purchases, actions), collected for Definitions."""

import dagster as dg

from dsop_assets.inventory.assets import daily_inventory_estimated, product_lead_time
from dsop_assets.planning.assets import production_plan, purchase_recommendation
from dsop_assets.replay.assets import decision_replay
from dsop_assets.risk.assets import action_queue, risk_backtest, risk_score

decision_assets: list[dg.AssetsDefinition] = [
    daily_inventory_estimated,
    product_lead_time,
    production_plan,
    purchase_recommendation,
    risk_score,
    action_queue,
    risk_backtest,
    decision_replay,  # in no job: a 26-week replay takes minutes, run it from the UI or the CLI
]

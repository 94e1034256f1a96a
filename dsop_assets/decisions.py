"""The decision assets (inventory, lead times, risk, plan, purchases, actions), collected for Definitions."""

import dagster as dg

decision_assets: list[dg.AssetsDefinition] = []

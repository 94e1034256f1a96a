"""Estimated daily inventory and purchase lead-time statistics (pure Polars, no Dagster)."""

from dsop_assets.inventory.daily_inventory import estimate_daily_inventory
from dsop_assets.inventory.lead_time import lead_time_stats

__all__ = ["estimate_daily_inventory", "lead_time_stats"]

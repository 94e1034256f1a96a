"""The beer-game job: its static rho partitions do not fit the weekly or monthly jobs."""

from __future__ import annotations

import dagster as dg

from dsop_assets.simulation.beer_assets import GROUP, rho_partitions
from dsop_resources.settings import warehouse_kind

BEER_GAME_JOB = "beer_game_job"


def analytics_jobs(assets: list[dg.AssetsDefinition]) -> list[dg.UnresolvedAssetJobDefinition]:
    if not any(dg.AssetKey("beer_game_simulation") in a.keys for a in assets):
        return []
    return [dg.define_asset_job(
        BEER_GAME_JOB, selection=dg.AssetSelection.groups(GROUP), partitions_def=rho_partitions,
        description="Beer-game simulation for every demand rho, then the tier classifier over all of them.",
        tags={"dsop/warehouse": warehouse_kind()})]

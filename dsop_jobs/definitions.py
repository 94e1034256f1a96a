"""The one ``Definitions`` object dsop has; ``workspace.yaml`` loads it."""

from __future__ import annotations


import dagster as dg

from dsop_assets.erp.assets import raw_assets
from dsop_assets.sql.assets import load_sql_assets
from dsop_jobs.jobs import build_jobs
from dsop_resources.factory import core_resources


all_assets: list[dg.AssetsDefinition] = [*raw_assets, *load_sql_assets()]

defs = dg.Definitions(
    assets=all_assets,
    jobs=build_jobs(all_assets),
    resources=core_resources(),
)

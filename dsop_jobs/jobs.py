"""Asset jobs by cadence. A job may mix partitioned assets with the unpartitioned views between
them, so one run of a week carries raw tables, staging views and marts in order.

Every job runs its steps in the run's own process (``in_process_executor``). Dagster's default
multiprocess executor starts a process per step and re-imports the definitions in each (seconds
apiece: a one-week refresh took 76 s that way, 12.5 s in-process); the steps that write the
warehouse are serial anyway (DuckDB takes one writer; the ``dsop_warehouse`` pool), and one
process keeps one warehouse connection for the whole run. Runs launched from the UI, schedules,
sensors and backfills use the job's executor, so they all get this.
"""

from __future__ import annotations

import dagster as dg

from dsop_assets.partitions import monthly_partitions, weekly_partitions
from dsop_resources.settings import warehouse_kind

MASTER_JOB = "erp_masters_job"
WEEKLY_JOB = "weekly_refresh_job"
MONTHLY_JOB = "monthly_refresh_job"
EXTERNAL_JOB = "external_refresh_job"
HEALTH_JOB = "pipeline_health_job"
EVALUATION_JOB = "forecast_evaluation_job"


# One process per run; see the module docstring.
EXECUTOR = dg.in_process_executor


def _keys_with(assets: list[dg.AssetsDefinition], partitions_def) -> list[dg.AssetKey]:
    return [k for a in assets if a.partitions_def == partitions_def for k in a.keys]  # multi-assets: every key


def build_jobs(assets: list[dg.AssetsDefinition]) -> list[dg.UnresolvedAssetJobDefinition]:
    # The run queue limits runs with this tag (deploy/dagster.yaml): DuckDB takes one writer.
    tags = {"dsop/warehouse": warehouse_kind()}
    unpartitioned = _keys_with(assets, None)
    weekly = _keys_with(assets, weekly_partitions)
    monthly = _keys_with(assets, monthly_partitions)
    masters = dg.AssetSelection.groups("erp_raw", "external") & dg.AssetSelection.assets(*unpartitioned)
    groups = {g for a in assets for g in a.group_names_by_key.values()}
    # Views and unpartitioned marts that sit downstream of weekly tables ride along the weekly run.
    weekly_selection = dg.AssetSelection.assets(*weekly) | (
        dg.AssetSelection.assets(*weekly).downstream()
        & dg.AssetSelection.assets(*unpartitioned)
        & dg.AssetSelection.groups("staging", "marts")
    )
    monthly_selection = dg.AssetSelection.assets(*monthly)
    optional = []
    if "external" in groups:
        optional.append(dg.define_asset_job(EXTERNAL_JOB, selection=dg.AssetSelection.groups("external"),
                                            description="External indicators: FX, macro, market prices, trade.", tags=tags, executor_def=EXECUTOR))
    if "evaluation" in groups:
        optional.append(dg.define_asset_job(EVALUATION_JOB, selection=dg.AssetSelection.groups("evaluation"),
                                            description="Forecast vs actual: every stored forecast scored against "
                                            "what happened, next to the baselines, peers and the oracle.", tags=tags, executor_def=EXECUTOR))
    if any(dg.AssetKey("pipeline_health") in a.keys for a in assets):
        optional.append(dg.define_asset_job(HEALTH_JOB, selection=dg.AssetSelection.assets("pipeline_health"),
                                            description="Run outcomes per asset group, from the Dagster instance.", tags=tags, executor_def=EXECUTOR))
    return optional + [
        dg.define_asset_job(MASTER_JOB, selection=masters, description="ERP masters and external indicators (unpartitioned).", tags=tags, executor_def=EXECUTOR),
        dg.define_asset_job(
            WEEKLY_JOB,
            selection=weekly_selection,
            partitions_def=weekly_partitions,
            description="The weekly chain for one ISO week (or a range, in one run).",
            tags=tags,
            executor_def=EXECUTOR,
        ),
        dg.define_asset_job(
            MONTHLY_JOB,
            selection=monthly_selection,
            partitions_def=monthly_partitions,
            description="The monthly chain for one calendar month (or a range, in one run).",
            tags=tags,
            executor_def=EXECUTOR,
        ),
    ]

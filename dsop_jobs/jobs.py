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

from dsop_assets.partitions import (
    decision_monthly_partitions,
    decision_weekly_partitions,
    forecast_monthly_partitions,
    forecast_weekly_partitions,
    go_live,
    monthly_partitions,
    tier_and_grain,
    weekly_partitions,
)
from dsop_resources.settings import warehouse_kind

MASTER_JOB = "erp_masters_job"
WEEKLY_JOB = "weekly_refresh_job"  # the data: raw -> staging -> marts -> feature stores, stock, anomalies
MONTHLY_JOB = "monthly_refresh_job"
WEEKLY_FORECAST_JOB = "weekly_forecast_job"
MONTHLY_FORECAST_JOB = "monthly_forecast_job"
WEEKLY_DECISION_JOB = "weekly_decision_job"  # risk, plans, purchases, actions, the planner's report
MONTHLY_DECISION_JOB = "monthly_decision_job"  # customer analytics
DECISION_REVIEW_JOB = "decision_review_job"  # the decisions judged by what happened: risk backtest, replay
REVIEWED = ("risk_backtest", "decision_replay")
EXTERNAL_JOB = "external_refresh_job"
HEALTH_JOB = "pipeline_health_job"
EVALUATION_JOB = "forecast_evaluation_job"
# Dagster's tags of a run over a partition range (a single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


# One process per run; see the module docstring.
EXECUTOR = dg.in_process_executor


# Each tier has its own partitions (dsop_assets/partitions.py: forecasts and risk grades from shortly
# before go-live, decisions from go-live), and a Dagster job holds one partitions definition, so each
# tier has its own job per cadence; the refresh chain (dsop_jobs/refresh_chain.py) runs them in order.
# An asset's tier is the partitions definition it declares.
# (tier, cadence) -> job name, partitions
TIER_JOBS = {
    ("data", "week"): (WEEKLY_JOB, weekly_partitions),
    ("data", "month"): (MONTHLY_JOB, monthly_partitions),
    ("forecast", "week"): (WEEKLY_FORECAST_JOB, forecast_weekly_partitions),
    ("forecast", "month"): (MONTHLY_FORECAST_JOB, forecast_monthly_partitions),
    ("decision", "week"): (WEEKLY_DECISION_JOB, decision_weekly_partitions),
    ("decision", "month"): (MONTHLY_DECISION_JOB, decision_monthly_partitions),
}
# Without DSOP_GO_LIVE every tier is partitioned like the data, and the refresh jobs run the whole
# chain in one run, as before tiers existed (a deployment or script that runs monthly_refresh_job for
# its forecasts keeps working); the forecast and decision jobs are then subsets of them.
WHOLE_CHAIN_IN_REFRESH = go_live() is None

# Each chain in the order the refresh runs it; the review is unpartitioned (it reads every week).
CHAINS = {"week": (WEEKLY_JOB, WEEKLY_FORECAST_JOB, WEEKLY_DECISION_JOB, DECISION_REVIEW_JOB),
          "month": (MONTHLY_JOB, MONTHLY_FORECAST_JOB, MONTHLY_DECISION_JOB)}


def partitions_of_job(job: str) -> dg.TimeWindowPartitionsDefinition | None:
    return next((parts for name, parts in TIER_JOBS.values() if name == job), None)


def _keys_with(assets: list[dg.AssetsDefinition], grain: str | None, tier: str) -> list[dg.AssetKey]:
    """Keys (every key of a multi-asset) of ``tier`` at ``grain``; grain None: the unpartitioned keys."""
    if grain is None:
        return [k for a in assets if a.partitions_def is None for k in a.keys]
    return [k for a in assets if tier_and_grain(a.partitions_def) == (tier, grain) for k in a.keys]


def build_jobs(assets: list[dg.AssetsDefinition]) -> list[dg.UnresolvedAssetJobDefinition]:
    # The run queue limits runs with this tag (deploy/dagster.yaml): DuckDB takes one writer.
    tags = {"dsop/warehouse": warehouse_kind()}
    unpartitioned = _keys_with(assets, None, "data")
    refreshed = ("data", "forecast", "decision") if WHOLE_CHAIN_IN_REFRESH else ("data",)
    weekly = [k for tier in refreshed for k in _keys_with(assets, "week", tier)]
    monthly = [k for tier in refreshed for k in _keys_with(assets, "month", tier)]
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
                                            "what happened, next to the baselines, peers and the oracle; and the "
                                            "analytics' evaluations in one view.", tags=tags, executor_def=EXECUTOR))
    if all(any(dg.AssetKey(name) in a.keys for a in assets) for name in REVIEWED):
        optional.append(dg.define_asset_job(
            DECISION_REVIEW_JOB, selection=dg.AssetSelection.assets(*REVIEWED), tags=tags, executor_def=EXECUTOR,
            description="The decisions judged by what happened: the risk grades' backtest against later stock-outs, "
            "excess and late deliveries, and the closed-loop replay of dsop's plans next to simple rules."))
    if any(dg.AssetKey("pipeline_health") in a.keys for a in assets):
        optional.append(dg.define_asset_job(HEALTH_JOB, selection=dg.AssetSelection.assets("pipeline_health"),
                                            description="Run outcomes per asset group, from the Dagster instance.", tags=tags, executor_def=EXECUTOR))
    tier_jobs = []
    for (tier, cadence), (name, partitions) in TIER_JOBS.items():
        if tier == "data":
            continue
        keys = _keys_with(assets, cadence, tier)
        if keys:
            tier_jobs.append(dg.define_asset_job(
                name, selection=dg.AssetSelection.assets(*keys), partitions_def=partitions, tags=tags,
                executor_def=EXECUTOR, description=TIER_DESCRIPTIONS[tier, cadence]))
    return optional + [
        dg.define_asset_job(MASTER_JOB, selection=masters, description="ERP masters and external indicators (unpartitioned).", tags=tags, executor_def=EXECUTOR),
        dg.define_asset_job(
            WEEKLY_JOB,
            selection=weekly_selection,
            partitions_def=weekly_partitions,
            description="The weekly data for one ISO week (or a range, in one run): raw tables, staging, marts, "
            "feature stores, estimated stock and lead times, anomaly alerts. The weekly refresh then runs the "
            "forecast and decision jobs.",
            tags=tags,
            executor_def=EXECUTOR,
        ),
        dg.define_asset_job(
            MONTHLY_JOB,
            selection=monthly_selection,
            partitions_def=monthly_partitions,
            description="The monthly data for one calendar month (or a range, in one run).",
            tags=tags,
            executor_def=EXECUTOR,
        ),
    ] + tier_jobs


TIER_DESCRIPTIONS = {
    ("forecast", "week"): "Weekly quantile forecasts as of one ISO week (partitions from 26 weeks before "
    "DSOP_GO_LIVE: the backtest origins), with their models, baselines and importances, and the week's risk "
    "grades (what risk_backtest scores).",
    ("forecast", "month"): "Monthly quantile forecasts as of one month (partitions from 12 months before "
    "go-live), baselines and the customer demand alerts.",
    ("decision", "week"): "The week's decisions (partitions from DSOP_GO_LIVE): risk grades, the production "
    "plan and its gate, purchases, the action queue, the simulated inventory policy and the planner's report.",
    ("decision", "month"): "Customer analytics as of one month's end (partitions from the last month "
    "closed at go-live): segments, churn risk and its backtest, recommendations.",
}

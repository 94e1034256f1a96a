"""Run the asset graph over a history in dependency order, one Dagster run per stage.

Used by ``dsop demo``, ``dsop bench`` and the end-to-end test. Each stage is a single run over a
partition range (like a single-run backfill) recorded in the instance, so the UI shows them.
Aggregates cover the whole history; forecasts the backtest origins; decisions the latest weeks.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from dsop_assets.partitions import go_live, month_start, week_start
from dsop_assets.network.assets import NETWORK_DESIGN_JOB, NETWORK_KPI_JOB, NETWORK_PLAN_JOB
from dsop_assets.simulation.jobs import BEER_GAME_JOB
from dsop_jobs.jobs import (
    DECISION_REVIEW_JOB,
    EVALUATION_JOB,
    HEALTH_JOB,
    MASTER_JOB,
    MONTHLY_DECISION_JOB,
    MONTHLY_FORECAST_JOB,
    MONTHLY_JOB,
    RANGE_END_TAG,
    RANGE_START_TAG,
    WEEKLY_DECISION_JOB,
    WEEKLY_FORECAST_JOB,
    WEEKLY_JOB,
)
from dsop_jobs.planner_automation import FOLLOWUP_JOB
from dsop_jobs.progress import step_progress_logger



@dataclass(frozen=True)
class Stage:
    name: str
    job: str
    groups: tuple[str, ...] | None = None  # asset groups to run within the job; None = all
    last_periods: int | None = None  # None = the whole history; N = the latest N partitions
    complete_only: bool = False  # only periods that ended by the history's last day (forecast origins)
    needs_plan: bool = False  # reads the plan, purchases and actions: skipped when a plan gate refused them
    ops_config: dict | None = None  # run config per op (asset), as the launchpad's "ops:" block


@dataclass
class StageResult:
    stage: str
    job: str
    partitions: str
    seconds: float
    run_id: str


AGGREGATES = ("erp_raw", "external", "staging", "marts", "features")
DECISIONS = ("risk", "planning", "inventory_simulation")


def demo_stages(backtest_weeks: int = 26, backtest_months: int = 12, decision_weeks: int = 1,
                beer_game: bool = True, planner: bool = True, replay_weeks: int = 4,
                network: bool = False) -> list[Stage]:
    """With DSOP_GO_LIVE set (``dsop demo`` sets it), the forecast and decision stages run every
    complete partition their jobs have, so none is left missing; without it those jobs' partitions
    span the whole history, and the stages take only the latest N periods."""
    if go_live() is not None:
        backtest_weeks = backtest_months = decision_weeks = decision_months = None
    else:
        decision_months = 1
    # The planner's report reads the evaluation's scorecard, so it comes after it; then the run outcomes
    # so far, and the planners' follow-up with the KPI trend that reads them.
    planner_stages = [
        Stage("planner's report and alerts", WEEKLY_DECISION_JOB, ("planner",), decision_weeks, True,
              needs_plan=True),
        Stage("pipeline health", HEALTH_JOB),
        Stage("action follow-up and KPI trend", FOLLOWUP_JOB, needs_plan=True),
    ]
    return [
        Stage("masters and external indicators", MASTER_JOB),
        Stage("weekly history", WEEKLY_JOB, AGGREGATES),
        Stage("monthly history", MONTHLY_JOB, AGGREGATES),
        Stage("estimated stock and lead times over the history", WEEKLY_JOB, ("inventory",), None, True),
        Stage("weekly forecasts (backtest origins)", WEEKLY_FORECAST_JOB, ("forecast",), backtest_weeks, True),
        Stage("monthly forecasts (backtest origins)", MONTHLY_FORECAST_JOB, ("forecast",), backtest_months, True),
        Stage("risk grades for the forecast origins", WEEKLY_FORECAST_JOB, ("risk",), backtest_weeks, True),
        Stage("customer analytics", MONTHLY_DECISION_JOB, ("customer",), decision_months, True),
        Stage("anomaly alerts over the history", WEEKLY_JOB, ("anomaly",), None, True),
        Stage("decisions", WEEKLY_DECISION_JOB, DECISIONS, decision_weeks, True),
        Stage("forecast evaluation", EVALUATION_JOB),
        # The replay re-plans every week it covers (seconds each): the demo replays the last 4 weeks, the
        # weekly chain its default 26. Neither reads the week's plan, so a refused plan does not stop them.
        Stage("risk backtest and decision replay", DECISION_REVIEW_JOB,
              ops_config={"decision_replay": {"config": {"weeks": replay_weeks}}}),
    ] + (planner_stages if planner else []) + (
        [Stage("beer game and tier classifier", BEER_GAME_JOB)] if beer_game else []) + (
        # Needs the supply-network inputs (network/ beside the ERP files): `dsop demo` writes a small set.
        [Stage("supply network: facilities", NETWORK_DESIGN_JOB),
         Stage("supply network: plan, month by month", NETWORK_PLAN_JOB),
         Stage("supply network: KPIs and rule checks", NETWORK_KPI_JOB)] if network else [])


def partition_window(
    partitions: dg.PartitionsDefinition | None, start: date, end: date, last_periods: int | None,
    complete_only: bool = False,
) -> tuple[str, str] | None:
    """The first and last key of ``partitions`` (a job's) inside the history [start, end]: the latest
    ``last_periods`` of them, only periods that ended by ``end`` when ``complete_only``; static
    partitions (the beer game's scenarios) all, whatever the history."""
    if isinstance(partitions, dg.WeeklyPartitionsDefinition):
        keys, first, last = partitions.get_partition_keys(), week_start(start), week_start(end)
        if complete_only and end < last + timedelta(days=6):
            last -= timedelta(days=7)
    elif isinstance(partitions, dg.MonthlyPartitionsDefinition):
        keys, first, last = partitions.get_partition_keys(), month_start(start), month_start(end)
        if complete_only and (end + timedelta(days=1)).month == end.month:
            last = month_start(last - timedelta(days=1))
    elif isinstance(partitions, dg.StaticPartitionsDefinition):
        keys = partitions.get_partition_keys()
        return keys[0], keys[-1]
    else:
        return None
    inside = [k for k in keys if first.isoformat() <= k <= last.isoformat()]
    if last_periods:
        inside = inside[-last_periods:]
    return (inside[0], inside[-1]) if inside else None


def selected_assets(defs: dg.Definitions, job_def: dg.JobDefinition, groups: tuple[str, ...] | None) -> set[dg.AssetKey] | None:
    if groups is None:
        return None
    in_job = job_def.asset_layer.selected_asset_keys
    graph = defs.resolve_asset_graph()
    return {key for key in in_job if graph.get(key).group_name in groups}


def run_history(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: date,
    end: date,
    stages: list[Stage] | None = None,
) -> list[StageResult]:
    """Materialise the stages for the history [start, end]; raises on the first failed run.

    A run stopped only by a blocking asset check (the production-plan gate refusing a plan) is not a
    crash: the refusal is recorded in the instance and said here, the assets downstream of the refused
    plan are skipped by Dagster, and later stages that read them are skipped with the reason."""
    cli_defs = dg.Definitions(
        assets=list(defs.assets or []),
        asset_checks=list(defs.asset_checks or []),
        jobs=list(defs.jobs or []),
        resources=dict(defs.resources or {}),
        loggers={"dsop_progress": step_progress_logger},
    )
    results = []
    refused: str | None = None
    for stage in stages or demo_stages():
        if stage.needs_plan and refused:
            print(f"[dsop] {stage.name}: skipped, {refused}", file=sys.stderr, flush=True)
            continue
        try:
            job_def = cli_defs.resolve_job_def(stage.job)
        except Exception:  # a job whose assets this deployment does not define (e.g. no evaluation)
            continue
        selection = selected_assets(cli_defs, job_def, stage.groups)
        if selection is not None and not selection:
            continue
        window = partition_window(job_def.partitions_def, start, end, stage.last_periods, stage.complete_only)
        if job_def.partitions_def is not None and window is None:
            continue
        tags = {"dsop/trigger": "cli", "dsop/stage": stage.name}
        label, partition_key = "unpartitioned", None
        if window and window[0] == window[1]:
            # One partition runs as that partition, as the UI launches it: in a range run (even of one)
            # Dagster stamps a check result on no partition, and the UI shows the week's checks as
            # "Skipped" (or "Execution failed" when the run stops) although they passed.
            partition_key, label = window[0], window[0]
        elif window:
            tags |= {RANGE_START_TAG: window[0], RANGE_END_TAG: window[1]}
            label = f"{window[0]} .. {window[1]}"
        print(f"[dsop] {stage.name}: {stage.job} {label}", file=sys.stderr, flush=True)
        began = time.perf_counter()
        result = job_def.execute_in_process(
            instance=instance,
            tags=tags,
            partition_key=partition_key,
            asset_selection=sorted(selection) if selection else None,
            run_config={"loggers": {"dsop_progress": {}}, **({"ops": stage.ops_config} if stage.ops_config else {})},
            raise_on_error=False,
        )
        if not result.success:
            blocked = _blocking_check_failures(result)
            if blocked is None:
                _raise_first_failure(result)
            refused = f"a blocking check refused {blocked} in run {result.run_id[:8]} (see the run in the UI)"
            print(f"[dsop] {stage.name}: {refused}; what is downstream of it was not built", file=sys.stderr,
                  flush=True)
        seconds = time.perf_counter() - began
        results.append(StageResult(stage.name, stage.job, label, seconds, result.run_id))
        print(f"[dsop] {stage.name} done in {seconds:.1f}s (run {result.run_id[:8]})", file=sys.stderr, flush=True)
    return results


def _step_failures(result: dg.ExecuteInProcessResult) -> list:
    return [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]


def _blocking_check_failures(result: dg.ExecuteInProcessResult) -> str | None:
    """The steps a blocking asset check stopped, when those are the run's only failures; else None."""
    failures = _step_failures(result)
    if not failures or any(
            e.step_failure_data.error is None or e.step_failure_data.error.cls_name != "DagsterAssetCheckFailedError"
            for e in failures):
        return None
    return ", ".join(sorted({e.step_key for e in failures}))


def _raise_first_failure(result: dg.ExecuteInProcessResult) -> None:
    failures = _step_failures(result)
    error = failures[0].step_failure_data.error if failures else None
    detail = f" in step {failures[0].step_key}:\n{error.to_string()}" if error else ""
    raise RuntimeError(f"run {result.run_id} failed{detail}")

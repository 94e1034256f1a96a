"""Run the whole asset graph over a date range, in order: masters, weekly chain, monthly chain.

Used by ``dsop demo``, ``dsop bench`` and the end-to-end test. Each stage is one Dagster run
recorded in the instance (a single-run backfill over the range), so the UI shows them afterwards.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import date

import dagster as dg

from dsop_assets.partitions import monthly_partitions, month_start, weekly_partitions, week_start
from dsop_jobs.jobs import MASTER_JOB, MONTHLY_JOB, WEEKLY_JOB
from dsop_jobs.progress import step_progress_logger

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class StageResult:
    job: str
    partitions: str
    seconds: float
    run_id: str


def _clip_range(keys: list[str], first: date, last: date) -> tuple[str, str] | None:
    inside = [k for k in keys if first.isoformat() <= k <= last.isoformat()]
    return (inside[0], inside[-1]) if inside else None


def stages_for(start: date, end: date, jobs: tuple[str, ...] | None = None) -> list[tuple[str, tuple[str, str] | None]]:
    """(job, partition range or None) in dependency order for the history [start, end]."""
    weekly = _clip_range(weekly_partitions.get_partition_keys(), week_start(start), week_start(end))
    monthly = _clip_range(monthly_partitions.get_partition_keys(), month_start(start), month_start(end))
    plan = [(MASTER_JOB, None), (WEEKLY_JOB, weekly), (MONTHLY_JOB, monthly)]
    return [(job, window) for job, window in plan if (jobs is None or job in jobs) and (job == MASTER_JOB or window)]


def run_history(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: date,
    end: date,
    jobs: tuple[str, ...] | None = None,
    quiet: bool = False,
) -> list[StageResult]:
    """Materialise every asset for [start, end]; raises on the first failed run."""
    cli_defs = dg.Definitions(
        assets=list(defs.assets or []),
        asset_checks=list(defs.asset_checks or []),
        jobs=list(defs.jobs or []),
        resources=dict(defs.resources or {}),
        loggers={"dsop_progress": step_progress_logger},
    )
    results = []
    for job_name, window in stages_for(start, end, jobs):
        tags = {"dsop/trigger": "cli"}
        label = "unpartitioned"
        if window:
            tags |= {RANGE_START_TAG: window[0], RANGE_END_TAG: window[1]}
            label = f"{window[0]} .. {window[1]}"
        if not quiet:
            print(f"[dsop] {job_name}: {label}", file=sys.stderr, flush=True)
        began = time.perf_counter()
        result = cli_defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            tags=tags,
            run_config={"loggers": {"dsop_progress": {}}},
            raise_on_error=True,
        )
        results.append(StageResult(job_name, label, time.perf_counter() - began, result.run_id))
        if not quiet:
            print(f"[dsop] {job_name} done in {results[-1].seconds:.1f}s (run {result.run_id[:8]})", file=sys.stderr, flush=True)
    return results

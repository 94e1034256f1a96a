"""Schedules and sensors: the weekly and monthly refresh, daily external data, the ERP drop folder.

Schedules are built from the partitioned jobs, so each run targets the window that just closed:
the weekly one fires on Monday morning (Asia/Seoul unless DSOP_TIMEZONE says otherwise) for the
ISO week that ended at midnight, the monthly one on the 1st for the month before. A schedule starts
the data job; ``refresh_chain_sensor`` (dsop_jobs/refresh_chain.py) then runs that period's forecasts
and decisions (jobs of their own: their partitions start later, and a Dagster job holds one partitions
definition).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_resources.erp.contract import ALL_TABLES, TableContract
from dsop_resources.erp.mapping import find_files, load_mapping
from dsop_resources.erp.reader import ErpContractError, parse_date, read_export
from dsop_assets.partitions import TIMEZONE, grain_of, month_start, partition_range, week_start
from dsop_jobs.jobs import (
    EXTERNAL_JOB,
    HEALTH_JOB,
    MASTER_JOB,
    MONTHLY_JOB,
    RANGE_END_TAG,
    RANGE_START_TAG,
    WEEKLY_JOB,
)
from dsop_jobs.refresh_chain import CHAIN_TAG, build_refresh_chain_sensor
from dsop_resources import Warehouse, settings



def closed_week_key(moment: datetime) -> str:
    """Monday of the ISO week before the one ``moment`` falls in, in the plant's time zone."""
    local = moment.astimezone(ZoneInfo(TIMEZONE)).date()
    return (week_start(local) - timedelta(days=7)).isoformat()


def closed_month_key(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(TIMEZONE)).date()
    return month_start(month_start(local) - timedelta(days=1)).isoformat()


def _partitioned_schedule(name, job, cron, key_of, description) -> dg.ScheduleDefinition:
    # The partitions include the period in progress (end_offset=1), so Dagster's partitioned
    # schedule would pick it; these name the period that just closed instead.
    @dg.schedule(name=name, job=job, cron_schedule=cron, execution_timezone=TIMEZONE, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        key = key_of(context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"{name}:{key}", partition_key=key, tags={CHAIN_TAG: name})

    return _schedule


def build_schedules(jobs: dict[str, dg.UnresolvedAssetJobDefinition]) -> list:
    hour = int(os.getenv("DSOP_WEEKLY_HOUR", "5"))
    schedules = [
        _partitioned_schedule(
            "weekly_refresh_schedule", jobs[WEEKLY_JOB], f"0 {hour} * * 1", closed_week_key,
            "Monday early morning: the weekly data (raw → aggregates → features) for the ISO week that just "
            "closed; refresh_chain_sensor then runs its forecasts and decisions (risk → plans → actions).",
        ),
        _partitioned_schedule(
            "monthly_refresh_schedule", jobs[MONTHLY_JOB], f"0 {hour + 1} 1 * *", closed_month_key,
            "The 1st of each month: the monthly data for the month that just closed; refresh_chain_sensor "
            "then runs its forecasts and customer analytics.",
        ),
    ]
    if EXTERNAL_JOB in jobs:
        # Sources publish overnight (US) and in the Korean morning; 07:30 KST catches both.
        schedules.append(
            dg.ScheduleDefinition(
                name="external_daily_schedule",
                job=jobs[EXTERNAL_JOB],
                cron_schedule="30 7 * * *",
                execution_timezone=TIMEZONE,
                description="Every morning: fetch what is new from FRED, EIA, ECOS, customs and the analyst CSVs.",
            )
        )
    if HEALTH_JOB in jobs:
        schedules.append(
            dg.ScheduleDefinition(
                name="pipeline_health_schedule",
                job=jobs[HEALTH_JOB],
                cron_schedule="0 * * * *",
                execution_timezone=TIMEZONE,
                description="Hourly: recompute pipeline_health (run outcomes per asset group) from the instance.",
            )
        )
    return schedules


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def covered_days(path: Path, table: TableContract) -> tuple[date, date] | None:
    """First and last valid partition-column date in a file (None when it has none).

    Raises ``ErpContractError`` naming the file when it cannot be read at all."""
    frame, _, _ = read_export(path, table, load_mapping())
    if not table.partition_column:
        return None
    days = frame.select(parse_date(table.partition_column).alias("d")).drop_nulls()["d"]
    return None if days.is_empty() else (days.min(), days.max())


@dataclass
class FilePlan:
    """What one sensor tick decided: runs to request, the new cursor, files skipped (with why) and
    files rejected as unreadable (reported by name; they never block the others)."""

    requests: list[dg.RunRequest] = field(default_factory=list)
    cursor: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (table, file, reason)


def _seen(cursor: dict, key: str) -> dict:
    entry = cursor.get(key)
    if isinstance(entry, str):  # cursors written before versions were kept: path -> digest
        return {"sha": entry, "version": 1}
    return entry or {"sha": None, "version": 0}


def plan_file_runs(erp_dir: Path, cursor: dict, targets: dict[str, dict[str, list[dg.AssetKey]]]) -> FilePlan:
    """Run requests for export files that are new or changed since ``cursor`` (path -> digest, version).

    A run key is the file's path, content hash and change count, so the same bytes twice start
    nothing, the same bytes under another name load, and A -> B -> A reloads A. ``targets`` maps each
    raw table to the assets one of its files refreshes (itself and the aggregates downstream);
    forecasts and plans are as-of a week and stay with the schedules.
    """
    mapping = load_mapping()
    plan = FilePlan(cursor=dict(cursor))
    for table in ALL_TABLES:
        for path in find_files(erp_dir, table, mapping):
            key = str(path.relative_to(erp_dir))
            try:
                digest = file_digest(path)
            except OSError as error:  # vanished or unreadable between listing and reading
                plan.skipped.append(f"{key}: cannot be read ({error.strerror or error})")
                continue
            seen = _seen(cursor, key)
            if seen["sha"] == digest:
                continue
            version = seen["version"] + 1
            plan.cursor[key] = {"sha": digest, "version": version}
            try:
                days = covered_days(path, table)
            except (ErpContractError, OSError, pl.exceptions.PolarsError) as error:
                reason = str(error) if key.endswith(str(error).split(":")[0]) else f"{key}: {error}"
                plan.rejected.append((table.name, key, reason))
                continue
            tags = {"dsop/trigger": "erp_file", "dsop/file": key, "dsop/file_sha256": digest}
            run_key = f"{table.name}:{key}:{digest}:v{version}"
            if table.partition_grain is None:
                # Views over a master need no rebuild when its rows change; only the table reloads.
                plan.requests.append(dg.RunRequest(run_key=run_key, job_name=MASTER_JOB, tags=tags,
                                                   asset_selection=[dg.AssetKey(table.name)]))
                continue
            if days is None:
                plan.skipped.append(f"{key}: no rows with a valid {table.partition_column}")
                continue
            for grain, asset_keys in sorted(targets[table.name].items(), key=lambda kv: kv[0] != table.partition_grain):
                window = partition_range(grain, *days)
                if window is None:
                    plan.skipped.append(f"{key}: its dates lie outside the {grain}ly partitions")
                    continue
                # One period runs as that partition: a range run, even of one, stamps its check results
                # on no partition and the UI shows them "Skipped" (dsop_jobs/pipeline.py says the same).
                single = window[0] == window[1]
                plan.requests.append(
                    dg.RunRequest(
                        run_key=f"{run_key}:{grain}",
                        job_name=WEEKLY_JOB if grain == "week" else MONTHLY_JOB,
                        asset_selection=asset_keys,
                        partition_key=window[0] if single else None,
                        tags=tags if single else tags | {RANGE_START_TAG: window[0], RANGE_END_TAG: window[1]},
                    )
                )
    return plan


def refresh_targets(assets: list[dg.AssetsDefinition]) -> dict[str, dict[str, list[dg.AssetKey]]]:
    """Per raw table and grain ('week'/'month'/None): itself and the SQL models downstream of it.

    A weekly export also refreshes the monthly aggregates built from it, in a monthly run.
    """
    by_key = {k: a for a in assets for k in a.keys}
    targets: dict[str, dict[str, list[dg.AssetKey]]] = {}
    for table in ALL_TABLES:
        if dg.AssetKey(table.name) not in by_key:
            continue
        downstream = dg.AssetSelection.assets(table.name).downstream() & dg.AssetSelection.groups(
            "erp_raw", "staging", "marts"
        )
        per_grain: dict[str, list[dg.AssetKey]] = {}
        for key in sorted(downstream.resolve(assets)):
            per_grain.setdefault(grain_of(by_key[key].partitions_def), []).append(key)
        unpartitioned = per_grain.pop(None, [])
        # Views and unpartitioned marts ride along with the table's own grain.
        per_grain.setdefault(table.partition_grain, []).extend(unpartitioned)
        targets[table.name] = per_grain
    return targets


IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="read_copy_publisher",
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After each successful run, publishes the analysts' read-only DuckDB copy once, after "
    "the run's last write, whatever the executor (a copy per step would show half-finished refreshes). "
    "Skips while another run writes the warehouse: that run publishes when it ends.",
)
def read_copy_publisher(context: dg.RunStatusSensorContext, warehouse: Warehouse):
    publish = getattr(warehouse, "publish", None)
    if publish is None:
        return dg.SkipReason(f"the {warehouse.dialect} warehouse serves readers itself; no copy to publish")
    busy = [
        run.run_id for run in context.instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS))
        if run.run_id != context.dagster_run.run_id and run.tags.get("dsop/warehouse") == "duckdb"
    ]
    if busy:
        return dg.SkipReason(f"run {busy[0][:8]} is writing the warehouse; it publishes when it ends")
    if not publish():
        return dg.SkipReason("publishing is off (DSOP_DUCKDB_READ_PATH empty) or nothing written yet")
    context.log.info(f"published the read copy after run {context.dagster_run.run_id[:8]}")


def build_sensors(assets: list[dg.AssetsDefinition], jobs: dict[str, dg.UnresolvedAssetJobDefinition]) -> list:
    targets = refresh_targets(assets)

    @dg.sensor(
        name="erp_drop_folder_sensor",
        jobs=[jobs[MASTER_JOB], jobs[WEEKLY_JOB], jobs[MONTHLY_JOB]],
        minimum_interval_seconds=60,
        description="Watches DSOP_ERP_DIR and its inbox/: a new or changed export file starts one run "
        "for exactly the partitions its rows cover (raw table + aggregates). The run key is the file's "
        "path, content hash and change count: the same file twice starts nothing, a reverted file "
        "reloads, and an unreadable file is reported by name without blocking the others.",
    )
    def erp_drop_folder_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        plan = plan_file_runs(settings.erp_dir(), cursor, targets)
        for reason in plan.skipped:
            context.log.warning(reason)
        # An unreadable file is recorded against its table (visible in the UI) and skipped; its
        # digest is in the cursor, so it is reported once and re-checked when its content changes.
        observations = [
            dg.AssetObservation(asset_key=table, metadata={"rejected_file": file, "reason": reason})
            for table, file, reason in plan.rejected
        ]
        for _, _, reason in plan.rejected:
            context.log.error(f"rejected export file: {reason}")
        skip = None
        if not plan.requests:
            skip = "; ".join(["no new or changed export files"] * (not plan.rejected)
                             + [f"unreadable: {reason}" for _, _, reason in plan.rejected])
        return dg.SensorResult(run_requests=plan.requests, skip_reason=skip, asset_events=observations,
                               cursor=json.dumps(plan.cursor, sort_keys=True))

    sensors = [erp_drop_folder_sensor, read_copy_publisher, build_refresh_chain_sensor(jobs)]
    if HEALTH_JOB in jobs:

        @dg.run_failure_sensor(
            name="run_failure_sensor",
            request_job=jobs[HEALTH_JOB],
            description="On any failed run: log which job and step failed, and refresh pipeline_health.",
        )
        def run_failure_sensor(context: dg.RunFailureSensorContext):
            context.log.error(f"run {context.dagster_run.run_id} of {context.dagster_run.job_name} failed: "
                              f"{context.failure_event.message}")
            return dg.RunRequest(run_key=f"health:{context.dagster_run.run_id}")

        sensors.append(run_failure_sensor)
    return sensors

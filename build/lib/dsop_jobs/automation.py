"""Schedules and sensors: the weekly and monthly refresh, daily external data, the ERP drop folder.

Schedules are built from the partitioned jobs, so each run targets the window that just closed:
the weekly one fires on Monday morning (Asia/Seoul unless DSOP_TIMEZONE says otherwise) for the
ISO week that ended at midnight, the monthly one on the 1st for the month before.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

import dagster as dg

from dsop_assets.erp.contract import ALL_TABLES, TableContract
from dsop_assets.erp.mapping import find_files, load_mapping
from dsop_assets.erp.reader import parse_date, read_export
from dsop_assets.partitions import TIMEZONE, month_start, monthly_partitions, week_start, weekly_partitions
from dsop_jobs.jobs import EXTERNAL_JOB, HEALTH_JOB, MASTER_JOB, MONTHLY_JOB, WEEKLY_JOB
from dsop_resources import settings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


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
        return dg.RunRequest(run_key=f"{name}:{key}", partition_key=key)

    return _schedule


def build_schedules(jobs: dict[str, dg.UnresolvedAssetJobDefinition]) -> list:
    hour = int(os.getenv("DSOP_WEEKLY_HOUR", "5"))
    schedules = [
        _partitioned_schedule(
            "weekly_refresh_schedule", jobs[WEEKLY_JOB], f"0 {hour} * * 1", closed_week_key,
            "Monday early morning: the whole weekly chain (raw → aggregates → features → forecasts → "
            "risk → actions → plans) for the ISO week that just closed.",
        ),
        _partitioned_schedule(
            "monthly_refresh_schedule", jobs[MONTHLY_JOB], f"0 {hour + 1} 1 * *", closed_month_key,
            "The 1st of each month: the monthly chain for the month that just closed.",
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
    """First and last valid partition-column date in a file (None when it has none)."""
    frame, _, _ = read_export(path, table, load_mapping())
    days = frame.select(parse_date(table.partition_column).alias("d")).drop_nulls()["d"]
    return None if days.is_empty() else (days.min(), days.max())


def partition_range(grain: str, first: date, last: date) -> tuple[str, str] | None:
    """The existing partition keys spanning [first, last] at a grain."""
    partitions = weekly_partitions if grain == "week" else monthly_partitions
    lo = week_start(first) if grain == "week" else month_start(first)
    hi = week_start(last) if grain == "week" else month_start(last)
    inside = [k for k in partitions.get_partition_keys() if lo.isoformat() <= k <= hi.isoformat()]
    return (inside[0], inside[-1]) if inside else None


def plan_file_runs(
    erp_dir: Path, cursor: dict[str, str], targets: dict[str, list[dg.AssetKey]]
) -> tuple[list[dg.RunRequest], dict[str, str], list[str]]:
    """Run requests for export files that are new or changed since ``cursor`` (path -> digest).

    ``targets`` maps each raw table to the assets one of its files refreshes (itself and the
    aggregates downstream); forecasts and plans are as-of a week and stay with the schedules.
    """
    mapping = load_mapping()
    requests, new_cursor, skipped = [], dict(cursor), []
    for table in ALL_TABLES:
        for path in find_files(erp_dir, table, mapping):
            digest = file_digest(path)
            key = str(path.relative_to(erp_dir))
            if cursor.get(key) == digest:
                continue
            new_cursor[key] = digest
            tags = {"dsop/trigger": "erp_file", "dsop/file": key, "dsop/file_sha256": digest}
            if table.partition_grain is None:
                # Views over a master need no rebuild when its rows change; only the table reloads.
                requests.append(dg.RunRequest(run_key=f"{table.name}:{digest}", job_name=MASTER_JOB, tags=tags,
                                              asset_selection=[dg.AssetKey(table.name)]))
                continue
            days = covered_days(path, table)
            if days is None:
                skipped.append(f"{key}: no rows with a valid {table.partition_column}")
                continue
            for grain, asset_keys in sorted(targets[table.name].items(), key=lambda kv: kv[0] != table.partition_grain):
                window = partition_range(grain, *days)
                if window is None:
                    skipped.append(f"{key}: its dates lie outside the {grain}ly partitions")
                    continue
                requests.append(
                    dg.RunRequest(
                        run_key=f"{table.name}:{grain}:{digest}",
                        job_name=WEEKLY_JOB if grain == "week" else MONTHLY_JOB,
                        asset_selection=asset_keys,
                        tags=tags | {RANGE_START_TAG: window[0], RANGE_END_TAG: window[1]},
                    )
                )
    return requests, new_cursor, skipped


def refresh_targets(assets: list[dg.AssetsDefinition]) -> dict[str, dict[str, list[dg.AssetKey]]]:
    """Per raw table and grain ('week'/'month'/None): itself and the SQL models downstream of it.

    A weekly export also refreshes the monthly aggregates built from it, in a monthly run.
    """
    by_key = {a.key: a for a in assets}
    grain_of = {weekly_partitions: "week", monthly_partitions: "month", None: None}
    targets: dict[str, dict[str, list[dg.AssetKey]]] = {}
    for table in ALL_TABLES:
        if dg.AssetKey(table.name) not in by_key:
            continue
        downstream = dg.AssetSelection.assets(table.name).downstream() & dg.AssetSelection.groups(
            "erp_raw", "staging", "marts"
        )
        per_grain: dict[str, list[dg.AssetKey]] = {}
        for key in sorted(downstream.resolve(assets)):
            per_grain.setdefault(grain_of.get(by_key[key].partitions_def), []).append(key)
        unpartitioned = per_grain.pop(None, [])
        # Views and unpartitioned marts ride along with the table's own grain.
        per_grain.setdefault(table.partition_grain, []).extend(unpartitioned)
        targets[table.name] = per_grain
    return targets


def build_sensors(assets: list[dg.AssetsDefinition], jobs: dict[str, dg.UnresolvedAssetJobDefinition]) -> list:
    targets = refresh_targets(assets)

    @dg.sensor(
        name="erp_drop_folder_sensor",
        jobs=[jobs[MASTER_JOB], jobs[WEEKLY_JOB], jobs[MONTHLY_JOB]],
        minimum_interval_seconds=60,
        description="Watches DSOP_ERP_DIR and its inbox/: a new or changed export file starts one run "
        "for exactly the partitions its rows cover (raw table + aggregates). The run key is the file's "
        "content hash, so the same file twice starts nothing.",
    )
    def erp_drop_folder_sensor(context: dg.SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {}
        requests, new_cursor, skipped = plan_file_runs(settings.erp_dir(), cursor, targets)
        for reason in skipped:
            context.log.warning(reason)
        context.update_cursor(json.dumps(new_cursor, sort_keys=True))
        return requests or dg.SkipReason("no new or changed export files")

    sensors = [erp_drop_folder_sensor]
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

"""``pipeline_health``: every finished run's outcome per asset group, read from the Dagster instance.

The instance is the record of what ran; this table makes the product owner's KPI ("data sync
success ≥ 99%") a query instead of a guess. Rebuilt whole each time, so it is always consistent.
"""

from collections.abc import Sequence
from datetime import datetime, timezone

import dagster as dg
import polars as pl

from dsop_resources import WAREHOUSE_POOL, Warehouse

_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
SCHEMA = {
    "run_id": pl.Utf8, "job_name": pl.Utf8, "asset_group": pl.Utf8, "status": pl.Utf8, "trigger": pl.Utf8,
    "partition_range": pl.Utf8, "started_at": pl.Datetime, "ended_at": pl.Datetime, "duration_seconds": pl.Float64,
}


def _when(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).replace(tzinfo=None) if timestamp else None


def planned_keys(instance: dg.DagsterInstance, run_id: str) -> set[dg.AssetKey]:
    """Assets a run set out to materialise (for runs launched without an explicit selection)."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=10_000).records
    return {r.event_log_entry.dagster_event.asset_key for r in records}


def health_rows(records, group_of: dict[dg.AssetKey, str], keys_of) -> pl.DataFrame:
    rows = []
    for record in records:
        run = record.dagster_run
        keys = run.asset_selection or keys_of(run.run_id)
        groups = sorted({group_of[k] for k in keys if k in group_of}) or ["(no assets)"]
        tags = run.tags
        partition = tags.get("dagster/partition") or (
            f"{tags['dagster/asset_partition_range_start']}..{tags['dagster/asset_partition_range_end']}"
            if "dagster/asset_partition_range_start" in tags else None
        )
        trigger = ("schedule" if "dagster/schedule_name" in tags else "sensor" if "dagster/sensor_name" in tags
                   else "backfill" if "dagster/backfill" in tags else tags.get("dsop/trigger", "manual"))
        started, ended = _when(record.start_time), _when(record.end_time)
        for group in groups:
            rows.append({
                "run_id": run.run_id, "job_name": run.job_name, "asset_group": group, "status": run.status.value,
                "trigger": trigger, "partition_range": partition, "started_at": started, "ended_at": ended,
                "duration_seconds": (record.end_time - record.start_time) if record.start_time and record.end_time else None,
            })
    return pl.DataFrame(rows, schema=SCHEMA)


def success_rates(health: pl.DataFrame) -> pl.DataFrame:
    return (
        health.group_by("asset_group")
        .agg(runs=pl.len(), succeeded=(pl.col("status") == "SUCCESS").sum())
        .with_columns(success_rate=pl.col("succeeded") / pl.col("runs"))
        .sort("asset_group")
    )


GROUP = "operations"


def build_pipeline_health(assets: Sequence[dg.AssetsDefinition]) -> dg.AssetsDefinition:
    """The asset, told which group each of the other assets is in (this module never imports the
    definitions, which import it)."""
    group_of = {key: group for a in assets for key, group in a.group_names_by_key.items()}

    @dg.asset(
        name="pipeline_health",
        group_name=GROUP,
        description="Outcome of every finished run per asset group (from the Dagster instance): the "
        "'data sync success ≥ 99%' KPI is `select asset_group, avg((status = 'SUCCESS')::int) from pipeline_health ...`.",
        kinds={"dagster", "polars"},
        pool=WAREHOUSE_POOL,
    )
    def pipeline_health(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        return record_health(context, warehouse, {**group_of, context.asset_key: GROUP})

    return pipeline_health


def record_health(context: dg.AssetExecutionContext, warehouse: Warehouse, group_of: dict) -> dg.MaterializeResult:
    records = context.instance.get_run_records(filters=dg.RunsFilter(statuses=_FINISHED), limit=20_000)
    health = health_rows(records, group_of, lambda run_id: planned_keys(context.instance, run_id))
    warehouse.write("pipeline_health", health)
    rates = success_rates(health)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": health.height,
        "success_rate_by_group": dg.MetadataValue.json({g: round(r, 4) for g, r in zip(rates["asset_group"], rates["success_rate"])}),
    })

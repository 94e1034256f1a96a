"""The one ``Definitions`` object dsop has; ``workspace.yaml`` loads ``defs``."""

from __future__ import annotations

import dagster as dg

from dsop_assets.decisions import decision_assets
from dsop_assets.erp.assets import raw_assets, rejected_rows
from dsop_assets.external import external_assets
from dsop_assets.forecast.accuracy import evaluation_assets
from dsop_assets.forecast.assets import forecast_assets
from dsop_assets.forecast.evaluation import evaluation_baseline_assets
from dsop_assets.operations.pipeline_health import build_pipeline_health
from dsop_assets.quality.checks import build_quality_checks
from dsop_assets.sql.assets import load_sql_assets
from dsop_jobs.automation import build_schedules, build_sensors
from dsop_jobs.jobs import build_jobs
from dsop_resources.factory import core_resources
from dsop_resources.settings import warehouse_kind


def build_assets() -> list[dg.AssetsDefinition]:
    assets = [*raw_assets, *external_assets, *load_sql_assets(), *forecast_assets, *evaluation_baseline_assets,
              *evaluation_assets, *decision_assets]
    return [*assets, build_pipeline_health(assets)]


def build_definitions(resources: dict[str, object] | None = None) -> dg.Definitions:
    """Everything dsop defines; tests and benchmarks pass their own resources."""
    assets = build_assets()
    jobs = build_jobs(assets)
    by_name = {job.name: job for job in jobs}
    return dg.Definitions(
        assets=[*assets, rejected_rows],
        # DuckDB takes one writer at a time, so a process per step buys nothing and costs seconds of
        # imports each (a one-week refresh: 76 s multiprocess, 12.5 s in-process). Postgres keeps the default.
        executor=dg.in_process_executor if warehouse_kind() == "duckdb" else None,
        asset_checks=build_quality_checks(assets),
        jobs=jobs,
        schedules=build_schedules(by_name),
        sensors=build_sensors(assets, by_name),
        resources=resources if resources is not None else core_resources(),
    )


defs = build_definitions()

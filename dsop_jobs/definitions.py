"""The one ``Definitions`` object dsop has; ``workspace.yaml`` loads ``defs``."""

from __future__ import annotations

from dsop_assets.gc_pause import imports_without_gc

# Dagster, dsop's modules and the definitions below are built with the cyclic collector paused and
# frozen afterwards: they live as long as the process (see dsop_assets/gc_pause.py).
with imports_without_gc():
    import dagster as dg

    from dsop_assets.analytics_evaluation import analytics_evaluation_assets
    from dsop_assets.anomaly.assets import anomaly_assets
    from dsop_assets.customer.assets import customer_assets
    from dsop_assets.decisions import decision_assets
    from dsop_assets.erp.assets import raw_assets, rejected_rows
    from dsop_assets.external import external_assets
    from dsop_assets.forecast.accuracy import evaluation_assets
    from dsop_assets.forecast.assets import forecast_assets
    from dsop_assets.forecast.evaluation import evaluation_baseline_assets
    from dsop_assets.network.assets import network_assets, network_jobs
    from dsop_assets.operations.pipeline_health import build_pipeline_health
    from dsop_assets.planner.assets import planner_assets
    from dsop_assets.quality.checks import build_quality_checks
    from dsop_assets.simulation.beer_assets import beer_game_assets
    from dsop_assets.simulation.inventory_assets import inventory_simulation_assets
    from dsop_assets.simulation.jobs import analytics_jobs
    from dsop_assets.sql.assets import load_sql_assets
    from dsop_jobs.automation import build_schedules, build_sensors
    from dsop_jobs.jobs import EXECUTOR, build_jobs
    from dsop_jobs.planner_automation import build_planner_jobs, build_planner_sensors
    from dsop_resources.alert_webhook import AlertWebhook
    from dsop_resources.factory import core_resources


def build_assets() -> list[dg.AssetsDefinition]:
    assets = [*raw_assets, *external_assets, *load_sql_assets(), *forecast_assets, *evaluation_baseline_assets,
              *evaluation_assets, *decision_assets,
              *customer_assets, *anomaly_assets, *inventory_simulation_assets, *analytics_evaluation_assets,
              *beer_game_assets, *planner_assets]
    return [*assets, build_pipeline_health(assets)]


def build_definitions(resources: dict[str, object] | None = None) -> dg.Definitions:
    """Everything dsop defines; tests and benchmarks pass their own resources."""
    assets = build_assets()
    jobs = build_jobs(assets) + build_planner_jobs()
    jobs += analytics_jobs(assets)
    by_name = {job.name: job for job in jobs}
    return dg.Definitions(
        # The network plan is a multi-asset (one spec per table): added after the single-key helpers above.
        assets=[*assets, rejected_rows, *network_assets],
        asset_checks=build_quality_checks(assets),
        jobs=[*jobs, *network_jobs],
        schedules=build_schedules(by_name),
        sensors=build_sensors(assets, by_name) + build_planner_sensors(),
        # The webhook URL is a secret: read from the environment when posting, never shown.
        resources={"alert_webhook": AlertWebhook(), **(resources if resources is not None else core_resources())},
        # Ad-hoc materialisations (UI "Materialize", `dagster asset materialize`) run in one process too:
        # a process per step costs seconds of imports each (a one-week refresh: 76 s multiprocess, 12.5 s
        # in-process) and DuckDB takes one writer at a time anyway.
        executor=EXECUTOR,
    )

with imports_without_gc():
    defs = build_definitions()

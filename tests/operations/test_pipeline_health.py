"""``pipeline_health`` turns the instance's finished runs into one row per run and asset group, and
its success rates are the share of those runs that succeeded, failures included."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_jobs.definitions import build_assets
from dsop_jobs.jobs import HEALTH_JOB, MASTER_JOB, WEEKLY_JOB, build_jobs
from dsop_resources import DuckDBWarehouse
from dsop_resources.factory import core_resources
from tests.erp.small_export import GOOD_ORDERS, ORDER_COLUMNS, write_csv, write_small_export

WEEK = "2024-12-30"
SYNTHETIC = Path(__file__).parents[1] / "external" / "fixtures" / "synthetic"


def _defs(erp_dir, warehouse) -> dg.Definitions:
    # Without the asset checks, which pipeline_health does not look at and which double the run time.
    assets = build_assets()
    return dg.Definitions(assets=assets, jobs=build_jobs(assets),
                          resources=core_resources(erp_dir=str(erp_dir), warehouse=warehouse))


def _health(defs, instance) -> str:
    return _run(defs, HEALTH_JOB, instance, None)


def _run(defs, job, instance, keys, partition_key=None, ok=True):
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, asset_selection=keys, partition_key=partition_key, raise_on_error=False)
    assert result.success is ok
    return result.run_id


def test_health_has_a_row_per_run_and_group_and_rates_count_the_failure(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    good = write_small_export(tmp_path / "good")
    shutil.copytree(SYNTHETIC, good / "external")  # the external assets' offline series
    broken = write_small_export(tmp_path / "broken")
    without_qty = [c for c in ORDER_COLUMNS if c != "order_qty"]
    write_csv(broken / "daily_order.csv", without_qty,
              [[v for c, v in zip(ORDER_COLUMNS, row) if c != "order_qty"] for row in GOOD_ORDERS])
    defs, broken_defs = _defs(good, warehouse), _defs(broken, warehouse)

    (tmp_path / "dagster_home").mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster_home")) as instance:
        masters = _run(defs, MASTER_JOB, instance, None)  # the whole job: groups come from its selection
        weekly = _run(defs, WEEKLY_JOB, instance, [dg.AssetKey("daily_order"), dg.AssetKey("stg_daily_order")], WEEK)
        failed = _run(broken_defs, WEEKLY_JOB, instance, [dg.AssetKey("daily_order")], WEEK, ok=False)
        failures = [e for e in instance.all_logs(failed) if e.dagster_event and e.dagster_event.is_step_failure]
        error, messages = failures[0].dagster_event.step_failure_data.error, []
        while error is not None:  # Dagster wraps the asset's exception; the reason is in the cause
            messages.append(error.message)
            error = error.cause
        message = " ".join(messages)
        assert "daily_order.csv: header lacks required column(s) order_qty" in message

        first_health = _health(defs, instance)
        health = warehouse.read_table("pipeline_health")
        expected = {(masters, "erp_raw", "SUCCESS"), (masters, "external", "SUCCESS"), (weekly, "erp_raw", "SUCCESS"),
                    (weekly, "staging", "SUCCESS"), (failed, "erp_raw", "FAILURE")}
        assert set(health.select("run_id", "asset_group", "status").iter_rows()) == expected
        assert health.height == len(expected)
        assert health.filter(pl.col("run_id") == weekly)["partition_range"].unique().to_list() == [WEEK]
        assert (health["ended_at"] >= health["started_at"]).all() and (health["duration_seconds"] >= 0).all()

        # The KPI the asset reports is the share of SUCCESS rows per group, failures included.
        record = instance.get_latest_materialization_event(dg.AssetKey("pipeline_health"))
        rates = record.asset_materialization.metadata["success_rate_by_group"].value
        assert rates == {"erp_raw": round(2 / 3, 4), "external": 1.0, "staging": 1.0}

        # A later rebuild also counts the first health run, under its own group.
        _health(defs, instance)
        again = warehouse.read_table("pipeline_health")
        assert set(again.select("run_id", "asset_group", "status").iter_rows()) == expected | {
            (first_health, "operations", "SUCCESS")}

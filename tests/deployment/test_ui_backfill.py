"""A backfill launched the way the UI launches it reaches the marts.

The UI calls the GraphQL mutation ``launchPartitionBackfill``; the daemon's backfill loop then
submits runs through the instance's run queue (``deploy/dagster.yaml``), and the queue daemon launches
them. Here both daemon loops run one iteration at a time in the test, against a real SQLite instance
and the workspace's code server (``workspace.yaml``); the runs are real subprocess runs. The selection
mixes a raw table, a staging view and weekly and monthly marts over a range: every selected asset
must run for every selected partition.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

REPO = Path(__file__).resolve().parents[2]
END = date(2025, 6, 29)
FIRST_WEEK, LAST_WEEK = "2025-05-05", "2025-05-26"
MONTH = "2025-05-01"
RANGE_TAGS = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
SELECTED = {"daily_order": (FIRST_WEEK, LAST_WEEK), "stg_daily_order": (FIRST_WEEK, LAST_WEEK),
            "weekly_product_summary": (FIRST_WEEK, LAST_WEEK), "monthly_product_summary": (MONTH, MONTH)}
LAUNCH = """
mutation($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
  }
}
"""


@pytest.fixture
def ui_home(tmp_path, monkeypatch):
    """A DAGSTER_HOME with the shipped (queued) instance config, tiny demo data, and what the
    backfill does not select already loaded: masters, FX, revenue, production and their views."""
    from dsop_jobs.demo_data.generator import generate
    from dsop_jobs.definitions import build_assets
    from dsop_resources import DuckDBWarehouse
    from dsop_resources.factory import core_resources

    erp, duck, home = tmp_path / "erp", tmp_path / "dsop.duckdb", tmp_path / "home"
    generate(erp, scale="tiny", seed=11, end_date=END)
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
    for name, value in {"DAGSTER_HOME": str(home), "DSOP_ERP_DIR": str(erp), "DSOP_DUCKDB_PATH": str(duck),
                        "DSOP_DUCKDB_READ_PATH": ""}.items():
        monkeypatch.setenv(name, value)
    warehouse = DuckDBWarehouse(path=str(duck))
    assets, resources = build_assets(), core_resources(erp_dir=str(erp), warehouse=warehouse)
    with dg.DagsterInstance.get() as instance:
        masters = ["product_master", "customer", "supplier", "bom", "production_line", "exchange_rate"]
        assert dg.materialize(assets, selection=masters, resources=resources, instance=instance).success
        weekly = ["daily_order", "daily_revenue", "daily_production", "stg_daily_revenue", "stg_daily_production"]
        # From a month before the backfill: the monthly mart compares with the previous month.
        assert dg.materialize(assets, selection=weekly, resources=resources, instance=instance,
                              tags=dict(zip(RANGE_TAGS, ("2025-03-31", LAST_WEEK)))).success
        warehouse.execute("delete from daily_order where order_date >= date '2025-05-05'")
        yield instance, warehouse


def _run_daemons_until_done(context, instance, backfill_id: str, timeout: float = 600) -> None:
    from dagster._daemon.backfill import execute_backfill_iteration
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    logger = logging.getLogger("test_ui_backfill")
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        list(execute_backfill_iteration(context, logger))
        list(queue.run_iteration(context))
        backfill = instance.get_backfill(backfill_id)
        if backfill.status != BulkActionStatus.REQUESTED:
            return
        time.sleep(0.5)
    raise AssertionError(f"backfill {backfill_id} still {instance.get_backfill(backfill_id).status} after {timeout}s")


def test_ui_backfill_of_raw_staging_and_marts_updates_the_marts(ui_home):
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    instance, warehouse = ui_home
    params = {"partitionsByAssets": [
        {"assetKey": {"path": [key]}, "partitions": {"range": {"start": start, "end": end}}}
        for key, (start, end) in SELECTED.items()]}
    with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:
        launched = execute_dagster_graphql(context, LAUNCH, {"backfillParams": params}).data["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        _run_daemons_until_done(context.process_context, instance, launched["backfillId"])

    backfill = instance.get_backfill(launched["backfillId"])
    runs = instance.get_runs(filters=dg.RunsFilter.for_backfill(backfill.backfill_id))
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, [(r.run_id, r.status) for r in runs]
    # The shipped launcher ran each of them in a process forked from the warm run worker.
    for run in runs:
        assert any("Launched in the warm run worker" in e.message for e in instance.all_logs(run.run_id)), run.run_id
    for key, (start, end) in SELECTED.items():
        done = instance.get_materialized_partitions(dg.AssetKey(key))
        wanted = {k for k in _keys(key) if start <= k <= end}
        assert wanted <= done, f"{key}: backfill did not materialise {sorted(wanted - done)}"
    weeks = warehouse.query("select distinct week_start from weekly_product_summary order by 1")["week_start"]
    assert [str(w) for w in weeks] == ["2025-05-05", "2025-05-12", "2025-05-19", "2025-05-26"]
    may = warehouse.query("select sum(order_qty) as qty from monthly_product_summary where month_start = date '2025-05-01'")
    orders = warehouse.query("select sum(order_qty) as qty from daily_order where order_date >= date '2025-05-01' "
                             "and order_date < date '2025-06-01'")
    assert may["qty"][0] == pytest.approx(orders["qty"][0]) and may["qty"][0] > 0


def _keys(key: str) -> list[str]:
    from dsop_assets.partitions import monthly_partitions, weekly_partitions

    return (monthly_partitions if key.startswith("monthly") else weekly_partitions).get_partition_keys()

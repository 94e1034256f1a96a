"""A check over a range of partitions stamps Passed/Failed on each partition, as the UI reads them."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from dsop_assets.partitions import weekly_partitions
from dsop_assets.quality.checks import build_quality_check
from tests.quality.test_checks import GOOD_ORDERS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WEEKS = ["2025-01-06", "2025-01-13", "2025-01-20"]
RANGE = {"dagster/asset_partition_range_start": WEEKS[0], "dagster/asset_partition_range_end": WEEKS[-1]}


@pytest.fixture(params=["shipped", "stock"])
def any_instance(request, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    if request.param == "shipped":
        (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    with dg.DagsterInstance.get() as instance:
        yield instance


def _orders(bad_week: str | None) -> pl.DataFrame:
    weeks = [pl.date(*map(int, w.split("-"))) for w in WEEKS]
    frames = []
    for i, week in enumerate(weeks):
        part = GOOD_ORDERS.with_columns(week.alias("order_date"), (pl.col("order_id") + str(i)).alias("order_id"))
        if WEEKS[i] == bad_week:
            part = part.with_columns(pl.lit(-1.0).alias("order_qty"))
        frames.append(part)
    return pl.concat(frames)


def _run(instance, warehouse, bad_week):
    @dg.asset(name="daily_order", partitions_def=weekly_partitions, metadata={"partition_expr": "order_date"},
              backfill_policy=dg.BackfillPolicy.single_run())
    def orders(warehouse: dg.ResourceParam) -> None:
        warehouse.write("daily_order", _orders(bad_week))

    ran = []

    @dg.asset(partitions_def=weekly_partitions, deps=[orders], backfill_policy=dg.BackfillPolicy.single_run())
    def downstream() -> None:
        ran.append(True)

    check = build_quality_check(orders)
    job = dg.define_asset_job("j", partitions_def=weekly_partitions, executor_def=dg.in_process_executor)
    defs = dg.Definitions(assets=[orders, downstream], asset_checks=[check], jobs=[job],
                          resources={"warehouse": warehouse})
    result = defs.resolve_job_def("j").execute_in_process(instance=instance, tags=RANGE, raise_on_error=False)
    infos = instance.event_log_storage.get_asset_check_partition_info([check.check_key])
    return result, {i.partition_key: i for i in infos}, ran


def test_each_partition_of_a_range_gets_its_own_passed_result(any_instance, warehouse):
    result, infos, ran = _run(any_instance, warehouse, bad_week=None)
    assert result.success and ran
    assert sorted(infos) == WEEKS
    assert all(i.latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED for i in infos.values())
    assert all(i.is_current for i in infos.values())  # targets that week's materialisation


def test_a_bad_week_fails_alone_and_blocks_the_chain(any_instance, warehouse):
    result, infos, ran = _run(any_instance, warehouse, bad_week=WEEKS[1])
    assert not result.success and not ran
    status = {k: i.latest_execution_status for k, i in infos.items()}
    assert status == {WEEKS[0]: AssetCheckExecutionRecordStatus.SUCCEEDED, WEEKS[1]: AssetCheckExecutionRecordStatus.FAILED,
                      WEEKS[2]: AssetCheckExecutionRecordStatus.SUCCEEDED}
    records = any_instance.get_records_for_run(result.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [r.event_log_entry.dagster_event.asset_check_evaluation_data for r in records]
    failed = [e for e in evaluations if not e.passed]
    assert [e.partition for e in failed] == [WEEKS[1]]
    assert failed[0].metadata["failures"].value[0]["rule"] == "order_qty in [0, 1000000000.0]"
    assert failed[0].metadata["failures"].value[0]["unexpected_count"] == GOOD_ORDERS.height


def test_each_partition_result_targets_that_partitions_latest_materialisation(any_instance, warehouse):
    """The target (storage id, run id, time) read from the event log's own columns is the one Dagster's
    records give, also after a second run re-materialised the range (the older events must not win)."""
    _run(any_instance, warehouse, bad_week=None)
    result, _, _ = _run(any_instance, warehouse, bad_week=None)
    records = any_instance.get_records_for_run(result.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    targets = {e.partition: e.target_materialization_data
               for e in (r.event_log_entry.dagster_event.asset_check_evaluation_data for r in records)}
    assert sorted(targets) == WEEKS
    for week, target in targets.items():
        latest = any_instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_order"), asset_partitions=[week]), limit=1).records[0]
        assert (target.storage_id, target.run_id) == (latest.storage_id, result.run_id)
        assert abs(target.timestamp - latest.timestamp) < 1e-5

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


def _check_rows(instance):
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
    from sqlalchemy import select

    storage = instance.event_log_storage
    executions, events = AssetCheckExecutionsTable, SqlEventLogStorageTable
    with storage.index_connection() as conn:
        return conn.execute(
            select(executions.c.partition, executions.c.execution_status, executions.c.run_id,
                   events.c.partition, events.c.dagster_event_type, executions.c.evaluation_event == events.c.event)
            .select_from(executions.join(events, executions.c.evaluation_event_storage_id == events.c.id))
            .order_by(executions.c.id)).fetchall()


def test_each_partition_row_points_at_its_own_result_event(any_instance, warehouse):
    """The batched write keeps Dagster's bookkeeping: every partition's execution row holds its own result
    and the storage id of that very event (its event text is the row's: ids matched to events in order)."""
    result, _, _ = _run(any_instance, warehouse, bad_week=WEEKS[2])
    rows = [r for r in _check_rows(any_instance) if r[2] == result.run_id]
    assert [r[0] for r in rows] == WEEKS
    assert [(r[4], bool(r[5])) for r in rows] == [("ASSET_CHECK_EVALUATION", True)] * len(WEEKS)
    assert [r[1] for r in rows] == ["SUCCEEDED", "SUCCEEDED", "FAILED"]


def test_a_batch_of_results_without_planned_rows_is_inserted_as_dagster_does(any_instance):
    """Results of a run that planned no check rows (Dagster's fallback) still get one row per partition."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
    from dagster._core.events import DagsterEvent
    from dagster._core.events.log import EventLogEntry

    def entry(week, passed):
        evaluation = AssetCheckEvaluation(asset_key=dg.AssetKey("daily_order"), check_name="daily_order_quality",
                                          passed=passed, metadata={}, partition=week)
        event = DagsterEvent(DagsterEventType.ASSET_CHECK_EVALUATION.value, "j", event_specific_data=evaluation)
        return EventLogEntry(error_info=None, level=20, user_message="", run_id="r1", timestamp=1.7e9,
                             dagster_event=event)

    any_instance.event_log_storage.store_event_batch([entry(WEEKS[0], True), entry(WEEKS[1], False)])
    rows = _check_rows(any_instance)
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows] == [
        (WEEKS[0], "SUCCEEDED", "r1", "ASSET_CHECK_EVALUATION", True),
        (WEEKS[1], "FAILED", "r1", "ASSET_CHECK_EVALUATION", True)]

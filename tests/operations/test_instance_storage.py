"""The shipped instance config: fewer, batched events, the same per-partition status in the UI.

Runs are real Dagster runs on an instance built from deploy/dagster.yaml in a temporary DAGSTER_HOME.
"""

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from dsop_assets.partitions import weekly_partitions
from dsop_jobs.instance_storage import FastSqliteEventLogStorage
from dsop_jobs.jobs import EXECUTOR

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WEEKS = ("2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27")
RANGE = {"dagster/asset_partition_range_start": WEEKS[0], "dagster/asset_partition_range_end": WEEKS[-1]}


@pytest.fixture
def shipped_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    with dg.DagsterInstance.get() as instance:
        yield instance


def _job(fail_second: bool):
    @dg.asset(partitions_def=weekly_partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def first(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"weeks": len(context.partition_keys)})

    @dg.asset(partitions_def=weekly_partitions, backfill_policy=dg.BackfillPolicy.single_run(), deps=[first])
    def second() -> None:
        if fail_second:
            raise RuntimeError("bad week")

    job = dg.define_asset_job("history", partitions_def=weekly_partitions, executor_def=EXECUTOR)
    return dg.Definitions(assets=[first, second], jobs=[job]).resolve_job_def("history")


def _events(instance, run_id, kind):
    return [r.event_log_entry for r in instance.get_records_for_run(run_id, of_type=kind).records]


def test_a_range_run_plans_per_asset_and_materialises_per_partition(shipped_instance):
    assert isinstance(shipped_instance.event_log_storage, FastSqliteEventLogStorage)
    result = _job(fail_second=False).execute_in_process(instance=shipped_instance, tags=RANGE)
    planned = _events(shipped_instance, result.run_id, DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    assert len(planned) == 2  # one per asset, carrying the four weeks
    assert sorted(planned[0].dagster_event.event_specific_data.partitions_subset.get_partition_keys()) == list(WEEKS)
    for key in ("first", "second"):
        assert sorted(shipped_instance.get_materialized_partitions(dg.AssetKey(key))) == list(WEEKS)
        records = shipped_instance.fetch_materializations(dg.AssetKey(key), limit=100).records
        assert sorted(r.partition_key for r in records) == list(WEEKS)  # exactly one per week
    pending = shipped_instance.event_log_storage.get_latest_asset_partition_materialization_attempts_without_materializations(
        dg.AssetKey("second"))
    assert pending == {}


def test_a_failed_range_run_marks_its_unwritten_partitions_failed(shipped_instance):
    result = _job(fail_second=True).execute_in_process(instance=shipped_instance, tags=RANGE, raise_on_error=False)
    assert not result.success
    # Dagster derives "failed" from per-partition planned events of a failed run with no materialisation.
    pending = shipped_instance.event_log_storage.get_latest_asset_partition_materialization_attempts_without_materializations(
        dg.AssetKey("second"))
    assert sorted(pending) == list(WEEKS)
    assert {run_id for run_id, _ in pending.values()} == {result.run_id}
    assert shipped_instance.event_log_storage.get_latest_asset_partition_materialization_attempts_without_materializations(
        dg.AssetKey("first")) == {}
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    status = get_and_update_asset_status_cache_value(shipped_instance, dg.AssetKey("second"), weekly_partitions)
    assert sorted(status.deserialize_failed_partition_subsets(weekly_partitions).get_partition_keys()) == list(WEEKS)


def test_every_job_and_adhoc_materialisation_runs_in_one_process():
    from dsop_jobs.definitions import defs

    for job in defs.jobs:
        assert defs.resolve_job_def(job.name).executor_def is EXECUTOR, job.name
    assert defs.resolve_implicit_global_asset_job_def().executor_def is EXECUTOR

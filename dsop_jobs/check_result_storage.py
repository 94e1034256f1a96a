"""Per-partition check results written as a batch: the rows Dagster writes one event at a time.

A range check (dsop_assets/quality/partition_results.py) hands the storage one result per partition
as one event batch. Dagster's ``_update_asset_check_evaluation`` still ran per result: a statement
built and compiled, the event serialised a second time, one update each, and on Postgres a server
connection each. Both dsop event logs (dsop_jobs/instance_storage.py) write such a batch as one
multi-row insert of the events and one executemany update of the rows the run's planned events made.
"""

from __future__ import annotations

from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from sqlalchemy import bindparam, func, select


def is_partition_result(event: EventLogEntry) -> bool:
    """A run's check result for one partition: the events partition_results.py writes as a batch."""
    return (event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION and bool(event.run_id)
            and event.dagster_event.event_specific_data.partition is not None)


class CheckResultBatchMixin:
    """Batch writes of per-partition check results, the same rows Dagster writes one event at a time."""

    @staticmethod
    def _insert_returning_ids(conn, rows: list[dict]) -> list[int]:
        """One multi-row INSERT ... RETURNING id, ids in the rows' order (SQLAlchemy's insertmanyvalues):
        a compiled statement per row was ~15 % of a 156-partition check's event writes."""
        table = SqlEventLogStorageTable
        statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return [row[0] for row in conn.execute(statement, rows)]

    def _update_check_results(self, conn, results: list[tuple]) -> None:
        """Dagster's ``_update_asset_check_evaluation`` for a batch of per-partition check results:
        each one fills the row its run's planned event made for that partition. One executemany
        UPDATE, with the event text already serialised for the event log, instead of a statement
        built and the event serialised again per result (~60 % of a range check's event writes).
        Where the total of rows updated is not one per result, every result is settled one by one
        as Dagster does (insert when no planned row exists, an error when several do)."""
        table = AssetCheckExecutionsTable
        params = [{
            "b_asset_key": evaluation.asset_key.to_string(), "b_check_name": evaluation.check_name,
            "b_run_id": row["run_id"], "b_partition": evaluation.partition,
            "execution_status": (AssetCheckExecutionRecordStatus.SUCCEEDED if evaluation.passed
                                 else AssetCheckExecutionRecordStatus.FAILED).value,
            "evaluation_event": row["event"], "evaluation_event_timestamp": row["timestamp"],
            "evaluation_event_storage_id": event_id,
            "materialization_event_storage_id": (evaluation.target_materialization_data.storage_id
                                                 if evaluation.target_materialization_data else None),
        } for evaluation, row, event_id in results]
        where = (
            (table.c.asset_key == bindparam("b_asset_key")) & (table.c.check_name == bindparam("b_check_name"))
            & (table.c.run_id == bindparam("b_run_id")) & (table.c.partition == bindparam("b_partition"))
        )
        values = {name: bindparam(name) for name in params[0] if not name.startswith("b_")}
        updated = conn.execute(table.update().where(where).values(**values), params).rowcount
        if updated == len(results):
            return
        for param in params:
            found = conn.execute(
                select(func.count()).select_from(table).where(
                    (table.c.asset_key == param["b_asset_key"]) & (table.c.check_name == param["b_check_name"])
                    & (table.c.run_id == param["b_run_id"]) & (table.c.partition == param["b_partition"]))
            ).scalar()
            if found > 1:
                raise DagsterInvariantViolationError(
                    f"Updated {found} rows for asset check evaluation {param['b_asset_key']} {param['b_check_name']} "
                    "as a result of duplicate AssetCheckPlanned events.")
            if found == 0:
                conn.execute(table.insert().values(
                    asset_key=param["b_asset_key"], check_name=param["b_check_name"], run_id=param["b_run_id"],
                    partition=param["b_partition"], **{k: v for k, v in param.items() if not k.startswith("b_")}))

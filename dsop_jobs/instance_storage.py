"""Dagster instance storage tuned for history builds (used by deploy/dagster*.yaml).

A single-run backfill of 156 weeks makes Dagster write one planned-materialisation event per asset
per partition when the run is created, and one materialisation per partition when each step ends.
On the stock SQLite event log every one of those events builds an engine, opens a connection,
commits (an fsync) and closes, in the run's shard and again in the index shard: at seed scale that
bookkeeping was ~70 % of the aggregate stage. These storages keep the same tables, files and
semantics, and cut the cost:

- planned events are written as one event per asset carrying the partition subset (Dagster's own
  ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS`` behaviour, switched on by the storage so that
  every process using the instance gets it: webserver, daemon, run workers, the CLI);
- Dagster's caveat with that mode (a failed run's partitions are not marked failed, because the
  failure status is derived from per-partition planned events) is handled here: when a run fails,
  the per-partition planned events of what it did not materialise are written before the failure,
  exactly what stock Dagster would have written at launch, so those partitions show as failed;
- events that Dagster hands over as a batch (a step's per-partition materialisations, the planned
  events, the per-partition check results of dsop_assets/quality/partition_results.py) are written
  in one transaction per shard instead of one per event
  (``DAGSTER_EVENT_BATCH_SIZE``, defaulted here for the same every-process reason);
- a batch of per-partition check results is written as one multi-row insert of its events and one
  executemany update of their planned rows (Dagster built a statement and serialised the event
  again per result; on Postgres it also took a server connection per result);
- SQLite only: connections are kept per shard instead of rebuilt per event, and a batch's index
  rows go in one multi-row insert.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

from dagster import _check as check
from dagster._config import StringSource
from dagster._core.events import (
    ASSET_CHECK_EVENTS,
    ASSET_EVENTS,
    BATCH_WRITABLE_EVENTS,
    AssetMaterializationPlannedData,
    DagsterEvent,
    DagsterEventType,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME as INDEX_SHARD
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from dagster._utils import mkdir_p
from sqlalchemy.pool import NullPool, QueuePool

from dsop_jobs.check_result_storage import CheckResultBatchMixin, is_partition_result

# Big enough that a whole step's per-partition materialisations go in one batch.
EVENT_BATCH_SIZE = "10000"
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# Run shards whose connections stay open (a webserver browsing many runs must not hoard files).
OPEN_SHARDS = 8


def enable_event_batching() -> None:
    """Dagster reads the batch size from the environment of whichever process writes the events."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)


class PartitionFailureMixin:
    """Subset planned events plus explicit per-partition failure marking (see the module doc)."""

    @property
    def supports_partition_subset_in_asset_materialization_planned_events(self) -> bool:
        return True

    def store_event(self, event: EventLogEntry) -> None:
        if event.is_dagster_event and event.dagster_event_type == DagsterEventType.RUN_FAILURE:
            unmaterialised = self.planned_partitions_not_materialised(event.run_id)
            if unmaterialised:
                self.store_event_batch(unmaterialised)
        super().store_event(event)  # type: ignore[misc]

    def planned_partitions_not_materialised(self, run_id: str) -> list[EventLogEntry]:
        """Per-partition planned events for partitions the run planned as a subset but never wrote."""
        records = self.get_records_for_run(  # type: ignore[attr-defined]
            run_id,
            of_type={DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_MATERIALIZATION},
            limit=None,
        ).records
        done = {
            (r.event_log_entry.dagster_event.asset_key, r.event_log_entry.dagster_event.partition)
            for r in records
            if r.event_log_entry.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION
        }
        already_expanded = {
            (r.event_log_entry.dagster_event.asset_key, r.event_log_entry.dagster_event.partition)
            for r in records
            if r.event_log_entry.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        }
        now = time.time()
        out = []
        for record in records:
            entry = record.event_log_entry
            dagster_event = entry.dagster_event
            if entry.dagster_event_type != DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
                continue
            planned = dagster_event.event_specific_data
            if not isinstance(planned, AssetMaterializationPlannedData) or planned.partitions_subset is None:
                continue
            for key in planned.partitions_subset.get_partition_keys():
                if (planned.asset_key, key) in done or (planned.asset_key, key) in already_expanded:
                    continue
                expanded = DagsterEvent.build_asset_materialization_planned_event(
                    dagster_event.job_name,
                    dagster_event.step_key,
                    AssetMaterializationPlannedData(planned.asset_key, partition=key, partitions_subset=None),
                )
                out.append(EventLogEntry(
                    error_info=None, level=entry.level, user_message="", run_id=run_id, timestamp=now,
                    step_key=entry.step_key, job_name=entry.job_name, dagster_event=expanded,
                ))
        return out


class FastSqliteEventLogStorage(CheckResultBatchMixin, PartitionFailureMixin, SqliteEventLogStorage):
    """The stock SQLite event log (same files, same schema) with kept connections and batch writes."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, object] = OrderedDict()
        self._open = threading.local()  # shard -> connection inside a transaction, per thread
        self._known_tables: dict[str, bool] = {}
        self._known_columns: dict[str, bool] = {}
        enable_event_batching()
        super().__init__(base_dir, inst_data=inst_data)
        # Re-entrant, so a batch can run Dagster's own per-event code inside its one transaction.
        self._db_lock = threading.RLock()

    def _engine(self, shard: str):
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        # One pooled connection per shard: every use is serialised by ``_db_lock`` anyway.
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS + 1:
            oldest = next(s for s in self._engines if s != INDEX_SHARD)
            self._engines.pop(oldest).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator:
        with self._db_lock:
            check.str_param(shard, "shard")
            open_connections = self._open.__dict__.setdefault("by_shard", {})
            if shard in open_connections:  # nested use inside a batch: same transaction
                yield open_connections[shard]
                return
            if shard not in self._initialized_dbs:
                # Schema creation opens two connections at once: give it a throwaway engine.
                init_engine = create_engine(
                    self.conn_string_for_shard(shard), poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                self._initdb(init_engine)
                init_engine.dispose()
                self._initialized_dbs.add(shard)
            with self._engine(shard).connect() as conn, conn.begin():
                open_connections[shard] = conn
                try:
                    yield conn
                finally:
                    del open_connections[shard]

    def has_table(self, table_name: str) -> bool:
        # The stock method builds an engine per call, and it is asked on every asset event.
        if table_name not in self._known_tables:
            self._known_tables[table_name] = super().has_table(table_name)
        return self._known_tables[table_name]

    def _has_asset_key_col_on_connection(self, conn, column_name: str) -> bool:
        # Asked on every asset event (a schema inspection each time); the schema only changes
        # through `dagster instance migrate`, in another process.
        if column_name not in self._known_columns:
            self._known_columns[column_name] = super()._has_asset_key_col_on_connection(conn, column_name)
        return self._known_columns[column_name]

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """What ``store_event`` does for each event, in one transaction per shard."""
        by_run: dict[str, list[EventLogEntry]] = {}
        for event in events:
            by_run.setdefault(event.run_id, []).append(event)
        for run_id, run_events in by_run.items():
            self._store_run_batch(run_id, run_events)

    def _store_run_batch(self, run_id: str, events: list[EventLogEntry]) -> None:
        rows = [self._event_to_row(event) for event in events]  # serialised once, used twice
        with self.run_connection(run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        indexed = [(e, r) for e, r in zip(events, rows)
                   if e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS | ASSET_CHECK_EVENTS]
        if not indexed:
            return
        with self.index_transaction() as conn:
            ids = self._insert_returning_ids(conn, [row for _, row in indexed])
            asset = [(e, i) for (e, _), i in zip(indexed, ids) if e.dagster_event_type in ASSET_EVENTS]
            if asset:
                self._store_asset_event_tags(conn, [e for e, _ in asset], [i for _, i in asset])
                # The asset row keeps the latest event of each kind: only the last one counts.
                latest = {(e.dagster_event.asset_key, e.dagster_event_type): (e, i) for e, i in asset}
                for event, event_id in latest.values():
                    self._store_asset_event(conn, event, event_id)
            results = []  # consecutive per-partition results, written together
            for (event, row), event_id in zip(indexed, ids):
                if event.dagster_event_type not in ASSET_CHECK_EVENTS:
                    continue
                if is_partition_result(event):
                    results.append((event.dagster_event.event_specific_data, row, event_id))
                    continue
                if results:  # what came before this event is written before it, as one by one would
                    self._update_check_results(conn, results)
                    results = []
                self.store_asset_check_event(event, event_id)  # re-enters this transaction
            if results:
                self._update_check_results(conn, results)

    def wipe(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
        super().dispose()


def _runs_directory(base: str) -> str:
    return os.path.join(base, "history", "")


def _event_logs_directory(base: str) -> str:
    return os.path.join(base, "history", "runs", "")


def _schedule_directory(base: str) -> str:
    return os.path.join(base, "schedules")


class DsopSqliteStorage(DagsterSqliteStorage):
    """``storage: sqlite`` with the fast event log; same layout under ``base_dir``."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = check.str_param(base_dir, "base_dir")
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = FastSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = check.opt_inst_param(inst_data, "inst_data", ConfigurableClassData)
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def config_type(cls):
        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> DsopSqliteStorage:
        mkdir_p(config_value["base_dir"])
        return cls(config_value["base_dir"], inst_data=inst_data)


@lru_cache(maxsize=1)
def _postgres_classes():
    # dagster-postgres is imported only by deployments that configure it.
    from dagster_postgres.event_log import PostgresEventLogStorage
    from dagster_postgres.storage import DagsterPostgresStorage

    class FastPostgresEventLogStorage(CheckResultBatchMixin, PartitionFailureMixin, PostgresEventLogStorage):
        """Postgres event log with subset planned events and batch writes switched on."""

        def __init__(self, *args, **kwargs):
            enable_event_batching()
            super().__init__(*args, **kwargs)

        def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
            # The stock batch path takes materialisations only; per-partition check results
            # (dsop_assets/quality/partition_results.py) arrive as a batch too.
            if all(e.dagster_event_type in BATCH_WRITABLE_EVENTS for e in events):
                super().store_event_batch(events)
                return
            if all(is_partition_result(e) for e in events):
                # One transaction: the events, then their rows in asset_check_executions. One event at
                # a time took a server connection each (0.76 s CPU for a 156-partition check).
                rows = [self._event_to_row(e) for e in events]
                with self.index_transaction() as conn:
                    ids = self._insert_returning_ids(conn, rows)
                    self._update_check_results(
                        conn, [(e.dagster_event.event_specific_data, r, i) for e, r, i in zip(events, rows, ids)])
                return
            for event in events:
                self.store_event(event)

    class DsopPostgresStorage(DagsterPostgresStorage):
        """``storage: postgres`` with the event log above; same tables, same config keys."""

        def __init__(self, postgres_url, should_autocreate_tables=True, inst_data=None, token_provider=None):
            super().__init__(postgres_url, should_autocreate_tables, inst_data=inst_data, token_provider=token_provider)
            self._event_log_storage = FastPostgresEventLogStorage(
                postgres_url, should_autocreate_tables, token_provider=token_provider
            )

        @classmethod
        def from_config_value(cls, inst_data, config_value):
            from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

            return cls(
                inst_data=inst_data,
                postgres_url=pg_url_from_config(config_value),
                should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                token_provider=get_token_provider_from_config(config_value),
            )

    return FastPostgresEventLogStorage, DsopPostgresStorage


def __getattr__(name: str):
    if name in ("FastPostgresEventLogStorage", "DsopPostgresStorage"):
        return dict(zip(("FastPostgresEventLogStorage", "DsopPostgresStorage"), _postgres_classes()))[name]
    raise AttributeError(name)

"""DuckDB warehouse: one file, one writer at a time.

DuckDB lets only one process hold a file open read-write, so every call opens a short-lived
connection and retries while another process holds the lock, instead of failing the run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import polars as pl
from pydantic import Field, PrivateAttr

from dsop_resources.warehouse import Warehouse, Window, quote_identifier

if TYPE_CHECKING:  # imported on the first connection: loading the definitions should not pay for it
    import duckdb

_LOCK_MESSAGES = ("Could not set lock", "Conflicting lock", "database is locked")


class DuckDBWarehouse(Warehouse):
    """The default warehouse: a DuckDB file (``DSOP_DUCKDB_PATH``)."""

    path: str = Field(description="DuckDB file; created with its folder on first write.")
    lock_timeout_seconds: float = Field(
        default=300.0, description="How long to wait for another process's write lock."
    )
    lock_report_seconds: float = Field(
        default=5.0, description="While waiting for the lock, log who holds it this often."
    )
    memory_limit: str | None = Field(
        default="512MB",
        description="DuckDB's buffer-pool cap for this process (DuckDB's own default is 80 % of the machine's "
        "memory). DuckDB keeps every block it wrote or read cached up to the cap, so an in-process history "
        "build held the raw tables it had loaded while Polars built the feature stores beside them; above "
        "the cap DuckDB evicts written blocks and spills sorts and joins to disk. None keeps DuckDB's default.",
    )
    publish_path: str | None = Field(
        default=None,
        description="Once per run, after its last write, an atomic copy of the warehouse for analysts "
        "to open read-only (DSOP_DUCKDB_READ_PATH); they never hold the writer's lock nor see a "
        "half-finished refresh. Published by the read_copy_publisher sensor and by dsop demo.",
    )

    # Opening a DuckDB file costs ~90 ms; a run keeps one connection (and the write lock) from
    # setup to teardown instead of paying that on every call. Outside a run, each call connects.
    _session: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _log: Any = PrivateAttr(default=None)

    @property
    def dialect(self) -> str:
        return "duckdb"

    def setup_for_execution(self, context) -> None:
        self._log = getattr(context, "log", None)  # sensors open the warehouse outside a run
        self._session = self._open()

    def teardown_after_execution(self, context) -> None:
        if self._session is None:
            return
        try:
            self._session.execute("checkpoint")
            # A run executed in one process (in-process executor: dsop demo, tests, a run worker
            # configured so) tears down once, after its last write: publish now, still holding the
            # lock. Under the multiprocess executor every step is a child process that tears down on
            # its own; a copy per step would show new raw tables beside old marts, so those runs are
            # published once at their end by the read_copy_publisher sensor instead.
            if multiprocessing.parent_process() is None:
                self._copy_for_readers(self._session)
        finally:
            self._session.close()
            self._session = None

    def publish(self) -> bool:
        """Copy the committed warehouse next to it and swap it in atomically for readers.

        Waits for and holds the write lock while copying, so no process writes the file mid-copy.
        Returns whether a copy was made (False when publishing is off or nothing exists yet).
        """
        if not self._publishing() or not Path(self.path).exists():
            return False
        with self.connect() as con:
            return self._copy_for_readers(con)

    def _publishing(self) -> bool:
        return bool(self.publish_path) and self.path != ":memory:"

    def _copy_for_readers(self, con: duckdb.DuckDBPyConnection) -> bool:
        if not self._publishing():
            return False
        con.execute("checkpoint")
        target = Path(self.publish_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(self.path, staging)
        os.replace(staging, target)
        return True

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._session is not None:
            yield self._session
            return
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        deadline = began + self.lock_timeout_seconds
        next_report = began + self.lock_report_seconds
        delay = 0.05
        import duckdb

        while True:
            try:
                return self._configured(duckdb.connect(self.path))
            except duckdb.IOException as error:
                if not any(m in str(error) for m in _LOCK_MESSAGES):
                    raise
                now = time.monotonic()
                if now > deadline:
                    raise duckdb.IOException(
                        f"gave up after {now - began:.0f} s waiting for the write lock on {self.path}, "
                        f"held by {_holder(str(error))}: {error}"
                    ) from None
                if now >= next_report:
                    # A silent wait looks like a hang: say who holds the lock, every few seconds.
                    self._logger().warning(
                        f"waiting {now - began:.0f} s for the DuckDB write lock on {self.path}, held by "
                        f"{_holder(str(error))}; giving up after {self.lock_timeout_seconds:.0f} s"
                    )
                    next_report = now + self.lock_report_seconds
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0, self.lock_report_seconds / 2)

    def _configured(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        # SET rather than a connect-time config: DuckDB refuses a second in-process connection to the
        # file whose config differs (a test or tool opening it plainly while a run holds it).
        if self.memory_limit:
            con.execute("set memory_limit = $limit", {"limit": self.memory_limit})
        return con

    def _logger(self) -> logging.Logger:
        return self._log or logging.getLogger("dsop.warehouse")

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        with self.connect() as con:
            return con.execute(sql, params or {}).pl()

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self.connect() as con:
            con.execute(sql, params or {})

    def table_exists(self, table: str) -> bool:
        with self.connect() as con:
            return _exists(con, table)

    def columns(self, table: str) -> list[str]:
        with self.connect() as con:
            return _columns(con, table)

    def write(
        self,
        table: str,
        frame: pl.DataFrame,
        window: Window | None = None,
        keys: dict[str, list[Any]] | None = None,
    ) -> int:
        name = quote_identifier(table)
        with self.connect() as con:
            con.register("dsop_incoming", in_row_groups(frame))
            con.execute("begin transaction")
            try:
                if window is None and keys is None:
                    con.execute(f"create or replace table {name} as select * from dsop_incoming")
                else:
                    _prepare(con, table, "select * from dsop_incoming")
                    con.execute(f"delete from {name} where {_delete_condition(con, window, keys)}")
                    con.execute(f"insert into {name} by name select * from dsop_incoming")
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
            finally:
                # A registered frame stays referenced by the connection, which a run keeps open: the
                # last frame written (a whole feature store) stayed in memory until the next write.
                con.unregister("dsop_incoming")
        return frame.height

    def write_batches(self, table: str, batches: Iterable[pl.DataFrame], window: Window) -> int:
        """Each batch goes to a temporary table as it comes (DuckDB spills it past ``memory_limit``),
        then the window is replaced from it, in the order built, in one transaction. Staging first
        matters: batches inserted straight into the table inside the transaction are held as
        uncommitted rows outside DuckDB's memory pool (a large weekly store peaked at 2.1 GiB)."""
        name, stage = quote_identifier(table), quote_identifier(f"dsop_stage_{table}")
        with self.connect() as con:
            con.execute(f"drop table if exists temp.main.{stage}")
            staged = False
            try:
                for batch in batches:
                    con.register("dsop_incoming", in_row_groups(batch))
                    try:
                        con.execute(f"insert into temp.main.{stage} select * from dsop_incoming" if staged else
                                    f"create temp table {stage} as select * from dsop_incoming")
                    finally:
                        con.unregister("dsop_incoming")
                    staged = True
                    del batch
                if not staged:  # nothing built: the window is emptied (a table with no columns can't be made)
                    if _exists(con, table):
                        con.execute(f"delete from {name} where {window.predicate()}")
                    return 0
                con.execute("begin transaction")
                try:
                    _prepare(con, table, f"select * from temp.main.{stage}")
                    con.execute(f"delete from {name} where {window.predicate()}")
                    con.execute(f"insert into {name} by name select * from temp.main.{stage}")
                    written = con.execute(f"select count(*) from temp.main.{stage}").fetchone()[0]
                    con.execute("commit")
                except Exception:
                    con.execute("rollback")
                    raise
            finally:
                con.execute(f"drop table if exists temp.main.{stage}")
        return int(written)

    def write_select(self, table: str, select_sql: str, window: Window | None = None) -> int:
        name = quote_identifier(table)
        with self.connect() as con:
            con.execute("begin transaction")
            try:
                if window is None:
                    con.execute(f"create or replace table {name} as {select_sql}")
                    written = con.execute(f"select count(*) from {name}").fetchone()[0]
                else:
                    _prepare(con, table, select_sql)
                    con.execute(f"delete from {name} where {window.predicate()}")
                    con.execute(
                        f"insert into {name} by name select * from ({select_sql}) as model "
                        f"where {window.predicate()}"
                    )
                    written = con.execute(
                        f"select count(*) from {name} where {window.predicate()}"
                    ).fetchone()[0]
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
        return int(written)


# DuckDB's row-group size. DuckDB scans a registered Arrow table one record batch per thread, and a
# Polars frame usually converts to a single batch: its insert (appending, compressing and writing the
# row groups) then ran on one thread. Cut into row-group-sized batches (zero-copy slices), the same
# insert uses every core and stores the rows in the same order (a 2.07 M-row raw table: 2.9 -> 1.6 s
# wall for the same CPU).
ROW_GROUP_ROWS = 122_880


def in_row_groups(frame: pl.DataFrame):
    """``frame`` as an Arrow table of record batches of at most ``ROW_GROUP_ROWS`` rows."""
    import pyarrow as pa

    table = frame.to_arrow()
    return pa.Table.from_batches(table.to_batches(max_chunksize=ROW_GROUP_ROWS), schema=table.schema)


def _holder(message: str) -> str:
    """The lock holder as DuckDB names it ("... held in /usr/bin/python3 (PID 4242) ...")."""
    found = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    if not found:
        return "another process (PID unknown)"
    pid = int(found.group(2))
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = found.group(1)
    return f"PID {pid} ({command[:160]})"


def _delete_condition(
    con: duckdb.DuckDBPyConnection, window: Window | None, keys: dict[str, list[Any]] | None
) -> str:
    """Rows inside the window AND matching every key list are the ones this write owns."""
    clauses = [window.predicate()] if window else []
    for i, (column, values) in enumerate((keys or {}).items()):
        con.register(f"dsop_keys_{i}", pl.DataFrame({"k": values}).to_arrow())
        clauses.append(f"{quote_identifier(column)} in (select k from dsop_keys_{i})")
    return " and ".join(clauses)


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = $t", {"t": table}
    ).fetchone()
    return bool(row and row[0])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = $t "
        "order by ordinal_position",
        {"t": table},
    ).fetchall()
    return [r[0] for r in rows]


def _prepare(con: duckdb.DuckDBPyConnection, table: str, select_sql: str) -> None:
    """Create the table from the select's shape, or add the columns a newer version introduced."""
    name = quote_identifier(table)
    if not _exists(con, table):
        con.execute(f"create table {name} as select * from ({select_sql}) as shape limit 0")
        return
    existing = set(_columns(con, table))
    described = con.execute(f"describe select * from ({select_sql}) as shape").fetchall()
    for column_name, column_type, *_ in described:
        if column_name not in existing:
            con.execute(f"alter table {name} add column {quote_identifier(column_name)} {column_type}")

"""The warehouse behind one small interface, so assets never care whether it is DuckDB or Postgres.

Assets hand Polars frames or ``select`` statements to the warehouse and say which window of which
column they own; the warehouse replaces exactly those rows in one transaction. That makes every
materialisation idempotent and lets a single-run backfill replace a whole range at once.
SQL is written in DuckDB's dialect (portable where possible); the Postgres warehouse transpiles it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

import dagster as dg
import polars as pl

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# Every asset that writes the warehouse runs in this Dagster pool: the instance config decides how many
# steps write at once (1 for DuckDB's single writer, more for Postgres).
WAREHOUSE_POOL = "dsop_warehouse"


def quote_identifier(name: str) -> str:
    """Table and column names come from code, never from files; still, refuse anything odd."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


def date_literal(value: date) -> str:
    """A date rendered for SQL from a real ``date`` object, so a partition key cannot inject SQL."""
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return f"date '{value.isoformat()}'"


@dataclass(frozen=True)
class Window:
    """Rows whose ``column`` lies in [start, end) belong to one write; ``None`` means the whole table."""

    column: str
    start: date
    end: date

    def predicate(self) -> str:
        col = quote_identifier(self.column)
        return f"{col} >= {date_literal(self.start)} and {col} < {date_literal(self.end)}"


class Warehouse(dg.ConfigurableResource, ABC):
    """What every asset may do with the warehouse. Implementations: DuckDB (default) and Postgres."""

    @property
    @abstractmethod
    def dialect(self) -> str: ...

    @abstractmethod
    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a read-only statement (DuckDB dialect, ``$name`` parameters) and return a frame."""

    @abstractmethod
    def write(
        self,
        table: str,
        frame: pl.DataFrame,
        window: Window | None = None,
        keys: dict[str, list[Any]] | None = None,
    ) -> int:
        """Replace rows of ``table`` with ``frame``: the rows inside ``window`` and matching every
        ``keys`` list (column -> values), or the whole table when neither is given. Creates the table and adds new columns on demand.
        Returns the number of rows written."""

    @abstractmethod
    def write_select(self, table: str, select_sql: str, window: Window | None = None) -> int:
        """Like ``write`` but the rows come from a ``select`` run inside the warehouse."""

    def write_batches(self, table: str, batches: Iterable[pl.DataFrame], window: Window) -> int:
        """Like ``write`` with ``window`` for a frame that comes in batches of one schema, stored in
        the order built: no row order is kept (readers sort, see ``forecast.features.in_row_order``).
        This default stacks the batches in memory; DuckDB stages them in the warehouse and Postgres
        copies each inside the transaction, so the whole frame is never held in Python."""
        parts = list(batches)
        frame = pl.concat(parts) if parts else pl.DataFrame()
        parts.clear()
        return self.write(table, frame, window=window)

    @abstractmethod
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that changes the warehouse (DDL, view creation, updates)."""

    @abstractmethod
    def table_exists(self, table: str) -> bool: ...

    @abstractmethod
    def columns(self, table: str) -> list[str]: ...

    def read_table(self, table: str, window: Window | None = None, where: str = "",
                   columns: set[str] | None = None) -> pl.DataFrame:
        """Whole table or one window of it; empty frame (no columns) when the table does not exist.
        With ``columns``, only those of them the table has, in the table's order."""
        if not self.table_exists(table):
            return pl.DataFrame()
        clauses = [c for c in (window.predicate() if window else "", where) if c]
        condition = f" where {' and '.join(clauses)}" if clauses else ""
        listed = "*" if columns is None else ", ".join(
            quote_identifier(c) for c in self.columns(table) if c in columns) or "*"
        return self.query(f"select {listed} from {quote_identifier(table)}{condition}")

    def row_count(self, table: str, window: Window | None = None) -> int:
        if not self.table_exists(table):
            return 0
        condition = f" where {window.predicate()}" if window else ""
        return int(self.query(f"select count(*) as n from {quote_identifier(table)}{condition}")["n"][0])

"""Which rows a partitioned load keeps, and which rows repeat a key: the two things a scoped parse
(``reader.parse_table`` with a ``PartitionScope``) must know about the whole file before it types only
the scope's rows."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

UNDATED = "undated"  # the partition key of a row without a readable date


@dataclass(frozen=True)
class PartitionScope:
    """The rows a partitioned load keeps: those of its window's partitions (``keys``), the undated
    ones and those in no partition of the table's grain (``all_keys``): every run re-reports the
    last two, so they are never lost whichever partitions run."""

    keys: tuple[str, ...]
    all_keys: tuple[str, ...]

    def holds(self, partition_key: pl.Expr) -> pl.Expr:
        """Whether a row with this ``partition_key_expr`` is in scope (UNDATED is no partition's key)."""
        return partition_key.is_in(list(self.keys)) | ~partition_key.is_in(list(self.all_keys))


def repeated_key_lines(frame: pl.DataFrame, key: tuple[str, ...]) -> pl.Series:
    """Per row, the line its key first appeared on in its file when the row repeats it (null
    otherwise). A row with another error still counts as a first occurrence; a blank key part
    repeats nothing.

    Only rows whose (key, file) 64-bit hash repeats are grouped exactly: sorting the hashes finds
    those ~4x faster than ``is_duplicated`` on 2 M rows, and a row that merely shares a hash is
    first in its own exact group, so stays null.
    """
    group = [*key, "source_file"]
    hashes = frame.select(pl.struct(group).hash()).to_series()
    ordered = hashes.sort()
    repeated = ordered.filter(ordered == ordered.shift(1))
    complete = frame.select(pl.all_horizontal([pl.col(k).is_not_null() for k in key])).to_series()
    candidates = (hashes.is_in(repeated.implode()) & complete).arg_true()
    first = pl.Series("first_line", [], pl.Int64).extend_constant(None, frame.height)
    if candidates.len():
        first_line = pl.col("source_line").min().over(group)
        lines = frame.select(*group, "source_line")[candidates].select(
            pl.when(pl.col("source_line") != first_line).then(first_line)).to_series()
        first = first.scatter(candidates, lines)
    return first

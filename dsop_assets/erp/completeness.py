"""Nothing lost: rows outside the partitions are quarantined, and every load accounts for every row.

A row is in exactly one place after a load: the table (valid), ``erp_rejected_rows`` (with a reason),
or replaced by the same key in a newer file (superseded). The rows-accounted check counts the first
two in the warehouse itself, after the write, and compares with the rows the files hold.
"""

from __future__ import annotations

import polars as pl

from dsop_resources.erp.contract import TableContract
from dsop_resources.erp.scope import UNDATED

ROWS_ACCOUNTED_CHECK = "rows_accounted_for"
OUT_OF_RANGE = "out_of_range"


def split_out_of_range(
    valid: pl.DataFrame, table: TableContract, keys: list[str], first_day: str, last_key: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows inside the partitions, rows outside them as quarantine records).

    ``keys`` are every partition key of the table's grain; a row whose week/month is not one of them
    lies before the history start or after the newest partition, so no run would ever load it.
    """
    column = table.partition_column
    period = _period_key(table)
    outside = ~period.is_in(keys)
    before = pl.col(column).cast(pl.Utf8) < first_day
    reason = (
        pl.when(before)
        .then(pl.format(
            f"{column} {{}} is before the history start {first_day}: set DSOP_HISTORY_START to "
            "this export's first day to load it", pl.col(column)))
        .otherwise(pl.format(
            f"{column} {{}} is after the newest partition ({last_key}): a date in the future?", pl.col(column)))
    )
    bad = valid.filter(outside)
    rejected = bad.select(
        pl.lit(table.name).alias("source_table"),
        pl.col("source_file").alias("file_name"),
        pl.col("source_line").alias("line_number"),
        pl.struct(table.column_names).struct.json_encode().alias("raw_values"),
        reason.alias("reason"),
        pl.lit(OUT_OF_RANGE).alias("partition_key"),
    )
    return valid.filter(~outside), rejected


def _period_key(table: TableContract) -> pl.Expr:
    day = pl.col(table.partition_column)
    start = day.dt.truncate("1w") if table.partition_grain == "week" else day.dt.truncate("1mo")
    return start.cast(pl.Utf8)


def scope_keys(records: pl.DataFrame, partition_keys: list[str]) -> pl.Series:
    """A record's partition key, or ``out_of_range`` where no partition holds it."""
    key = pl.col("partition_key")
    return records.select(
        pl.when((key == UNDATED) | key.is_in(partition_keys)).then(key).otherwise(pl.lit(OUT_OF_RANGE))
    ).to_series()


def accounting(rows_in_files: int, loaded: int, rejected: int, superseded: int) -> tuple[bool, dict]:
    """Whether every row of the files is loaded, rejected or superseded, with the figures."""
    metadata = {
        "rows_in_files": rows_in_files,
        "rows_loaded": loaded,
        "rows_rejected": rejected,
        "rows_superseded_by_newer_file": superseded,
        "unaccounted": rows_in_files - loaded - rejected - superseded,
    }
    return metadata["unaccounted"] == 0, metadata

"""Reading generated CSVs exactly as written (all columns as text)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dsop_resources.erp.contract import CONTRACTS


def read_table(out: Path, table: str) -> pl.DataFrame:
    return pl.read_csv(out / f"{table}.csv", infer_schema=False)


def typed(out: Path, table: str) -> pl.DataFrame:
    df = read_table(out, table)
    casts = []
    for col in CONTRACTS[table].columns:
        if col.dtype == "float":
            casts.append(pl.col(col.name).cast(pl.Float64))
        elif col.dtype == "date":
            casts.append(pl.col(col.name).str.to_date("%Y-%m-%d"))
    return df.with_columns(casts)

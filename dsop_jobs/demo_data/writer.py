"""CSV output in the ERP contract's layout: English or Korean file names and headers, UTF-8 or CP949."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from pathlib import Path

import polars as pl
import yaml

from dsop_resources.erp.contract import CONTRACTS
from dsop_resources.erp.mapping import DEFAULT_MAPPING

# The reader's own mapping file, so generated headers are always ones the reader knows.
MAPPING = DEFAULT_MAPPING


@lru_cache(maxsize=1)
def _mapping() -> dict:
    return yaml.safe_load(MAPPING.read_text(encoding="utf-8"))


def file_name(table: str, language: str) -> str:
    stems = _mapping()[table]["files"]
    return f"{stems[1] if language == 'ko' else stems[0]}.csv"


def headers(table: str, language: str) -> list[str]:
    cols = CONTRACTS[table].column_names
    if language != "ko":
        return cols
    aliases = _mapping()[table]["headers"]
    return [aliases[c][0] for c in cols]


def write_table(out_dir: Path, table: str, df: pl.DataFrame, language: str, encoding: str) -> tuple[str, int]:
    """Writes one ERP table; returns (file name, data rows)."""
    name = file_name(table, language)
    df = df.select(CONTRACTS[table].column_names)
    df.columns = headers(table, language)
    path = out_dir / name
    if encoding.lower().replace("-", "") in ("utf8",):
        df.write_csv(path, line_terminator="\n")
    else:
        path.write_bytes(df.write_csv(line_terminator="\n").encode(encoding))
    return name, df.height


def write_plain(path: Path, df: pl.DataFrame) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path, line_terminator="\n")
    return df.height


def append_rows(path: Path, rows: list[list[str]], encoding: str) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    with path.open("ab") as fh:
        fh.write(buf.getvalue().encode(encoding))

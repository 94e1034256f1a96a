"""Parse and validate ERP exports against the contract, keeping every bad row with its reason.

Valid rows load; each rejected row goes to the quarantine with file, line, raw values and reason.
Only a file whose header lacks required columns stops the load, with a message naming them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dsop_assets.erp.contract import TableContract
from dsop_assets.erp.mapping import _norm, find_files, header_lookup

REJECTED_SCHEMA = {
    "source_table": pl.Utf8,
    "file_name": pl.Utf8,
    "line_number": pl.Int64,
    "raw_values": pl.Utf8,
    "reason": pl.Utf8,
    "partition_key": pl.Utf8,
}
_POLARS_TYPES = {"str": pl.Utf8, "date": pl.Date, "float": pl.Float64, "int": pl.Int64}


class ErpContractError(ValueError):
    """An export that cannot be read at all (missing file or required header columns)."""


@dataclass
class ParsedTable:
    table: TableContract
    valid: pl.DataFrame
    rejected: pl.DataFrame
    files: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)


def empty_frame(table: TableContract) -> pl.DataFrame:
    schema = {c.name: _POLARS_TYPES[c.dtype] for c in table.columns}
    return pl.DataFrame(schema={**schema, "source_file": pl.Utf8, "source_line": pl.Int64})


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first, CP949 otherwise: Korean ERPs export either."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp949"), "cp949"
    except UnicodeDecodeError as error:
        raise ErpContractError(
            f"{path.name}: neither UTF-8 nor CP949 (byte {error.start}); re-export as UTF-8 or CP949"
        ) from None


def read_export(path: Path, table: TableContract, mapping: dict) -> tuple[pl.DataFrame, str, list[str]]:
    """One file as strings with canonical column names plus its physical line numbers."""
    text, encoding = decode(path.read_bytes(), path)
    frame = pl.read_csv(
        io.StringIO(text), infer_schema=False, truncate_ragged_lines=True
    )
    lookup = header_lookup(table, mapping)
    renames: dict[str, str] = {}
    ignored: list[str] = []
    for header in frame.columns:
        canonical = lookup.get(_norm(header))
        if canonical and canonical not in renames.values():
            renames[header] = canonical
        else:
            ignored.append(header)
    missing = [c for c in table.required_columns if c not in renames.values()]
    if missing:
        raise ErpContractError(
            f"{path.name}: header lacks required column(s) {', '.join(missing)} for table "
            f"{table.name} (found: {', '.join(frame.columns)}); see docs/erp_contract.md"
        )
    frame = frame.select(list(renames)).rename(renames)
    for column in table.column_names:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(column))
    # Header is line 1, so the first record is line 2.
    frame = frame.select(table.column_names).with_row_index("source_line", offset=2).with_columns(
        pl.col("source_line").cast(pl.Int64), pl.lit(path.name).alias("source_file")
    )
    return frame, encoding, ignored


def parse_date(col: str) -> pl.Expr:
    text = pl.col(col).str.strip_chars().str.replace_all(r"[./]", "-")
    text = pl.when(text.str.contains(r"^\d{8}$")).then(
        text.str.slice(0, 4) + "-" + text.str.slice(4, 2) + "-" + text.str.slice(6, 2)
    ).otherwise(text)
    return text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)


def _parse_number(col: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.replace_all(",", "").cast(dtype, strict=False)


def type_rows(frame: pl.DataFrame, table: TableContract) -> pl.DataFrame:
    """Typed columns plus a ``_reasons`` list column naming every rule a row breaks."""
    typed, reasons = [], []
    for col in table.columns:
        raw = pl.col(col.name).str.strip_chars()
        blank = raw.is_null() | (raw == "")
        if col.dtype == "date":
            value = parse_date(col.name)
        elif col.dtype in ("float", "int"):
            value = _parse_number(col.name, _POLARS_TYPES[col.dtype])
        else:
            value = pl.when(blank).then(None).otherwise(raw)
        typed.append(value.alias(col.name))
        if col.required:
            reasons.append(pl.when(blank).then(pl.lit(f"missing required {col.name}")))
        if col.dtype != "str":
            reasons.append(
                pl.when(~blank & value.is_null()).then(
                    pl.format(f"unparseable {col.dtype} in {col.name}: '{{}}'", pl.col(col.name))
                )
            )
        if col.nonnegative:
            reasons.append(pl.when(value < 0).then(pl.format(f"negative {col.name}: {{}}", value)))
        if col.allowed:
            reasons.append(
                pl.when(~blank & ~raw.is_in(list(col.allowed))).then(
                    pl.format(f"{col.name} must be one of {'/'.join(col.allowed)}, not '{{}}'", raw)
                )
            )
    raw_json = pl.struct(table.column_names).struct.json_encode().alias("_raw")
    return frame.select(
        *typed,
        "source_file",
        "source_line",
        raw_json,
        pl.concat_list(reasons).list.drop_nulls().alias("_reasons"),
    )


def check_references(frame: pl.DataFrame, table: TableContract, known: dict[str, pl.Series]) -> pl.DataFrame:
    """Add a reason for every value the referenced master does not know."""
    checks = []
    for col in table.columns:
        if not col.references or col.references not in known:
            continue
        ids = known[col.references]
        checks.append(
            pl.when(pl.col(col.name).is_not_null() & ~pl.col(col.name).is_in(ids.implode())).then(
                pl.format(f"unknown {col.name} '{{}}' (not in {col.references.split('.')[0]})", pl.col(col.name))
            )
        )
    if not checks:
        return frame
    return frame.with_columns(pl.concat_list([pl.col("_reasons"), pl.concat_list(checks).list.drop_nulls()]).alias("_reasons"))


def check_duplicates(frame: pl.DataFrame, table: TableContract) -> pl.DataFrame:
    """Within one file a repeated key is an error (the first stays); across files the newer file wins."""
    key = list(table.key)
    first_line = pl.col("source_line").min().over([*key, "source_file"])
    is_repeat = pl.col("source_line") != first_line
    label = pl.concat_str([pl.col(k).cast(pl.Utf8).fill_null("") for k in key], separator="/")
    reason = pl.when(is_repeat & pl.all_horizontal([pl.col(k).is_not_null() for k in key])).then(
        pl.format(f"duplicate key {'/'.join(key)}={{}} (first on line {{}})", label, first_line)
    )
    return frame.with_columns(pl.concat_list([pl.col("_reasons"), pl.concat_list([reason]).list.drop_nulls()]).alias("_reasons"))


def partition_key_expr(table: TableContract) -> pl.Expr:
    if not table.partition_column:
        return pl.lit("all")
    day = pl.col(table.partition_column)
    start = day.dt.truncate("1w") if table.partition_grain == "week" else day.dt.truncate("1mo")
    return pl.when(day.is_null()).then(pl.lit("undated")).otherwise(start.cast(pl.Utf8))


def parse_table(
    erp_dir: Path, table: TableContract, mapping: dict, known: dict[str, pl.Series]
) -> ParsedTable:
    paths = find_files(erp_dir, table, mapping)
    if not paths:
        if table.optional_table:
            return ParsedTable(table, empty_frame(table), pl.DataFrame(schema=REJECTED_SCHEMA))
        stems = ", ".join(f"{s}*.csv" for s in [table.name, *mapping.get(table.name, {}).get("files", [])])
        raise ErpContractError(f"no export for table {table.name} in {erp_dir} (expected {stems})")
    parts, encodings, ignored = [], {}, {}
    for order, path in enumerate(paths):
        frame, encodings[path.name], ignored_cols = read_export(path, table, mapping)
        if ignored_cols:
            ignored[path.name] = ignored_cols
        parts.append(frame.with_columns(pl.lit(order).alias("_file_order")))
    frame = pl.concat(parts)
    order = frame["_file_order"]
    typed = type_rows(frame, table).with_columns(order.alias("_file_order"))
    typed = check_duplicates(check_references(typed, table, known), table)
    typed = typed.with_columns(partition_key_expr(table).alias("_partition_key"))
    bad = typed.filter(pl.col("_reasons").list.len() > 0)
    good = typed.filter(pl.col("_reasons").list.len() == 0)
    # A newer file replaces the rows of an older one that share a key.
    good = good.sort(["_file_order", "source_line"]).unique(subset=list(table.key), keep="last", maintain_order=True)
    rejected = bad.select(
        pl.lit(table.name).alias("source_table"),
        pl.col("source_file").alias("file_name"),
        pl.col("source_line").alias("line_number"),
        pl.col("_raw").alias("raw_values"),
        pl.col("_reasons").list.join("; ").alias("reason"),
        pl.col("_partition_key").alias("partition_key"),
    )
    valid = good.select(*table.column_names, "source_file", "source_line")
    return ParsedTable(table, valid, rejected, [p.name for p in paths], encodings, ignored)

"""Read and validate the network CSVs, keeping every bad row with its file, line and reason.

Strict by design: a value must be exactly a number or an ISO date. ``1,5``, ``NaN``, ``inf``,
``2024/01/05`` or a truncated line are rejected, never coerced. Rows in = rows loaded + rows rejected.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dsop_assets.erp.contract import TableContract
from dsop_assets.network.contract import NETWORK_TABLES, PLANT_COLUMNS, WAREHOUSE_COLUMNS

REJECTED_SCHEMA = {"source_table": pl.Utf8, "file_name": pl.Utf8, "line_number": pl.Int64,
                   "raw_values": pl.Utf8, "reason": pl.Utf8}
_TYPES = {"str": pl.Utf8, "date": pl.Date, "float": pl.Float64, "int": pl.Int64}
_NUMBER = {"float": r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$", "int": r"^-?\d+$"}


class NetworkContractError(ValueError):
    """A file that cannot be read at all: missing, not UTF-8, or lacking a required column."""


@dataclass
class NetworkInputs:
    tables: dict[str, pl.DataFrame]
    rejected: pl.DataFrame

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def _read(path: Path, table: TableContract) -> pl.DataFrame:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NetworkContractError(f"{path.name}: not UTF-8 (byte {error.start})") from None
    lines = text.splitlines()
    header = [h.strip() for h in lines[0].split(",")] if lines else []
    missing = [c for c in table.required_columns if c not in header]
    if missing:
        raise NetworkContractError(f"{path.name}: header lacks required column(s) {', '.join(missing)} "
                                   f"(found: {', '.join(header)}); see docs/network_contract.md")
    frame = pl.read_csv(io.StringIO(text), infer_schema=False, truncate_ragged_lines=True)
    frame = frame.rename({c: c.strip() for c in frame.columns})
    # A short (truncated) line is padded with nulls by polars: count fields so it can be rejected.
    fields = [len(line.split(",")) for line in lines[1:] if line.strip()]
    frame = frame.with_columns(pl.Series("_fields", fields[: frame.height], dtype=pl.Int64))
    for col in table.column_names:
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(col))
    return frame.select(*table.column_names, "_fields").with_row_index("source_line", offset=2).with_columns(
        pl.col("source_line").cast(pl.Int64), pl.lit(path.name).alias("source_file"), pl.lit(len(header)).alias("_width"))


def _typed(frame: pl.DataFrame, table: TableContract) -> pl.DataFrame:
    typed, reasons = [], [pl.when(pl.col("_fields") < pl.col("_width")).then(pl.lit("truncated line"))]
    for col in table.columns:
        raw = pl.col(col.name).str.strip_chars()
        blank = raw.is_null() | (raw == "")
        if col.dtype == "date":
            ok = raw.str.contains(r"^\d{4}-\d{2}-\d{2}$")
            value = pl.when(ok).then(raw.str.to_date("%Y-%m-%d", strict=False))
        elif col.dtype in _NUMBER:
            ok = raw.str.contains(_NUMBER[col.dtype])
            value = pl.when(ok).then(raw.cast(_TYPES[col.dtype], strict=False))
        else:
            value = pl.when(~blank).then(raw)
        typed.append(value.alias(col.name))
        if col.required:
            reasons.append(pl.when(blank).then(pl.lit(f"missing required {col.name}")))
        if col.dtype != "str":
            reasons.append(pl.when(~blank & value.is_null()).then(
                pl.format(f"not an exact {col.dtype} in {col.name}: '{{}}'", raw)))
        if col.nonnegative:
            reasons.append(pl.when(value < 0).then(pl.format(f"negative {col.name}: {{}}", raw)))
        if col.allowed:
            reasons.append(pl.when(~blank & ~raw.is_in(list(col.allowed))).then(
                pl.format(f"{col.name} must be one of {'/'.join(col.allowed)}, not '{{}}'", raw)))
    raw_json = pl.struct(table.column_names).struct.json_encode().alias("_raw")
    out = frame.select(*typed, "source_file", "source_line", raw_json, pl.concat_list(reasons).alias("_reasons"))
    return out.with_columns(_table_rules(table.name).alias("_extra"))


def _table_rules(name: str) -> pl.Expr:
    """Cross-column rules the column types cannot say."""
    if name == "network_city":
        rules = [pl.when(pl.col("latitude").abs() > 90).then(pl.lit("latitude outside -90..90")),
                 pl.when(pl.col("longitude").abs() > 180).then(pl.lit("longitude outside -180..180"))]
    elif name == "network_site":
        plant = pl.col("site_type") == "plant"
        rules = [pl.when(plant & pl.col(c).is_null()).then(pl.lit(f"plant without {c}")) for c in PLANT_COLUMNS]
        rules += [pl.when((pl.col("site_type") == "warehouse") & pl.col(c).is_null()).then(pl.lit(f"warehouse without {c}"))
                  for c in WAREHOUSE_COLUMNS]
    elif name == "network_sku":
        rules = [pl.when(pl.col("life_days") < 1).then(pl.lit("life_days must be at least 1"))]
    elif name == "network_mode":
        rules = [pl.when(pl.col("speed_km_per_day") <= 0).then(pl.lit("speed_km_per_day must be positive"))]
    elif name == "network_breakdown":
        rules = [pl.when(pl.col("end_date") < pl.col("start_date")).then(pl.lit("end_date before start_date"))]
    else:
        rules = [pl.lit(None, dtype=pl.Utf8)]
    return pl.concat_list(rules)


def _references(frame: pl.DataFrame, table: TableContract, known: dict[str, pl.Series]) -> pl.Expr:
    checks = [pl.lit(None, dtype=pl.Utf8)]
    for col in table.columns:
        if col.references and col.references in known:
            checks.append(pl.when(pl.col(col.name).is_not_null() & ~pl.col(col.name).is_in(known[col.references].implode()))
                          .then(pl.format(f"unknown {col.name} '{{}}' (not in {col.references.split('.')[0]})", pl.col(col.name))))
    return pl.concat_list(checks)


def parse_network_table(path: Path, table: TableContract, known: dict[str, pl.Series]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows, rejected rows) of one file; the first of two rows sharing a key stays."""
    typed = _typed(_read(path, table), table)
    key = list(table.key)
    first = pl.col("source_line").min().over(key)
    label = pl.concat_str([pl.col(k).cast(pl.Utf8).fill_null("") for k in key], separator="/")
    duplicate = pl.when((pl.col("source_line") != first) & pl.all_horizontal([pl.col(k).is_not_null() for k in key])).then(
        pl.format(f"duplicate key {'/'.join(key)}={{}} (first on line {{}})", label, first))
    typed = typed.with_columns(pl.concat_list([pl.col("_reasons"), pl.col("_extra"), _references(typed, table, known),
                                               pl.concat_list([duplicate])]).list.drop_nulls().alias("_reasons"))
    bad = typed.filter(pl.col("_reasons").list.len() > 0)
    rejected = bad.select(pl.lit(table.name).alias("source_table"), pl.col("source_file").alias("file_name"),
                          pl.col("source_line").alias("line_number"), pl.col("_raw").alias("raw_values"),
                          pl.col("_reasons").list.join("; ").alias("reason"))
    valid = typed.filter(pl.col("_reasons").list.len() == 0).select(table.column_names)
    return valid, rejected


def read_network(network_dir: Path) -> NetworkInputs:
    """Every table of the contract from ``network_dir``; masters first so references can be checked."""
    network_dir = Path(network_dir)
    tables, rejected, known = {}, [pl.DataFrame(schema=REJECTED_SCHEMA)], {}
    for table in NETWORK_TABLES:
        path = network_dir / f"{table.name}.csv"
        if not path.exists():
            raise NetworkContractError(f"no file {path.name} in {network_dir} (table {table.name}); see docs/network_contract.md")
        valid, bad = parse_network_table(path, table, known)
        tables[table.name] = valid
        rejected.append(bad)
        known[f"{table.name}.{table.key[0]}"] = valid[table.key[0]]
    return NetworkInputs(tables, pl.concat(rejected))

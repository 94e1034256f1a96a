"""Read and validate the network CSVs with the ERP reader's strict parsing, keeping every bad row with
its file, line and reason.

The ERP reader (``dsop_resources.erp.reader``) does the file work: records split column-wise (a truncated
or ragged line, malformed quoting, a cut-off last line are rejected, never padded), values typed
strictly (``1,5``, ``NaN``, ``inf``, text after a date are rejected, never coerced), references and
repeated keys checked. This module adds only the network's cross-column rules. Rows in = rows loaded +
rows rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dsop_resources.erp.contract import TableContract
from dsop_resources.erp.reader import (
    ErpContractError,
    _add_reasons,
    check_duplicates,
    check_references,
    read_export,
    type_rows,
)
from dsop_assets.network.contract import (
    NETWORK_TABLES,
    PLANT_COLUMNS,
    WAREHOUSE_COLUMNS,
)

REJECTED_SCHEMA = {"source_table": pl.Utf8, "file_name": pl.Utf8, "line_number": pl.Int64,
                   "raw_values": pl.Utf8, "reason": pl.Utf8}


class NetworkContractError(ValueError):
    """A file that cannot be read at all: missing, neither UTF-8 nor CP949, or lacking a required column."""


@dataclass
class NetworkInputs:
    tables: dict[str, pl.DataFrame]
    rejected: pl.DataFrame

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def _table_rules(name: str) -> list[pl.Expr]:
    """Cross-column rules the column types cannot say (each a reason or null)."""
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
        rules = []
    return rules


def parse_network_table(path: Path, table: TableContract, known: dict[str, pl.Series]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows, rejected rows) of one file; the first of two rows sharing a key stays."""
    try:
        frame = read_export(path, table, {})[0]
    except ErpContractError as error:
        raise NetworkContractError(str(error).replace("docs/erp_contract.md", "docs/network_contract.md")) from None
    typed = check_duplicates(check_references(type_rows(frame, table), table, known), table)
    rules = _table_rules(table.name)
    if rules:
        # A record with a structural problem has that problem as its one reason (as in the ERP reader).
        typed = typed.with_columns(pl.when(pl.col("_problem").is_null()).then(_add_reasons(rules)).otherwise(pl.col("_reasons")).alias("_reasons"))
    raw_json = (pl.when(pl.col("_problem").is_null())
                .then(pl.struct([pl.col(f"_raw_{c}").alias(c) for c in table.column_names]).struct.json_encode())
                .otherwise(pl.struct(pl.col("_line_text").alias("raw_line")).struct.json_encode()))
    bad = typed.filter(pl.col("_reasons").is_not_null())
    rejected = bad.select(pl.lit(table.name).alias("source_table"), pl.col("source_file").alias("file_name"),
                          pl.col("source_line").alias("line_number"), raw_json.alias("raw_values"), pl.col("_reasons").alias("reason"))
    valid = typed.filter(pl.col("_reasons").is_null()).select(table.column_names)
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

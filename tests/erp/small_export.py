"""A hand-written ERP export small enough to reason about line by line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from dsop_resources.erp.contract import CONTRACTS
from dsop_resources.erp.mapping import DEFAULT_MAPPING

MASTERS = {
    "product_master": [
        ["P1", "Slurry A", "finished_good", "CMP", "L", "100", "150", "KRW", "L1", "0.5", "10"],
        ["P2", "Probe B", "finished_good", "PROBE", "EA", "2000", "3500", "KRW", "L1", "2", "1"],
        ["M1", "Silica", "material", "RAW", "KG", "5", "", "KRW", "", "", "25"],
    ],
    "customer": [["C1", "Fab One", "KR"], ["C2", "Foundry Two", "TW"]],
    "supplier": [["S1", "Chem Co", "JP"]],
    "bom": [["P1", "M1", "0.8"], ["P2", "M1", "1.5"]],
}
MASTER_COLUMNS = {
    "product_master": ["product_id", "product_name", "product_type", "product_group", "unit", "unit_cost",
                       "unit_price", "currency", "production_line", "hours_per_unit", "lot_size"],
    "customer": ["customer_id", "customer_name", "country"],
    "supplier": ["supplier_id", "supplier_name", "country"],
    "bom": ["parent_product_id", "component_product_id", "qty_per"],
}
ORDER_COLUMNS = ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price", "currency",
                 "requested_delivery_date"]
GOOD_ORDERS = [
    ["O1", "2024-12-30", "C1", "P1", "10", "150", "KRW", "2025-01-20"],  # ISO 2025-W01
    ["O2", "2025-01-01", "C2", "P1", "5", "150", "KRW", "2025-01-15"],
    ["O3", "2025-01-06", "C1", "P2", "2", "3500", "KRW", "2025-02-01"],
    ["O4", "2024-12-29", "C2", "P2", "1", "3500", "KRW", "2025-01-10"],  # ISO 2024-W52
]
# Each bad row and the reason fragment the quarantine must give, in file order (lines 6..12).
BAD_ORDERS = [
    (["", "2025-01-02", "C1", "P1", "1", "150", "KRW", "2025-01-20"], "missing required order_id"),
    (["O5", "2025-13-45", "C1", "P1", "1", "150", "KRW", "2025-01-20"], "unparseable date in order_date"),
    (["O6", "2025-01-02", "C1", "P1", "12x", "150", "KRW", "2025-01-20"], "unparseable float in order_qty"),
    (["O7", "2025-01-02", "C1", "P1", "-3", "150", "KRW", "2025-01-20"], "negative order_qty"),
    (["O8", "2025-01-02", "C1", "P9", "1", "150", "KRW", "2025-01-20"], "unknown product_id 'P9'"),
    (["O9", "2025-01-02", "C7", "P1", "1", "150", "KRW", "2025-01-20"], "unknown customer_id 'C7'"),
    (["O2", "2025-01-03", "C1", "P1", "1", "150", "KRW", "2025-01-20"], "duplicate key order_id=O2"),
]


def _headers(table: str, columns: list[str], language: str) -> list[str]:
    if language == "en":
        return columns
    mapping = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))[table]["headers"]
    return [mapping[c][0] for c in columns]


def _file_name(table: str, language: str) -> str:
    if language == "en":
        return f"{table}.csv"
    return yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))[table]["files"][1] + ".csv"


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_small_export(folder: Path, language: str = "en", encoding: str = "utf-8", bad_rows: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in MASTERS.items():
        write_csv(folder / _file_name(table, language), _headers(table, MASTER_COLUMNS[table], language), rows, encoding)
    orders = GOOD_ORDERS + ([row for row, _ in BAD_ORDERS] if bad_rows else [])
    write_csv(folder / _file_name("daily_order", language), _headers("daily_order", ORDER_COLUMNS, language), orders, encoding)
    for table in ("daily_revenue", "daily_production", "inventory", "purchase_order"):
        contract = CONTRACTS[table]
        write_csv(folder / _file_name(table, language), _headers(table, contract.required_columns, language), [], encoding)
    return folder

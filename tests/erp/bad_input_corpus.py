"""A corpus of broken ERP exports: every kind of bad row a tester found, with the reason and line the
quarantine must give, run through the real raw assets on any warehouse.

Lines are written verbatim (not through a CSV writer) so ragged rows, stray quotes and cut-off
lines reach the loader exactly as a broken export would. The expected line of each row is counted
here from the text written, independently of the loader.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_assets.erp.assets import QUARANTINE_TABLE, raw_assets
from dsop_assets.erp.completeness import ROWS_ACCOUNTED_CHECK
from dsop_resources.erp_files import ErpExportFolder
from tests.erp.small_export import _file_name, _headers, write_small_export

ORDER_COLUMNS = ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price", "currency",
                 "requested_delivery_date"]
ASSETS = {a.key.to_user_string(): a for a in raw_assets}
MASTERS = [ASSETS[n] for n in ("product_master", "customer", "supplier", "production_line", "bom")]
RANGE = {"dagster/asset_partition_range_start": "2024-12-23", "dagster/asset_partition_range_end": "2025-01-06"}


def _row(order_id, day="2025-01-02", customer="C1", product="P1", qty="1", price="150", currency="KRW",
         due="2025-01-20") -> str:
    return ",".join([order_id, day, customer, product, qty, price, currency, due])


# (record text as written, reason fragment or None for a valid row, order_qty loaded if valid)
ORDERS: list[tuple[str, str | None, float | None]] = [
    (_row("G01", qty="10"), None, 10.0),
    (_row("G02", qty='"1,234.5"'), None, 1234.5),  # quoted, correctly grouped thousands
    (_row("G03", qty="1234567"), None, 1234567.0),  # plain digits
    (_row("G04", day="2024/12/30", due="20250120"), None, 1.0),  # layouts ERPs use
    (_row("G05", currency='"KRW"'), None, 1.0),
    (_row("B01", qty="NaN"), "non-finite number in order_qty: 'NaN'", None),
    (_row("B02", qty="inf"), "non-finite number in order_qty: 'inf'", None),
    (_row("B03", price="-inf"), "non-finite number in unit_price: '-inf'", None),
    (_row("B04", qty='"1,5"'), "badly grouped thousands in order_qty: '1,5'", None),
    (_row("B05", qty='"12,34,567"'), "badly grouped thousands in order_qty: '12,34,567'", None),
    (_row("B06", qty="1e3"), "unparseable float in order_qty: '1e3'", None),
    (_row("B07", qty="12x"), "unparseable float in order_qty: '12x'", None),
    (_row("B08", day="2025-01-01xyz"), "trailing text after date in order_date: '2025-01-01xyz'", None),
    (_row("B09", day="2025-13-45"), "unparseable date in order_date: '2025-13-45'", None),
    (_row("B10", due="2025-1-2"), "unparseable date in requested_delivery_date: '2025-1-2'", None),
    (_row("B11", due="1,234"), "too many fields: 9 (header has 8)", None),  # unquoted thousands: a ragged row
    (",".join(["B12", "2025-01-02", "C1", "P1", "1", "150", "KRW"]), "too few fields: 7 (header has 8)", None),
    (_row("B13", customer='"C1"x'), "malformed quoting", None),
    (_row(""), "missing required order_id", None),
    (_row("B15", qty="-3"), "negative order_qty: -3", None),
    (_row("B16", product="P9"), "unknown product_id 'P9'", None),
    (_row("B17", customer="C7"), "unknown customer_id 'C7'", None),
    (_row("G01", qty="99"), "duplicate key order_id=G01 (first on line 2)", None),
    (_row("B19", day="2099-03-02"), "order_date 2099-03-02 is after the newest partition", None),
    (_row("B20", day="2019-05-06"), "order_date 2019-05-06 is before the history start", None),
    (_row("B21", currency="KR\x00W"), "NUL byte in currency", None),
    ('B22,2025-01-02,C1,P1,1,150,"KRW\nEUR",2025-01-20', None, 1.0),  # a quoted line break: valid, 2 lines
    (_row("B23", qty="7 8"), "unparseable float in order_qty: '7 8'", None),  # after it, lines still true
    ("", None, None),  # a blank line is no row
    (_row("B24", price="+150"), "unparseable float in unit_price: '+150'", None),
    (_row("G06", qty="12"), None, 12.0),
    (_row("B25", qty="1234.0")[:-10], "truncated line: the file's last line has no line break", None),
]
# A second export of the same table, cut off inside a quoted value.
CUT_FILE = [(_row("G07", qty="5"), None, 5.0), ('G08,2025-01-03,C1,P1,"12', "truncated line: a quoted value is never closed", None)]


def _write(path: Path, header: list[str], records: list[tuple[str, str | None, float | None]], encoding: str,
           final_break: bool) -> list[tuple[int, str, str | None, float | None]]:
    """Writes the file; returns (line, text, reason, qty) per record, lines counted from the text."""
    text = ",".join(header) + "\n"
    placed = []
    for record, reason, qty in records:
        line = text.count("\n") + 1
        text += record + "\n"
        if record:
            placed.append((line, record, reason, qty))
    if not final_break:
        text = text[:-1]
    path.write_bytes(text.encode(encoding))
    return placed


def write_corpus(folder: Path, language: str, encoding: str) -> dict[str, list]:
    write_small_export(folder, language=language, encoding=encoding)
    header = _headers("daily_order", ORDER_COLUMNS, language)
    main = folder / _file_name("daily_order", language)
    inbox = folder / "inbox"
    inbox.mkdir()
    cut = inbox / (main.stem + "_cut.csv")
    placed = {main.name: _write(main, header, ORDERS, encoding, final_break=False),
              cut.name: _write(cut, header, CUT_FILE, encoding, final_break=False)}
    os.utime(cut, (2_000_000_000, 2_000_000_000))  # the newer export
    return placed


def run_corpus(folder: Path, warehouse, instance, language: str, encoding: str) -> None:
    """Loads the corpus through the raw assets and checks every row's fate and the exact totals."""
    placed = write_corpus(folder, language, encoding)
    resources = {"warehouse": warehouse, "erp": ErpExportFolder(erp_dir=str(folder))}
    assert dg.materialize(MASTERS, resources=resources, instance=instance).success
    result = dg.materialize([ASSETS["daily_order"]], resources=resources, instance=instance, tags=RANGE)
    assert result.success

    expected_bad = {(f, line, reason) for f, rows in placed.items() for line, _, reason, _ in rows if reason}
    rejected = warehouse.query(
        f"select file_name, line_number, reason, raw_values from {QUARANTINE_TABLE} "
        "where source_table = 'daily_order' order by file_name, line_number")
    got = list(zip(rejected["file_name"], rejected["line_number"], rejected["reason"]))
    assert [(f, line) for f, line, _ in got] == sorted((f, line) for f, line, _ in expected_bad)
    for (file_name, line, reason), (_, _, fragment) in zip(got, sorted(expected_bad)):
        assert fragment in reason, (file_name, line, reason, fragment)
    assert "\\u0000" in rejected.filter(pl.col("reason").str.contains("NUL"))["raw_values"][0]

    orders = warehouse.query("select order_id, order_qty from daily_order order by order_id")
    expected_good = {text.split(",")[0]: qty for rows in placed.values() for _, text, reason, qty in rows if reason is None}
    assert dict(zip(orders["order_id"], orders["order_qty"])) == expected_good  # 0 lost, 0 bad values loaded
    assert all(v == v and abs(v) != float("inf") for v in orders["order_qty"])

    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == ROWS_ACCOUNTED_CHECK and check.passed
    rows_in_files = sum(len(rows) for rows in placed.values())
    assert check.metadata["rows_in_files"].value == rows_in_files == len(expected_good) + len(expected_bad)
    metadata = result.asset_materializations_for_node("daily_order")[0].metadata
    assert metadata["rejected_rows"].value == len(expected_bad)

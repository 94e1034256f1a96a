"""A scoped parse (one partition window) gives exactly the rows, reasons and line numbers the whole
file's parse gives for that window.

The generated exports put every kind of row the scope has to place on both sides of a window's
edges: repeats whose first occurrence lies outside the window and the other way round, bad and
missing dates, ragged and cut-off lines, rows before the first and after the last partition, CRLF
line ends and a quoted line break (every later line number shifts by one).
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dsop_assets.erp.assets import QUARANTINE_TABLE
from dsop_assets.erp.completeness import ROWS_ACCOUNTED_CHECK
from dsop_resources import DuckDBWarehouse
from dsop_resources.erp.contract import CONTRACTS
from dsop_resources.erp.mapping import load_mapping
from dsop_resources.erp.reader import parse_table, partition_key_expr
from dsop_resources.erp.scope import PartitionScope, repeated_key_lines
from dsop_resources.erp_files import ErpExportFolder
from tests.erp.bad_input_corpus import write_corpus
from tests.erp.small_export import write_small_export
from tests.erp.test_raw_assets import ASSETS, MASTERS

KNOWN = {"customer.customer_id": pl.Series(["C1", "C2"]), "product_master.product_id": pl.Series(["P1", "P2", "M1"])}
PARTITIONED = ["daily_order", "daily_revenue", "daily_production", "inventory", "purchase_order"]

# The test's own partitions, so rows before the first and after the last are easy to place.
WEEKS = tuple((date(2024, 12, 2) + timedelta(weeks=i)).isoformat() for i in range(9))  # .. 2025-01-27
MONTHS = ("2024-10-01", "2024-11-01", "2024-12-01", "2025-01-01", "2025-02-01")
WEEK_WINDOWS = {
    "first": WEEKS[:1], "middle": ("2024-12-30",), "last": WEEKS[-1:],
    "several": ("2024-12-23", "2024-12-30", "2025-01-06"), "no rows": ("2025-01-20",),
}
MONTH_WINDOWS = {
    "first": MONTHS[:1], "middle": ("2024-12-01",), "last": MONTHS[-1:], "several": MONTHS[1:4],
    "no rows": ("2024-11-01",),
}


def _order(order_id, day, customer="C1", qty="1", due="2025-02-20", extra=()) -> str:
    return ",".join([order_id, day, customer, "P1", qty, "150", "KRW", due, *extra])


# (record, what it tests); the header is line 1.
ORDER_LINES = [
    (_order("A01", "2024-12-02"), "first week"),
    (_order("A02", "2024-12-03", qty="-2"), "first week, its own error; repeated in the middle week"),
    (_order("A03", "2024-12-31"), "middle week; repeated in the last week"),
    (_order("A04", "2024/12/31"), "another date layout"),
    (_order("A05", "2024-11-20"), "before the first partition"),
    (_order("A06", "2025-02-05"), "after the last partition"),
    (_order("A07", "2025-13-45"), "bad date: undated; repeated in the middle week"),
    (_order("A08", ""), "missing date: undated"),
    (",".join(["A09", "2024-12-31", "C1", "P1", "1", "150", "KRW"]), "too few fields: undated"),
    (_order("A02", "2024-12-30", qty="5"), "repeat in the middle week of a first-week row"),
    ('A10,2024-12-31,C1,P1,1,150,"KRW\nUSD",2025-01-20', "a quoted line break: two lines"),
    (_order("A03", "2025-01-28"), "repeat in the last week of a middle-week row"),
    (_order("A11", "2025-01-08", customer="C9"), "unknown customer"),
    (_order(" A01 ", "2025-01-29"), "repeat (once trimmed) in the last week of a first-week row"),
    (_order("A12", "2025-01-27"), "last week"),
    (_order("A07", "2024-12-31"), "repeat in the middle week of an undated row"),
    (_order("A13", "2024-12-04"), "first week"),
    (_order("A13", "2025-01-01xyz"), "undated repeat of a first-week row"),
    (_order("A14", "2099-03-02"), "far future; repeated in the middle week"),
    (_order("A14", "2025-01-01"), "repeat in the middle week of an out-of-range row"),
    (_order("A15", "2025-01-06", qty="x"), "unparseable quantity"),
    (_order("A16", "2025-01-07", extra=("9",)), "too many fields: undated"),
    (_order("", "2024-12-31"), "blank key"),
    (_order("", "2024-12-31"), "another blank key: no repeat"),
    (_order("A17", "2025-01-02"), "twice the same row"),
    (_order("A17", "2025-01-02"), "twice the same row"),
    (_order("A18", "2024-12-10"), "second week; repeated in the middle week"),
    (_order("A18", "2024-12-31"), "repeat inside the middle week, first outside"),
    (_order("A19", "2024-12-31"), "middle week; repeated outside it"),
    (_order("A19", "2025-01-14"), "repeat outside the middle week, first inside"),
    (_order("A20", "2019-05-06"), "before any history"),
    (_order("A21", "2025-01-03"), "the last line, cut off (no line break)"),
]


def _line_of(index: int) -> int:
    """The file line of ORDER_LINES[index], counted from the text (a quoted line break takes two)."""
    return 2 + index + sum(record.count("\n") for record, _ in ORDER_LINES[:index])


def _write_lines(path, header: str, records: list[str], crlf: bool = False) -> None:
    text = "\n".join([header, *records])  # no final break: the last line is cut off
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))


def _export(folder, crlf: bool = False):
    """The small export with the generated transaction files above."""
    write_small_export(folder)
    _write_lines(folder / "daily_order.csv", "order_id,order_date,customer_id,product_id,order_qty,unit_price,"
                 "currency,requested_delivery_date", [r for r, _ in ORDER_LINES], crlf)
    _write_lines(folder / "daily_revenue.csv", "invoice_id,revenue_date,customer_id,product_id,shipped_qty,"
                 "revenue_amount,currency,order_id", [
                     "I1,2024-12-02,C1,P1,1,150,KRW,A01", "I2,2024-12-31,C1,P1,1,150,KRW,",
                     "I1,2024-12-31,C1,P1,2,300,KRW,A01", "I3,20250127,C2,P2,1,3500,KRW,",
                     "I4,2024-12-31,C1,P1,-1,150,KRW,", "I5,2025-01-01,C1,P1,1,150,KRW,\n"], crlf)
    _write_lines(folder / "daily_production.csv", "production_date,product_id,produced_qty,production_line", [
        "2024-12-31,P1,10,L1", "2024/12/31,P1,11,L1", "2024-12-31,P2,5,", "2025-01-28,P1,1,", "2024-12-02,P9,1,",
        "2024-12-32,P1,1,", "2025-01-28,P1,2,", "2024-11-01,P1,1,", "2025-01-06,P1,1,\n"], crlf)
    _write_lines(folder / "inventory.csv", "snapshot_date,product_id,on_hand_qty", [
        "2024-10-01,P1,5", "2024-12-01,P1,6", "2024-12-01,P1,7", "2025-02-01,P2,1", "2024-09-01,P1,1",
        "2025-03-01,P1,1", "2025-01-01,M1,NaN", "bad,P1,1", "2025-01-01,P1,1\n"], crlf)
    _write_lines(folder / "purchase_order.csv", "po_id,supplier_id,product_id,order_date,order_qty,unit_cost,"
                 "currency,promised_date,received_date,received_qty", [
                     "PO1,S1,M1,2024-10-15,5,5,KRW,2024-11-01,,", "PO2,S1,M1,2024-12-15,5,5,KRW,2025-01-01,2025-01-02,5",
                     "PO1,S1,M1,2024-12-20,5,5,KRW,2025-01-01,,", "PO3,S1,M1,2025-02-03,5,5,KRW,2025-03-01,,",
                     "PO2,S1,M1,2025-01-10,5,5,KRW,2025-02-01,,", "PO4,S1,M1,2025-03-03,5,5,KRW,2025-04-01,,",
                     # A quote never closed: this record runs to the end of the file.
                     'PO5,S1,M1,2024-12-05,"5', "PO6,S1,M1,2024-12-05,5,5,KRW,2025-01-01,,"], crlf)
    return folder


def _parse(folder, table, scope=None):
    known = {**KNOWN, "supplier.supplier_id": pl.Series(["S1"])}
    return parse_table(folder, table, load_mapping(), known, scope)


def _in_scope(frame: pl.DataFrame, key: pl.Expr, window: tuple[str, ...], all_keys: tuple[str, ...]) -> pl.DataFrame:
    """load_table's filter: the window's partitions, undated rows and rows of no partition."""
    return frame.filter((key == "undated") | key.is_in(list(window)) | ~key.is_in(list(all_keys)))


def _check_scoped_parses(folder, table, windows: dict, all_keys: tuple[str, ...]) -> list[bool]:
    """Each window's scoped parse against the whole parse; per window, whether the parse narrowed."""
    full = _parse(folder, table)
    narrowed = []
    for window in windows.values():
        scoped = _parse(folder, table, PartitionScope(window, all_keys))
        narrowed.append(scoped.scope is not None)
        for frame, key in (("valid", partition_key_expr(table)), ("rejected", pl.col("partition_key")),
                           ("records", pl.col("partition_key")), ("superseded", pl.col("partition_key"))):
            expected = getattr(full, frame)
            if scoped.scope is not None:  # exactly the scope's rows: none outside it, none lost inside it
                expected = _in_scope(expected, key, window, all_keys)
            assert_frame_equal(getattr(scoped, frame), expected)
        whole_files = (scoped.files, scoped.encodings, scoped.ignored_columns)
        assert whole_files == (full.files, full.encodings, full.ignored_columns)
    return narrowed


def _windows(table):
    return (WEEK_WINDOWS, WEEKS) if table.partition_grain == "week" else (MONTH_WINDOWS, MONTHS)


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("name", PARTITIONED)
def test_a_scoped_parse_equals_the_whole_parse_filtered_to_the_scope(tmp_path, name, crlf):
    folder = _export(tmp_path / "erp", crlf)
    table = CONTRACTS[name]
    assert all(_check_scoped_parses(folder, table, *_windows(table)))  # one file: every scope narrows


def test_a_repeat_is_rejected_whichever_side_of_the_window_its_first_occurrence_lies(tmp_path):
    folder = _export(tmp_path / "erp")
    table = CONTRACTS["daily_order"]
    full = _parse(folder, table)
    middle = _parse(folder, table, PartitionScope(("2024-12-30",), WEEKS))
    assert middle.records.height < full.records.height
    lines = {order_id: [_line_of(i) for i, (r, _) in enumerate(ORDER_LINES) if r.split(",")[0].strip() == order_id]
             for order_id in ("A02", "A07", "A14", "A18", "A19")}
    read = middle.records["source_line"].to_list()
    reasons = dict(zip(middle.rejected["line_number"], middle.rejected["reason"]))
    # Repeats in the window whose first occurrence is in another week (not even typed: A02, A18),
    # undated (A07) or in no partition (A14).
    for order_id in ("A02", "A07", "A14", "A18"):
        first, repeat = lines[order_id]
        assert (first in read) == (order_id in ("A07", "A14")), order_id
        assert f"duplicate key order_id={order_id} (first on line {first})" in reasons[repeat], order_id
    first, repeat = lines["A19"]  # in the window, its repeat outside it: loads
    assert first in middle.valid["source_line"].to_list() and repeat not in read
    last = _parse(folder, table, PartitionScope(WEEKS[-1:], WEEKS))
    reasons = dict(zip(last.rejected["line_number"], last.rejected["reason"]))
    repeat = _line_of(next(i for i, (r, _) in enumerate(ORDER_LINES) if r.startswith(" A01 ")))
    assert reasons[repeat] == "duplicate key order_id=A01 (first on line 2)"
    assert 2 not in last.records["source_line"].to_list()


@pytest.mark.parametrize("language,encoding", [("en", "utf-8"), ("ko", "cp949")])
def test_the_bad_input_corpus_parses_the_same_scoped(tmp_path, language, encoding):
    """Its daily_order export is two files (one newer, in the inbox): the whole-file path, as
    without a scope. Alone, the main file takes the scoped path; both give the full parse's rows."""
    folder = tmp_path / "erp"
    write_corpus(folder, language, encoding)
    windows = {**WEEK_WINDOWS, "both corpus weeks": ("2024-12-23", "2024-12-30")}  # its rows: 2024-12-30
    assert not any(_check_scoped_parses(folder, CONTRACTS["daily_order"], windows, WEEKS))
    for name in PARTITIONED[1:]:  # header-only files here: one each
        assert all(_check_scoped_parses(folder, CONTRACTS[name], *_windows(CONTRACTS[name])))
    shutil.rmtree(folder / "inbox")
    assert all(_check_scoped_parses(folder, CONTRACTS["daily_order"], windows, WEEKS))


def test_a_nullable_key_column_keeps_the_whole_file_path(tmp_path):
    folder = _export(tmp_path / "erp")
    orders = CONTRACTS["daily_order"]
    nullable = dataclasses.replace(orders, columns=tuple(
        dataclasses.replace(c, required=False) if c.name == "order_id" else c for c in orders.columns))
    assert not any(_check_scoped_parses(folder, nullable, WEEK_WINDOWS, WEEKS))


def test_a_newer_file_keeps_the_whole_file_path(tmp_path):
    """A01 moves from the first week to the middle one in a newer export: the first week's run must
    see the newer row to know its own A01 is superseded, not loaded."""
    folder = _export(tmp_path / "erp")
    (folder / "inbox").mkdir()
    newer = folder / "inbox" / "daily_order_fix.csv"
    _write_lines(newer, "order_id,order_date,customer_id,product_id,order_qty,unit_price,currency,"
                 "requested_delivery_date", [_order("A01", "2024-12-31", qty="7") + "\n"])
    os.utime(newer, (2_000_000_000, 2_000_000_000))
    orders = CONTRACTS["daily_order"]
    assert not any(_check_scoped_parses(folder, orders, WEEK_WINDOWS, WEEKS))
    first_week = _parse(folder, orders, PartitionScope(WEEKS[:1], WEEKS))
    assert first_week.superseded["source_line"].to_list() == [2]


def test_repeated_key_lines_names_each_repeat_s_first_line_in_its_file():
    rng = random.Random(3)
    rows = [(rng.choice(["a", "b", "c", None]), rng.choice([1, 2, None]), rng.choice(["f1", "f2"]), line)
            for line in range(2, 400)]
    schema = {"k1": pl.Utf8, "k2": pl.Int64, "source_file": pl.Utf8, "source_line": pl.Int64}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    seen, expected = {}, []
    for k1, k2, file, line in rows:
        complete = k1 is not None and k2 is not None
        expected.append(seen.get((k1, k2, file)) if complete else None)
        seen.setdefault((k1, k2, file), line)
    assert repeated_key_lines(frame, ("k1", "k2")).to_list() == expected


SCOPES: list = []


class RecordingExportFolder(ErpExportFolder):
    def parse(self, table, known, scope=None):
        parsed = super().parse(table, known, scope)
        SCOPES.append(parsed.scope)
        return parsed


class WholeFileExportFolder(ErpExportFolder):
    """The parse before scopes: every row of the file typed and checked, whatever the window."""

    def parse(self, table, known, scope=None):
        return super().parse(table, known)


@pytest.mark.parametrize("week", ["2024-12-30", "2025-01-27"])
def test_a_one_week_load_writes_the_same_rows_as_the_whole_file_parse(tmp_path, instance, week):
    folder = _export(tmp_path / "erp")
    loads = {}
    for name, erp in (("scoped", RecordingExportFolder(erp_dir=str(folder))),
                      ("whole", WholeFileExportFolder(erp_dir=str(folder)))):
        warehouse = DuckDBWarehouse(path=str(tmp_path / f"{name}.duckdb"))
        resources = {"warehouse": warehouse, "erp": erp}
        assert dg.materialize(MASTERS, resources=resources, instance=instance).success
        SCOPES.clear()
        result = dg.materialize([ASSETS["daily_order"]], partition_key=week, resources=resources, instance=instance)
        assert result.success
        check = result.get_asset_check_evaluations()[0]
        assert check.check_name == ROWS_ACCOUNTED_CHECK and check.passed
        metadata = result.asset_materializations_for_node("daily_order")[0].metadata
        loads[name] = (
            warehouse.query("select * from daily_order order by source_line"),
            warehouse.query(f"select * from {QUARANTINE_TABLE} where source_table = 'daily_order' "
                            "order by line_number"),
            {k: v.value for k, v in metadata.items()},
            {k: v.value for k, v in check.metadata.items()},
        )
        if name == "scoped":
            assert SCOPES and SCOPES[0] is not None and week in SCOPES[0].keys  # the scoped path ran
    scoped, whole = loads["scoped"], loads["whole"]
    assert scoped[0].height and scoped[1].height
    for got, expected in zip(scoped[:2], whole[:2]):
        assert_frame_equal(got, expected)
    assert scoped[2:] == whole[2:]

from pathlib import Path

import polars as pl
import pytest

from dsop_resources.erp.contract import ALL_TABLES, CONTRACTS, render_markdown
from dsop_resources.erp.mapping import load_mapping
from dsop_resources.erp.reader import ErpContractError, parse_table
from tests.erp.small_export import BAD_ORDERS, GOOD_ORDERS, write_csv, write_small_export

REPO = Path(__file__).resolve().parents[2]


def _parse(folder: Path, table: str, known=None):
    return parse_table(folder, CONTRACTS[table], load_mapping(), known or {})


def _known(folder: Path) -> dict[str, pl.Series]:
    products = _parse(folder, "product_master").valid["product_id"]
    customers = _parse(folder, "customer").valid["customer_id"]
    return {"product_master.product_id": products, "customer.customer_id": customers}


def test_contract_doc_is_generated_from_the_contract():
    assert (REPO / "docs" / "erp_contract.md").read_text(encoding="utf-8").strip() == render_markdown().strip()


def test_default_mapping_has_a_korean_name_for_every_table_and_column():
    mapping = load_mapping()
    for table in ALL_TABLES:
        assert len(mapping[table.name]["files"]) >= 2, table.name
        assert set(mapping[table.name]["headers"]) == set(table.column_names), table.name


@pytest.mark.parametrize("language,encoding", [("en", "utf-8"), ("ko", "utf-8"), ("ko", "cp949"), ("en", "cp949")])
def test_korean_and_english_exports_in_both_encodings_parse_identically(tmp_path, language, encoding):
    reference = write_small_export(tmp_path / "ref")
    other = write_small_export(tmp_path / "other", language=language, encoding=encoding)
    for table in ("product_master", "customer", "bom"):
        expected = _parse(reference, table).valid.drop("source_file")
        assert _parse(other, table).valid.drop("source_file").equals(expected), table
    parsed = _parse(other, "daily_order", _known(other))
    assert parsed.valid.height == len(GOOD_ORDERS)
    # Pure-ASCII CP949 is also valid UTF-8, so only Korean text can tell them apart.
    expected_encoding = "cp949" if (encoding, language) == ("cp949", "ko") else "utf-8"
    assert set(parsed.encodings.values()) == {expected_encoding}


def test_every_kind_of_bad_row_is_quarantined_with_file_line_and_reason(tmp_path):
    folder = write_small_export(tmp_path, bad_rows=True)
    parsed = _parse(folder, "daily_order", _known(folder))
    assert sorted(parsed.valid["order_id"].to_list()) == sorted(r[0] for r in GOOD_ORDERS)
    rejected = parsed.rejected.sort("line_number")
    assert rejected["line_number"].to_list() == list(range(len(GOOD_ORDERS) + 2, len(GOOD_ORDERS) + 2 + len(BAD_ORDERS)))
    for (_, fragment), reason in zip(BAD_ORDERS, rejected["reason"]):
        assert fragment in reason
    assert set(rejected["file_name"]) == {"daily_order.csv"}
    assert '"order_qty":"12x"' in rejected["raw_values"][2]
    assert rejected.filter(pl.col("line_number") == len(GOOD_ORDERS) + 3)["partition_key"][0] == "undated"


def test_missing_required_header_names_the_columns_and_file(tmp_path):
    folder = write_small_export(tmp_path)
    write_csv(folder / "daily_order.csv", ["order_id", "customer_id", "product_id", "order_qty"], [["O1", "C1", "P1", "1"]])
    with pytest.raises(ErpContractError) as error:
        _parse(folder, "daily_order", _known(folder))
    message = str(error.value)
    assert "daily_order.csv" in message
    for column in ("order_date", "unit_price", "currency", "requested_delivery_date"):
        assert column in message


def test_missing_file_of_a_required_table_is_a_clear_error(tmp_path):
    folder = write_small_export(tmp_path)
    (folder / "customer.csv").unlink()
    with pytest.raises(ErpContractError, match="no export for table customer"):
        _parse(folder, "customer")


def test_newer_export_in_inbox_replaces_the_rows_it_repeats(tmp_path):
    import os

    folder = write_small_export(tmp_path)
    (folder / "inbox").mkdir()
    corrected = folder / "inbox" / "daily_order_fix.csv"
    write_csv(corrected, ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price", "currency",
                          "requested_delivery_date"], [["O1", "2024-12-30", "C1", "P1", "99", "150", "KRW", "2025-01-20"]])
    os.utime(corrected, (2_000_000_000, 2_000_000_000))
    parsed = _parse(folder, "daily_order", _known(folder))
    assert parsed.valid.filter(pl.col("order_id") == "O1")["order_qty"].to_list() == [99.0]
    assert parsed.valid.height == len(GOOD_ORDERS)


def test_date_and_number_formats_erps_use(tmp_path):
    folder = write_small_export(tmp_path)
    write_csv(folder / "daily_order.csv", ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price",
                                           "currency", "requested_delivery_date"],
              [["A", "2025/01/02", "C1", "P1", "1,234.5", "150", "KRW", "20250120"],
               ["B", "2025.01.03", "C1", "P1", " 7 ", "150", "KRW", "2025-01-20"]])
    valid = _parse(folder, "daily_order", _known(folder)).valid.sort("order_id")
    assert valid["order_qty"].to_list() == [1234.5, 7.0]
    assert [d.isoformat() for d in valid["order_date"]] == ["2025-01-02", "2025-01-03"]


def test_crlf_bom_and_quoted_line_breaks_read_like_a_plain_lf_file(tmp_path):
    """Lines are cut from the file's bytes: a BOM, CRLF line ends and a quoted value spanning lines
    give the same values and the same true line numbers as the plain LF file."""
    header = "customer_id,customer_name,country,segment"
    rows = ['C1,"Ace\nCorp",KR,fab', "C2,Beta,US,osat", "C3,Gamma,KR", 'C4,"Delta ""D""",JP,fab']
    parsed = []
    for name, data in (("lf", "\n".join([header, *rows]) + "\n"),
                       ("crlf_bom", "\ufeff" + "\r\n".join([header, *rows]) + "\r\n")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "customer.csv").write_bytes(data.encode("utf-8"))
        parsed.append(_parse(folder, "customer"))
    lf, crlf = parsed
    assert lf.valid.equals(crlf.valid) and lf.rejected.equals(crlf.rejected)
    assert lf.valid["customer_name"].to_list() == ["Ace\nCorp", "Beta", 'Delta "D"']
    assert lf.valid["source_line"].to_list() == [2, 4, 6]
    assert lf.rejected["line_number"].to_list() == [5]
    assert lf.rejected["reason"].to_list() == ["too few fields: 3 (header has 4)"]

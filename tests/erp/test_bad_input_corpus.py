"""The bad-input corpus on the default DuckDB warehouse, in both encodings and header languages
(tests/postgres/test_bad_input_corpus.py runs the same suite on Postgres)."""

import pytest

from dsop_resources.erp.contract import CONTRACTS
from dsop_resources.erp.mapping import load_mapping
from dsop_resources.erp.reader import ErpContractError, parse_table
from tests.erp.bad_input_corpus import ORDERS, run_corpus
from tests.erp.small_export import write_small_export


def test_the_corpus_has_at_least_twenty_kinds_of_bad_row():
    kinds = {reason.split(":")[0].split(" '")[0] for _, reason, _ in ORDERS if reason}
    assert len([r for _, r, _ in ORDERS if r]) >= 20 and len(kinds) >= 15


@pytest.mark.parametrize("language,encoding", [("en", "utf-8"), ("ko", "cp949")])
def test_bad_input_corpus_on_duckdb(tmp_path, warehouse, instance, language, encoding):
    run_corpus(tmp_path / "erp", warehouse, instance, language, encoding)


@pytest.mark.parametrize("content,fragment", [
    (b"", "the file is empty (0 bytes)"),
    (b"\n\n", "the file is empty"),
    (b"O1,2025-01-02,C1,P1,1,150,KRW,2025-01-20\n", "header lacks required column(s)"),
])
def test_an_empty_or_headerless_file_is_an_error_naming_it(tmp_path, content, fragment):
    folder = write_small_export(tmp_path)
    (folder / "daily_order.csv").write_bytes(content)
    with pytest.raises(ErpContractError) as error:
        parse_table(folder, CONTRACTS["daily_order"], load_mapping(), {})
    assert "daily_order.csv" in str(error.value) and fragment in str(error.value)

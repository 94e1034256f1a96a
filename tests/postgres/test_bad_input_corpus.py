"""The same bad-input corpus on Postgres: the same rows load, the same rows are quarantined with the
same reasons and lines (NUL bytes, which Postgres text cannot hold, included)."""

from tests.erp.bad_input_corpus import run_corpus


def test_bad_input_corpus_on_postgres_korean_cp949(tmp_path, pg_warehouse, instance):
    run_corpus(tmp_path / "erp", pg_warehouse, instance, "ko", "cp949")


def test_both_warehouses_quarantine_identically_english_utf8(tmp_path, pg_warehouse, duck_warehouse, instance):
    run_corpus(tmp_path / "pg", pg_warehouse, instance, "en", "utf-8")
    run_corpus(tmp_path / "duck", duck_warehouse, instance, "en", "utf-8")
    sql = ("select file_name, line_number, reason, raw_values, partition_key from erp_rejected_rows "
           "order by file_name, line_number")
    assert pg_warehouse.query(sql).rows() == duck_warehouse.query(sql).rows()
    orders = "select order_id, order_date, order_qty, currency from daily_order order by order_id"
    assert pg_warehouse.query(orders).rows() == duck_warehouse.query(orders).rows()

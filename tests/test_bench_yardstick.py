"""The bench's plain DuckDB yardstick does dsop's work: same marts, same rejections."""

import shutil

import duckdb

from dsop_jobs.bench_yardstick import compare_marts, run


def test_the_yardstick_builds_the_same_marts_as_dsop(tiny_pipeline, tmp_path):
    run(tiny_pipeline.erp_dir, tmp_path / "plain.duckdb")
    checks = compare_marts(tmp_path / "plain.duckdb", tiny_pipeline.warehouse.path)
    assert {t for t, *_ in checks} >= {"weekly_product_summary", "weekly_customer_summary",
                                        "monthly_product_summary", "monthly_customer_summary"}
    assert all(ok and rows > 0 for _, rows, _, ok in checks), checks


def test_the_yardstick_rejects_what_the_contract_rejects(tiny_pipeline, tmp_path):
    erp = shutil.copytree(tiny_pipeline.erp_dir, tmp_path / "erp")
    orders = erp / "daily_order.csv"
    lines = orders.read_text().splitlines()
    first = lines[1].split(",")
    bad = [
        ",".join([first[0], *first[1:]]),  # duplicate order_id: the first line is kept
        ",".join(["X1", first[1], "NOBODY", *first[3:]]),
        ",".join(["X2", *first[1:4], "-1", *first[5:]]),
        ",".join(["X3", *first[1:4], "NaN", *first[5:]]),
    ]
    orders.write_text("\n".join([*lines, *bad]) + "\n")
    result = run(erp, tmp_path / "plain.duckdb", "raw")
    assert result["loaded"]["daily_order"] == (len(lines) - 1, 4)
    with duckdb.connect(str(tmp_path / "plain.duckdb"), read_only=True) as con:
        rejected = con.execute("select line_number, reason from rejected_rows where source_table = 'daily_order' "
                               "order by line_number").fetchall()
    n = len(lines)
    assert rejected == [(n + 1, "duplicate key"), (n + 2, "unknown customer_id"), (n + 3, "negative order_qty"),
                        (n + 4, "bad float order_qty")]

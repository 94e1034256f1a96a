"""compare_warehouses: last-bit noise is reported, a changed decision fails."""

import duckdb

from dsop_jobs.tools import compare_warehouses


def _warehouse(path, segment: int, score_bits: float, solve_s: float) -> str:
    with duckdb.connect(str(path)) as con:
        con.execute("create table production_plan as select 'P1' as product_id, date '2026-11-30' as week_start, "
                    f"19000.0 as production_qty, {solve_s} as solve_s, now() as created_at")
        con.execute("create table risk_score as select 'P1' as product_id, date '2026-11-23' as week_start, "
                    f"'C' as grade, 41 as total_score, 'delivery' as dominant_risk, {score_bits} as top_customer_share")
        con.execute("create table customer_segment as select date '2026-10-01' as month_start, 'C1' as customer_id, "
                    f"{segment} as segment")
        con.execute("create table pipeline_health as select now() as checked_at, 'run' as note")
    return str(path)


def test_noise_is_reported_and_a_changed_decision_fails(tmp_path, capsys):
    a = _warehouse(tmp_path / "a.duckdb", 1, 0.8233769972650066, 0.31)
    same_decisions = _warehouse(tmp_path / "b.duckdb", 1, 0.8233769972650065, 0.29)
    assert compare_warehouses.main([a, same_decisions]) == 0
    out = capsys.readouterr().out
    assert "risk_score: rows 1 vs 1, differing 1, decisions differing 0" in out  # the last bit, reported
    assert "production_plan" not in out and "pipeline_health" not in out  # run-stamped columns and table
    other_segment = _warehouse(tmp_path / "c.duckdb", 2, 0.8233769972650066, 0.31)
    assert compare_warehouses.main([a, other_segment]) == 1
    assert "decision tables that differ: customer_segment" in capsys.readouterr().out

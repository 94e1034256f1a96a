"""Two warehouses compared table by table: the check behind "the same answer on a busy machine".

``python -m dsop_jobs.tools.compare_warehouses A.duckdb B.duckdb`` prints, for every table of A, the row
counts in both and the rows of A that B does not hold exactly (``except all`` over every column but the
run-stamped ones: timestamps ``*_at``, run ids and the pipeline's own health table), then which tables
differ. Exit status 1 when a decision table differs (``DECISIONS``), so a script can gate on it; last-bit
differences in other tables are reported, not failed.

Typical use: two ``dsop demo`` runs from clean clones, one beside CPU burners, then this on their
``data/dsop.duckdb``.
"""

from __future__ import annotations

import sys

# Tables planners act on: a difference here is a different decision, not float noise.
DECISIONS = ("production_plan", "purchase_recommendation", "action_queue", "risk_score", "demand_anomaly",
             "decision_replay", "inventory_policy_simulated", "network_kpi", "product_recommendation",
             "customer_segment", "customer_churn_risk", "forecast_result_weekly")
# Columns and tables stamped by the run itself (when, which run, how long): never equal between runs.
RUN_STAMPED_TABLES = ("pipeline_health",)
RUN_STAMPED_SUFFIXES = ("_at", "run_id", "_s", "_seconds")
# Decision tables that also hold float figures (inputs, scores), which may differ in the last bit while
# the decision itself (these columns, with the keys) stays: those are compared on the decision alone.
DECISION_COLUMNS = {"customer_segment": ("segment",), "customer_churn_risk": ("risk_rank", "account_review"),
                    "risk_score": ("grade", "total_score", "dominant_risk")}


def _columns(con, db: str, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = $d and table_name = $t "
        "order by column_index", {"d": db, "t": table}).fetchall()]


def compare(path_a: str, path_b: str) -> list[dict]:
    """One dict per table of A: ``table, rows_a, rows_b, differing`` (rows of A not in B, all kept columns)
    and, for the tables in ``DECISION_COLUMNS``, ``decisions_differing`` over those columns only."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"attach '{path_a}' as a (read_only)")
    con.execute(f"attach '{path_b}' as b (read_only)")
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = 'a' and schema_name = 'main' "
        "order by table_name").fetchall()]
    in_b = {r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = 'b' and schema_name = 'main'").fetchall()}
    out = []
    for table in tables:
        if table in RUN_STAMPED_TABLES:
            continue
        row = {"table": table, "rows_a": con.execute(f'select count(*) from a."{table}"').fetchone()[0]}
        if table not in in_b:
            out.append({**row, "rows_b": None, "differing": row["rows_a"]})
            continue
        row["rows_b"] = con.execute(f'select count(*) from b."{table}"').fetchone()[0]
        kept = [c for c in _columns(con, "a", table) if not c.endswith(RUN_STAMPED_SUFFIXES)]
        row["differing"] = _except_count(con, table, kept)
        if table in DECISION_COLUMNS:
            keys = [c for c in kept if c.endswith("_id") or c in ("month_start", "week_start", "plan_week")]
            row["decisions_differing"] = _except_count(con, table, keys + list(DECISION_COLUMNS[table]))
        out.append(row)
    return out


def _except_count(con, table: str, columns: list[str]) -> int:
    listed = ", ".join(f'"{c}"' for c in columns)
    return con.execute(f'select count(*) from (select {listed} from a."{table}" '
                       f'except all select {listed} from b."{table}")').fetchone()[0]


def decision_differences(rows: list[dict]) -> list[str]:
    """Decision tables that differ: every column for most, the decision columns where the table also holds
    figures that may differ in the last bit (``DECISION_COLUMNS``)."""
    out = []
    for r in rows:
        if r["table"] not in DECISIONS:
            continue
        differs = r.get("decisions_differing", r["differing"])
        if differs or r["rows_a"] != r["rows_b"]:
            out.append(r["table"])
    return out


def main(argv: list[str] | None = None) -> int:
    path_a, path_b = (argv or sys.argv[1:])[:2]
    rows = compare(path_a, path_b)
    for r in rows:
        if r["differing"] or r["rows_a"] != r["rows_b"]:
            extra = f", decisions differing {r['decisions_differing']}" if "decisions_differing" in r else ""
            print(f"{r['table']}: rows {r['rows_a']} vs {r['rows_b']}, differing {r['differing']}{extra}")
    decisions = decision_differences(rows)
    print(f"compared {len(rows)} tables; decision tables that differ: {', '.join(decisions) or 'none'}")
    return 1 if decisions else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The yardstick for ``dsop bench``: the same data work as a plain DuckDB script, no Dagster.

It reads the ten ERP CSVs and the exchange rates with explicit types, applies the contract's rules
(types, not-null, >= 0, allowed values, key uniqueness keeping the first line, foreign keys against
the valid masters) with every rejected row and its reason in a table, then builds dsop's own
staging views and marts (the same SQL files) over the full history, in one connection. The bench
prints dsop's time for each stage beside this script's and the ratio: ratios survive a busy
machine, absolute seconds do not.

``python -m dsop_jobs.bench_yardstick ERP_DIR DB [raw|all]``
"""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from dsop_resources.erp.contract import ALL_TABLES, CONTRACTS, TableContract

# Plain on purpose: no Dagster, no Polars, nothing dsop's runtime imports beyond the contract
# (plain dataclasses). The SQL files are rendered here with the same three template calls.
_REF = re.compile(r"\{\{\s*ref\(\s*'([a-z0-9_]+)'\s*\)\s*\}\}")
_SOURCE = re.compile(r"\{\{\s*source\(\s*'[a-z0-9_]+'\s*,\s*'([a-z0-9_]+)'\s*\)\s*\}\}")
_VARIABLE = re.compile(r"\{\{\s*(partition_start|partition_end)\s*\}\}")

SQL_TYPES = {"str": "varchar", "date": "date", "float": "double", "int": "bigint"}
# Wide enough for any history; partitioned models render with it as their window.
FULL_HISTORY = (date(1900, 1, 1), date(2200, 1, 1))


def sql_dir() -> Path:
    return Path(os.getenv("DSOP_SQL_DIR", str(Path(__file__).resolve().parents[1] / "dbt_like_sql")))


def _models() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(sql_dir().rglob("*.sql"))}


def _render(sql: str) -> str:
    sql = _REF.sub(lambda m: _quote(m.group(1)), sql)
    sql = _SOURCE.sub(lambda m: _quote(m.group(1)), sql)
    start, end = FULL_HISTORY
    sql = _VARIABLE.sub(lambda m: f"date '{(start if m.group(1) == 'partition_start' else end).isoformat()}'", sql)
    return sql.strip().rstrip(";")


def _is_view(sql: str) -> bool:
    return re.search(r"^--\s*config:.*materialized\s*=\s*view", sql, re.MULTILINE) is not None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_table(con: duckdb.DuckDBPyConnection, erp_dir: Path, table: TableContract) -> tuple[int, int]:
    """Read one export all-string, type it, keep valid rows, quarantine the rest with a reason."""
    path = erp_dir / f"{table.name}.csv"
    columns = table.columns
    typed_columns = ", ".join(f"{_quote(c.name)} {SQL_TYPES[c.dtype]}" for c in columns)
    if not path.exists():
        con.execute(f"create or replace table {_quote(table.name)} ({typed_columns})")
        return 0, 0
    header = ", ".join(f"{_literal(c.name)}: 'varchar'" for c in columns)
    con.execute(
        f"create or replace temp table raw_rows as select row_number() over () + 1 as line_number, * "
        f"from read_csv({_literal(str(path))}, header = true, columns = {{{header}}}, quote = '\"', escape = '\"')"
    )
    typed = ", ".join(
        f"try_cast(nullif(trim({_quote(c.name)}), '') as {SQL_TYPES[c.dtype]}) as {_quote(c.name)}" for c in columns
    )
    con.execute(f"create or replace temp table typed_rows as select line_number, {typed} from raw_rows")
    reasons = []
    for c in columns:
        col, raw = f"t.{_quote(c.name)}", f"r.{_quote(c.name)}"
        if c.required:
            reasons.append(f"when nullif(trim({raw}), '') is null then 'missing {c.name}'")
        reasons.append(f"when nullif(trim({raw}), '') is not null and {col} is null then 'bad {c.dtype} {c.name}'")
        if c.dtype == "float":
            reasons.append(f"when isnan({col}) or isinf({col}) then 'bad float {c.name}'")
        if c.nonnegative:
            reasons.append(f"when {col} < 0 then 'negative {c.name}'")
        if c.allowed:
            allowed = ", ".join(_literal(v) for v in c.allowed)
            reasons.append(f"when {col} not in ({allowed}) then 'not allowed {c.name}'")
        if c.references:
            ref_table, ref_column = c.references.split(".")
            if ref_table != table.name and _checks_references(con, ref_table):
                reasons.append(
                    f"when {col} is not null and {col} not in (select {_quote(ref_column)} from {_quote(ref_table)}) "
                    f"then 'unknown {c.name}'"
                )
    key = ", ".join(f"t.{_quote(k)}" for k in table.key)
    con.execute(
        f"""create or replace temp table checked as
        select t.*, case {' '.join(reasons)} else null end as row_reason
        from typed_rows t join raw_rows r using (line_number)"""
    )
    con.execute(
        f"""create or replace temp table checked as
        select *, case when row_reason is null and row_number() over (
                    partition by {key.replace('t.', '')}, row_reason is null order by line_number) > 1
               then 'duplicate key' else row_reason end as reason
        from checked"""
    )
    names = ", ".join(_quote(c.name) for c in columns)
    con.execute(f"create or replace table {_quote(table.name)} as select {names} from checked where reason is null")
    con.execute(
        f"insert into rejected_rows select {_literal(table.name)}, line_number, reason from checked where reason is not null"
    )
    valid = con.execute(f"select count(*) from {_quote(table.name)}").fetchone()[0]
    rejected = con.execute(f"select count(*) from checked where reason is not null").fetchone()[0]
    return valid, rejected


def _checks_references(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """As dsop does: an empty optional master checks nothing."""
    if not CONTRACTS[table].optional_table:
        return True
    return con.execute(f"select count(*) from {_quote(table)}").fetchone()[0] > 0


def _upstream_first(tables: list[TableContract]) -> list[TableContract]:
    ordered: list[TableContract] = []

    def visit(table: TableContract) -> None:
        if table in ordered:
            return
        for c in table.columns:
            if c.references and c.references.split(".")[0] != table.name:
                visit(CONTRACTS[c.references.split(".")[0]])
        ordered.append(table)

    for table in tables:
        visit(table)
    return ordered


def load_raw(con: duckdb.DuckDBPyConnection, erp_dir: Path) -> dict[str, tuple[int, int]]:
    con.execute("create or replace table rejected_rows (source_table varchar, line_number bigint, reason varchar)")
    con.execute(
        f"create or replace table exchange_rate as select * from read_csv("
        f"{_literal(str(erp_dir / 'external' / 'exchange_rate.csv'))}, header = true, "
        "columns = {'rate_date': 'date', 'currency': 'varchar', 'krw_per_unit': 'double'})"
    )
    return {t.name: load_table(con, erp_dir, t) for t in _upstream_first(list(ALL_TABLES))}


def build_models(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """dsop's staging views and marts over the full history, upstream first."""
    models = _models()
    done: dict[str, int] = {}

    def build(name: str) -> None:
        if name in done:
            return
        sql = models[name]
        for ref in _REF.findall(sql):
            build(ref)
        kind = "view" if _is_view(sql) else "table"
        con.execute(f"create or replace {kind} {_quote(name)} as {_render(sql)}")
        done[name] = con.execute(f"select count(*) from {_quote(name)}").fetchone()[0]

    for name in sorted(models):
        build(name)
    return done


def run(erp_dir: Path, db: Path, scope: str = "all") -> dict:
    db.unlink(missing_ok=True)
    began = time.perf_counter()
    with duckdb.connect(str(db)) as con:
        loaded = load_raw(con, erp_dir)
        built = build_models(con) if scope == "all" else {}
    return {"seconds": time.perf_counter() - began, "loaded": loaded, "models": built}


def compare_marts(yardstick_db: Path, dsop_db: Path) -> list[tuple[str, int, int, bool]]:
    """Row count and a checksum of every numeric column, per mart table, in both warehouses."""
    out = []
    with duckdb.connect(str(yardstick_db), read_only=True) as con:
        con.execute(f"attach {_literal(str(dsop_db))} as dsop (read_only)")
        tables = [name for name, sql in _models().items() if not _is_view(sql)]
        for table in tables:
            numeric = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_catalog = current_database() "
                "and table_name = $t and data_type in ('DOUBLE', 'BIGINT', 'INTEGER', 'HUGEINT', 'DECIMAL')",
                {"t": table}).fetchall()]
            sums = ", ".join(f"round(sum({_quote(c)}), 3)" for c in numeric) or "0"
            mine = con.execute(f"select count(*), {sums} from {_quote(table)}").fetchone()
            try:
                theirs = con.execute(f"select count(*), {sums} from dsop.{_quote(table)}").fetchone()
            except duckdb.Error:
                theirs = (0,)
            out.append((table, mine[0], theirs[0], _close(mine, theirs)))
    return out


def _close(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    return all(x == y or (x is not None and y is not None and abs(x - y) <= 1e-6 * max(1.0, abs(x))) for x, y in zip(a, b))


if __name__ == "__main__":
    result = run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "all")
    rejected = sum(r for _, r in result["loaded"].values())
    valid = sum(v for v, _ in result["loaded"].values())
    print(f"[yardstick] {valid:,} rows loaded, {rejected:,} rejected, {len(result['models'])} models, "
          f"{result['seconds']:.2f}s", file=sys.stderr)

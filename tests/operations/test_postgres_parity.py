"""The aggregate stages give the same tables on Postgres as on DuckDB, row for row.

Both warehouses load the same generated ERP folder through Dagster, so any difference comes from
the SQL models' dialect translation or the warehouses' type handling, not from the data.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from dsop_resources.duckdb_warehouse import DuckDBWarehouse
from dsop_resources.postgres_warehouse import PostgresWarehouse
from tests.postgres.conftest import SESSION_PREFIX

pytestmark = pytest.mark.postgres

END = date(2025, 6, 29)


def _run(erp_dir, warehouse, start: date) -> None:
    import dagster as dg

    from dsop_jobs.definitions import build_assets
    from dsop_jobs.jobs import build_jobs
    from dsop_jobs.pipeline import demo_stages, run_history
    from dsop_resources.factory import core_resources

    # Without the asset checks: they write nothing and would double the run time (~5 s on masters).
    assets = build_assets()
    defs = dg.Definitions(assets=assets, jobs=build_jobs(assets),
                          resources=core_resources(erp_dir=str(erp_dir), warehouse=warehouse))
    with dg.DagsterInstance.ephemeral() as instance:
        run_history(defs, instance, start, END, demo_stages()[:3])


@pytest.fixture(scope="module")
def both(tmp_path_factory, pg_url):
    from dsop_jobs.demo_data.generator import generate

    root = tmp_path_factory.mktemp("parity")
    # Injected errors give the quarantine table rows to compare too.
    manifest = generate(root / "erp", scale="tiny", seed=11, end_date=END, inject_errors=True)
    start = date.fromisoformat(manifest["start_date"])
    duck = DuckDBWarehouse(path=str(root / "parity.duckdb"))
    pg = PostgresWarehouse(url=pg_url, schema=f"{SESSION_PREFIX}_parity")
    _run(root / "erp", duck, start)
    _run(root / "erp", pg, start)
    return duck, pg


def test_catalog_names_come_back_as_text(both):
    # information_schema columns are of type "name", not text: they once came back as nulls.
    _, pg = both
    names = pg.query("select table_name, cast('x' as char(3)) as padded from information_schema.tables "
                     f"where table_schema = '{pg.schema_}'")
    assert names.height and names["table_name"].null_count() == 0
    assert names["padded"].str.strip_chars().to_list() == ["x"] * names.height


def _tables(warehouse) -> set[str]:
    """Tables and views: the staging views run through the dialect translation too."""
    kinds = "table_type in ('BASE TABLE', 'VIEW')"
    if isinstance(warehouse, DuckDBWarehouse):
        return set(warehouse.query(f"select table_name from information_schema.tables where {kinds}")["table_name"])
    sql = f"select table_name from information_schema.tables where table_schema = '{warehouse.schema_}' and {kinds}"
    return set(warehouse.query(sql)["table_name"])


def _normalised(frame: pl.DataFrame) -> pl.DataFrame:
    """Integers and decimals compare as floats; engines pick different widths for the same value."""
    casts = []
    for name, dtype in frame.schema.items():
        if dtype.is_numeric():
            casts.append(pl.col(name).cast(pl.Float64))
        elif dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
            casts.append(pl.col(name).dt.replace_time_zone(None).dt.cast_time_unit("us"))
    return frame.with_columns(casts) if casts else frame


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (float, Decimal)) or isinstance(b, (float, Decimal)):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


WALL_CLOCK = {"loaded_at"}
EXPECTED = {
    "product_master", "customer", "supplier", "bom", "daily_order", "daily_revenue", "daily_production",
    "inventory", "purchase_order", "erp_rejected_rows", "exchange_rate", "economic_indicator",
    "weekly_product_summary", "weekly_customer_summary", "monthly_product_summary",
    "monthly_customer_summary", "calendar_week", "feature_store_weekly", "feature_store_monthly",
    "stg_daily_order", "stg_daily_revenue", "stg_daily_production",
}


def test_every_table_matches_between_duckdb_and_postgres(both):
    duck, pg = both
    tables = _tables(duck)
    assert EXPECTED <= tables, EXPECTED - tables
    assert _tables(pg) == tables
    problems = []
    for table in sorted(tables):
        left, right = _normalised(duck.read_table(table)), _normalised(pg.read_table(table))
        if left.columns != right.columns:
            problems.append(f"{table}: columns {left.columns} != {right.columns}")
            continue
        if left.height != right.height:
            problems.append(f"{table}: {left.height} rows on duckdb, {right.height} on postgres")
            continue
        if left.height == 0:
            problems.append(f"{table}: empty on both, so it proves nothing")
            continue
        # Wall-clock stamps differ between the two runs by construction: only their presence must agree.
        stamps = [c for c in left.columns if c in WALL_CLOCK]
        left = left.with_columns(pl.col(c).is_not_null() for c in stamps)
        right = right.with_columns(pl.col(c).is_not_null() for c in stamps)
        keys = left.columns
        left, right = left.sort(keys, nulls_last=True), right.sort(keys, nulls_last=True)
        for column in keys:
            bad = [i for i, (a, b) in enumerate(zip(left[column].to_list(), right[column].to_list())) if not _equal(a, b)]
            if bad:
                i = bad[0]
                problems.append(f"{table}.{column}: {len(bad)} rows differ, e.g. {left.row(i)} vs {right.row(i)}")
    assert not problems, "\n".join(problems)

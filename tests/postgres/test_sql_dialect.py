"""DuckDB-dialect snippets the SQL models rely on give the same frame on DuckDB and Postgres."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from dsop_resources.sql_dialect import strftime_to_char, to_postgres

DATA = pl.DataFrame(
    {
        "d": [date(2020, 12, 28), date(2021, 1, 3), date(2024, 1, 1), date(2024, 2, 29), date(2024, 12, 30)],
        "p": ["a", "a", "b", "b", "b"],
        "x": [1, 2, 3, None, 5],
        "v": [0.5, 1.25, None, 4.0, 10.0],
    }
)

SNIPPETS = {
    "date_trunc": "select d, date_trunc('week', d) as w, date_trunc('month', d) as m from t",
    "extract": "select extract(isoyear from d) as iy, extract(week from d) as wk, "
    "extract(year from d) as y, extract(dow from d) as dw from t",
    "part_functions": "select year(d) as y, month(d) as m, week(d) as w, isoyear(d) as iy, "
    "isodow(d) as idw, quarter(d) as q, dayofyear(d) as doy from t",
    "iso_week_label": "select strftime(d, '%G-W%V') as iso, strftime(d, '%Y-%m-%d') as ymd from t",
    "casts_and_division": "select cast(x as double) as xd, x / 2 as half, cast(v as bigint) as vi, "
    "cast(x as varchar) as xs from t",
    "interval_arithmetic": "select d + interval 7 day as next_week, d - interval '1 month' as prev, "
    "d + 7 as plus7, cast(d + interval 1 day as date) as tomorrow from t",
    "window": "select d, p, sum(v) over (partition by p order by d rows between 1 preceding and current row) as s, "
    "row_number() over (partition by p order by d desc) as rn, lag(d) over (partition by p order by d) as prev "
    "from t",
    "filter_coalesce": "select p, count(*) filter (where v > 1) as big, count(*) as n, "
    "coalesce(cast(sum(x) as bigint), 0) as sx, sum(v) as sv, coalesce(max(v), -1.0) as mv from t group by p",
    "generate_series": "select cast(g.d as date) as d from "
    "generate_series(date '2024-01-01', date '2024-01-29', interval '1 week') as g(d)",
    "range_exclusive": "select r.d from range(date '2024-01-01', date '2024-01-29', interval 1 week) as r(d)",
    "case_greatest": "select case when v > 1 then 'hi' else 'lo' end as band, greatest(x, 2) as g, "
    "least(v, 3.0) as l, abs(x - 3) as a from t",
    "qualify": "select p, d from t qualify row_number() over (partition by p order by d desc) = 1",
    "median": "select p, median(v) as med, quantile_cont(v, 0.9) as p90 from t group by p",
    "string_agg": "select p, string_agg(cast(x as varchar), ',' order by x) as xs from t group by p",
    "like_percent": "select p from t where p like 'a%' or cast(x as varchar) like '%5'",
    "make_date": "select make_date(2024, 2, 1) as first, last_day(d) as eom from t",
}


def test_strftime_quotes_literal_text() -> None:
    assert strftime_to_char("%G-W%V") == 'IYYY"-W"IW'
    assert strftime_to_char("%Y-%m-%d") == 'YYYY"-"MM"-"DD'
    with pytest.raises(ValueError):
        strftime_to_char("%Q")


def test_parameters_and_percent_survive_psycopg() -> None:
    sql = to_postgres("select * from t where p = $p and q like 'a%' and x % 2 = 0")
    assert "%(p)s" in sql and "'a%%'" in sql and "x %% 2" in sql


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippet_matches_duckdb(name, duck_warehouse, pg_warehouse) -> None:
    duck_warehouse.write("t", DATA)
    pg_warehouse.write("t", DATA)
    sql = SNIPPETS[name]
    expected = duck_warehouse.query(sql)
    got = pg_warehouse.query(sql)
    order = expected.columns
    assert got.columns == expected.columns, to_postgres(sql)
    assert got.schema == expected.schema, to_postgres(sql)
    assert got.sort(order, nulls_last=True).equals(expected.sort(order, nulls_last=True)), (
        f"{to_postgres(sql)}\nduckdb:\n{expected}\npostgres:\n{got}"
    )


def test_parameters_match(duck_warehouse, pg_warehouse) -> None:
    for warehouse in (duck_warehouse, pg_warehouse):
        warehouse.write("t", DATA)
    sql = "select d, x from t where p = $p and d >= $since order by d"
    params = {"p": "b", "since": date(2024, 2, 1)}
    assert pg_warehouse.query(sql, params).equals(duck_warehouse.query(sql, params))

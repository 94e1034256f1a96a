"""The Postgres warehouse honours the DuckDB warehouse's contract, call for call."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta

import dagster as dg
import polars as pl
import psycopg
import pytest

from dsop_resources.postgres_warehouse import PostgresWarehouse
from dsop_resources.warehouse import Window

JAN = Window("week", date(2024, 1, 1), date(2024, 2, 1))
FEB = Window("week", date(2024, 2, 1), date(2024, 3, 1))


def _weeks(start: date, n: int, product: str, qty: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "week": [start + timedelta(weeks=i) for i in range(n)],
            "product": [product] * n,
            "qty": [qty + i for i in range(n)],
            "units": pl.Series([i for i in range(n)], dtype=pl.Int64),
            "loaded_at": [datetime(2024, 3, 1, 12, 30, 15, 250)] * n,
            "note": ["", None] + ["x,\"y\""] * (n - 2),
            "ok": [True, False] + [None] * (n - 2),
        }
    )


def _sequence(warehouse) -> list[pl.DataFrame]:
    """Writes and reads touching every path of the contract; returns what was read."""
    seen = []
    warehouse.write("demand", _weeks(date(2024, 1, 1), 8, "A", 1.0))  # whole table
    warehouse.write("demand", _weeks(date(2024, 1, 1), 5, "B", 10.0))  # whole table again
    warehouse.write("demand", _weeks(date(2024, 1, 1), 8, "A", 1.0), window=JAN, keys={"product": ["A"]})
    seen.append(warehouse.read_table("demand").sort("week", "product"))
    # Replaces January's A rows only; B stays, February's A rows are appended as-is (contract).
    redo = _weeks(date(2024, 1, 1), 4, "A", 100.0).with_columns(channel=pl.lit("web"))
    warehouse.write("demand", redo, window=JAN, keys={"product": ["A"]})
    seen.append(warehouse.read_table("demand").sort("week", "product", "qty"))
    warehouse.write("demand", redo.head(0), keys={"product": []})  # empty key list deletes nothing
    seen.append(warehouse.query("select count(*) as n from demand"))
    weekly = (
        "select week, product, cast(sum(qty) as double) as qty, cast(count(*) as bigint) as n, "
        "strftime(week, '%G-W%V') as iso_week from demand group by week, product"
    )
    seen.append(pl.DataFrame({"written": [warehouse.write_select("weekly", weekly)]}))
    seen.append(warehouse.read_table("weekly").sort("week", "product"))
    written = warehouse.write_select("weekly", weekly + " having sum(qty) > 5", window=FEB)
    seen.append(pl.DataFrame({"written": [written]}))
    seen.append(warehouse.read_table("weekly", window=FEB).sort("week", "product"))
    seen.append(warehouse.query("select * from weekly where product = $p", {"p": "nobody"}))
    columns = ",".join(warehouse.columns("weekly"))
    seen.append(pl.DataFrame({"cols": [columns], "rows": [warehouse.row_count("weekly", JAN)]}))
    warehouse.write("demand", _weeks(date(2024, 1, 1), 2, "C", 0.0).select("week", "product", "qty"))
    seen.append(warehouse.read_table("demand").sort("week"))
    return seen


def test_parity_with_duckdb(duck_warehouse, pg_warehouse) -> None:
    expected = _sequence(duck_warehouse)
    got = _sequence(pg_warehouse)
    for i, (want, have) in enumerate(zip(expected, got)):
        assert have.schema == want.schema, f"step {i}: {have.schema} != {want.schema}"
        assert have.equals(want), f"step {i}\nduckdb:\n{want}\npostgres:\n{have}"


def test_empty_query_keeps_columns_and_types(pg_warehouse) -> None:
    pg_warehouse.write("t", _weeks(date(2024, 1, 1), 3, "A", 1.0))
    empty = pg_warehouse.query("select week, qty, units, loaded_at, ok from t where false")
    assert empty.height == 0
    assert empty.schema == pl.Schema(
        {"week": pl.Date, "qty": pl.Float64, "units": pl.Int64, "loaded_at": pl.Datetime("us"), "ok": pl.Boolean}
    )
    assert pg_warehouse.read_table("missing").shape == (0, 0)
    assert not pg_warehouse.table_exists("missing") and pg_warehouse.row_count("missing") == 0


def test_failed_write_rolls_back(pg_warehouse) -> None:
    pg_warehouse.write("t", _weeks(date(2024, 1, 1), 3, "A", 1.0))
    bad = _weeks(date(2024, 1, 1), 3, "A", 1.0).with_columns(units=pl.lit("not a number"))
    with pytest.raises(psycopg.Error):
        pg_warehouse.write("t", bad, window=JAN)
    assert pg_warehouse.row_count("t") == 3


def test_batches_replace_the_window_in_one_transaction(duck_warehouse, pg_warehouse) -> None:
    """``write_batches`` on both backends: the window's rows replaced by every batch, the rows outside
    kept, and a build that fails half-way (or a batch the table refuses) leaves the window as it was."""
    batches = [_weeks(date(2024, 1, 1), 2, "A", 1.0), _weeks(date(2024, 1, 15), 2, "B", 5.0)]

    def failing():
        yield batches[0]
        raise RuntimeError("build failed")

    refused = [batches[0], batches[1].with_columns(units=pl.lit("not a number"))]
    for warehouse in (duck_warehouse, pg_warehouse):
        warehouse.write("t", _weeks(date(2024, 1, 1), 8, "OLD", 0.0))  # five weeks in JAN, three after
        assert warehouse.write_batches("t", iter(batches), JAN) == 4
        after = warehouse.query("select week, product, qty from t order by week, product")
        assert after.filter(pl.col("week") < date(2024, 2, 1))["product"].to_list() == ["A", "A", "B", "B"]
        assert after.filter(pl.col("week") >= date(2024, 2, 1))["product"].to_list() == ["OLD"] * 3
        with pytest.raises(RuntimeError, match="build failed"):
            warehouse.write_batches("t", failing(), JAN)
        with pytest.raises(Exception):
            warehouse.write_batches("t", iter(refused), JAN)
        assert warehouse.query("select week, product, qty from t order by week, product").equals(after)
        assert warehouse.write_batches("t", iter([]), JAN) == 0
        assert warehouse.row_count("t", JAN) == 0 and warehouse.row_count("t") == 3
        assert warehouse.write_batches("fresh", iter([]), JAN) == 0 and not warehouse.table_exists("fresh")
        assert warehouse.write_batches("fresh", iter(batches), JAN) == 4  # the first batch creates the table
        assert warehouse.query("select product from fresh order by week, product")["product"].to_list() == [
            "A", "A", "B", "B"]


def test_reshaped_full_write_keeps_table_grants(pg_url, pg_warehouse) -> None:
    pg_warehouse.write("t", _weeks(date(2024, 1, 1), 3, "A", 1.0))
    pg_warehouse.execute("grant select on t to public")
    pg_warehouse.write("t", pl.DataFrame({"week": [date(2024, 1, 1)], "extra": [1.5]}))
    assert pg_warehouse.columns("t") == ["week", "extra"]
    with psycopg.connect(pg_url) as con:
        acl = con.execute(
            "select relacl::text from pg_class where oid = to_regclass(%s)", (f'"{pg_warehouse.schema_}"."t"',)
        ).fetchone()[0]
    assert "=r/" in acl  # PUBLIC's select survived the drop and recreate


def test_url_stays_secret(monkeypatch, pg_url, pg_schema) -> None:
    secret_url = pg_url.replace("@", ":s3cret@", 1)
    warehouse = PostgresWarehouse(url=secret_url, schema=pg_schema)
    assert "s3cret" not in repr(warehouse) and "s3cret" not in str(warehouse)
    monkeypatch.setenv("DSOP_POSTGRES_URL", pg_url)

    @dg.asset
    def probe(warehouse: PostgresWarehouse) -> dg.MaterializeResult:
        warehouse.write("probe", pl.DataFrame({"x": [1, 2]}))
        return dg.MaterializeResult(metadata={"rows": warehouse.row_count("probe")})

    defs = dg.Definitions(
        assets=[probe],
        resources={"warehouse": PostgresWarehouse(url=dg.EnvVar("DSOP_POSTGRES_URL"), schema=pg_schema)},
    )
    result = dg.materialize([probe], resources=defs.resources)
    assert result.success


def test_copy_bulk_load(pg_warehouse) -> None:
    n = 200_000
    frame = pl.DataFrame(
        {
            "week": pl.date_range(date(2000, 1, 1), date(2000, 1, 1) + timedelta(days=n - 1), eager=True),
            "product": [f"P{i % 500:04d}" for i in range(n)],
            "site": [f"S{i % 7}" for i in range(n)],
            "qty": pl.Series(range(n), dtype=pl.Int64),
            "value": [i * 0.37 for i in range(n)],
        }
    )
    started = time.perf_counter()
    assert pg_warehouse.write("bulk", frame) == n
    elapsed = time.perf_counter() - started
    print(f"COPY: {n} rows in {elapsed:.2f}s = {n / elapsed:,.0f} rows/s")
    assert pg_warehouse.row_count("bulk") == n


def test_concurrent_writers_of_one_window_do_not_duplicate(pg_warehouse) -> None:
    frame = _weeks(date(2024, 1, 1), 4, "A", 1.0)
    pg_warehouse.write("t", frame, window=JAN)
    errors: list[Exception] = []

    def rewrite() -> None:
        try:
            for _ in range(3):
                pg_warehouse.write("t", frame, window=JAN)
        except Exception as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=rewrite) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and pg_warehouse.row_count("t") == frame.height


def test_a_writer_waiting_for_a_table_logs_the_holders_backend_pid(pg_url, pg_schema, caplog):
    import logging
    import threading

    import polars as pl
    import psycopg

    from dsop_resources.postgres_warehouse import PostgresWarehouse

    warehouse = PostgresWarehouse(url=pg_url, schema=pg_schema, lock_report_seconds=0.3)
    warehouse.write("locked", pl.DataFrame({"x": [1]}))
    with psycopg.connect(pg_url) as holder:
        holder.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f'"{pg_schema}"."locked"',))
        holder_pid = holder.info.backend_pid
        threading.Timer(1.2, holder.rollback).start()
        with caplog.at_level(logging.WARNING, logger="dsop.warehouse"):
            warehouse.write("locked", pl.DataFrame({"x": [2]}))
    waits = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert waits and all(f"backend PID {holder_pid}" in m for m in waits), waits
    assert warehouse.query("select x from locked")["x"].to_list() == [2]

"""The end-of-demo table list names the Postgres schema (not pydantic's ``BaseModel.schema`` method)."""

from types import SimpleNamespace

import polars as pl

from dsop_jobs.report import describe_warehouse


def test_describe_warehouse_names_the_postgres_schema(pg_warehouse, pg_schema):
    pg_warehouse.write("tiny_table", pl.DataFrame({"x": [1, 2, 3]}))
    text = describe_warehouse(SimpleNamespace(resources={"warehouse": pg_warehouse}))
    assert text.splitlines()[0] == f"Warehouse: postgres schema {pg_schema}"
    assert any(line.split()[:1] == ["tiny_table"] and line.split()[-1] == "3" for line in text.splitlines())

"""The four dsop roles can do what the original system's viewer/analyst/manager/admin could."""

from __future__ import annotations

from datetime import date

import polars as pl
import psycopg
import pytest

from dsop_resources.roles import apply_roles, render_roles_sql


@pytest.fixture
def planning_schema(pg_url, pg_warehouse) -> str:
    pg_warehouse.write("forecast_result", pl.DataFrame({"week": [date(2024, 1, 1)], "qty": [1.0]}))
    pg_warehouse.write("action_queue", pl.DataFrame({"id": [1], "status": ["open"], "note": ["n"]}))
    pg_warehouse.write("planning_parameter", pl.DataFrame({"name": ["safety_weeks"], "value": [2.0]}))
    pg_warehouse.write("stg_orders", pl.DataFrame({"order_id": [1], "qty": [3.0]}))
    report = apply_roles(pg_url, pg_warehouse.schema_)
    apply_roles(pg_url, pg_warehouse.schema_)  # idempotent: a second run changes nothing and does not fail
    assert set(report.viewer_tables) == {"forecast_result", "action_queue"}
    assert set(report.manager_tables) == {"planning_parameter", "action_queue"}
    assert "risk_score" in report.missing_tables
    return pg_warehouse.schema_


def _as(pg_url: str, schema: str, role: str, sql: str) -> list[tuple]:
    with psycopg.connect(pg_url, options=f"-c search_path={schema}") as con:
        con.execute(f"set role {role}")
        cur = con.execute(sql)
        rows = cur.fetchall() if cur.description else []
        con.rollback()  # nothing a test does as a role should stay
        return rows


DENIED = psycopg.errors.InsufficientPrivilege


def test_viewer_reads_reporting_tables_only(pg_url, planning_schema) -> None:
    assert _as(pg_url, planning_schema, "dsop_viewer", "select qty from forecast_result") == [(1.0,)]
    for sql in (
        "select * from stg_orders",
        "insert into forecast_result values (date '2024-01-08', 2.0)",
        "update forecast_result set qty = 0",
        "delete from forecast_result",
        "create table scratch (x int)",
        "update action_queue set status = 'done'",
    ):
        with pytest.raises(DENIED):
            _as(pg_url, planning_schema, "dsop_viewer", sql)


def test_analyst_reads_everything_writes_nothing(pg_url, planning_schema, pg_warehouse) -> None:
    assert _as(pg_url, planning_schema, "dsop_analyst", "select order_id from stg_orders") == [(1,)]
    pg_warehouse.write("later_table", pl.DataFrame({"x": [7]}))  # default privileges cover new tables
    assert _as(pg_url, planning_schema, "dsop_analyst", "select x from later_table") == [(7,)]
    for sql in ("insert into stg_orders values (2, 1.0)", "update planning_parameter set value = 3"):
        with pytest.raises(DENIED):
            _as(pg_url, planning_schema, "dsop_analyst", sql)


def test_manager_edits_parameters_and_action_status(pg_url, planning_schema) -> None:
    _as(pg_url, planning_schema, "dsop_manager", "update action_queue set status = 'done' where id = 1")
    _as(pg_url, planning_schema, "dsop_manager", "update planning_parameter set value = 3")
    _as(pg_url, planning_schema, "dsop_manager", "insert into planning_parameter values ('lead_weeks', 4.0)")
    for sql in (
        "update action_queue set note = 'x'",
        "update forecast_result set qty = 0",
        "delete from stg_orders",
        "delete from action_queue",
    ):
        with pytest.raises(DENIED):
            _as(pg_url, planning_schema, "dsop_manager", sql)


def test_admin_does_anything(pg_url, planning_schema) -> None:
    _as(pg_url, planning_schema, "dsop_admin", "delete from stg_orders")
    _as(pg_url, planning_schema, "dsop_admin", "create table scratch (x int)")


def test_grants_survive_a_reshaping_rewrite(pg_url, planning_schema, pg_warehouse) -> None:
    pg_warehouse.write("action_queue", pl.DataFrame({"id": [2], "status": ["open"], "owner": ["kim"]}))
    assert _as(pg_url, planning_schema, "dsop_viewer", "select id from action_queue") == [(2,)]
    _as(pg_url, planning_schema, "dsop_manager", "update action_queue set status = 'done'")


def test_rendered_script_names_every_role() -> None:
    sql = render_roles_sql("dsop")
    for role in ("dsop_viewer", "dsop_analyst", "dsop_manager", "dsop_admin"):
        assert f"create role {role}" in sql
    assert 'grant select on "dsop"."weekly_product_summary" to dsop_viewer;' in sql
    assert "{schema}" not in sql and "{for_role}" not in sql

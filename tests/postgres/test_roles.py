"""The four dsop roles can do what the original system's viewer/analyst/manager/admin could.

Roles are cluster-wide, so this session creates its own set (``<session>_viewer`` ...) and drops it
at the end; the schema is the session's own too.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

import polars as pl
import psycopg
import pytest

from dsop_assets.planner.action_status import StatusUpdate, append_updates, to_frame
from dsop_resources.postgres_warehouse import PostgresWarehouse
from dsop_resources.roles import ROLE_KINDS, apply_roles, render_roles_sql, role_names
from tests.postgres.conftest import SESSION_PREFIX

ACTION = "0123456789abcdef"


@pytest.fixture(scope="session")
def roles(pg_url):
    names = role_names(SESSION_PREFIX)
    yield names
    with psycopg.connect(pg_url, autocommit=True) as con:
        for name in reversed(list(names.values())):
            if con.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone():
                con.execute(f'drop owned by "{name}"')
                con.execute(f'drop role "{name}"')


@pytest.fixture
def planning_schema(pg_url, pg_warehouse, roles) -> str:
    pg_warehouse.write("forecast_result", pl.DataFrame({"week": [date(2024, 1, 1)], "qty": [1.0]}))
    pg_warehouse.write("action_queue", pl.DataFrame({"action_id": [ACTION], "status": ["open"], "note": ["n"]}))
    pg_warehouse.write("action_status", to_frame([StatusUpdate(ACTION, "in_progress", datetime(2024, 1, 8))], "csv"))
    pg_warehouse.write("weekly_planning_report", pl.DataFrame({"week_start": [date(2024, 1, 1)], "language": ["ko"]}))
    pg_warehouse.write("kpi_trend", pl.DataFrame({"week_start": [date(2024, 1, 1)], "adoption": [0.5]}))
    pg_warehouse.write("stg_orders", pl.DataFrame({"order_id": [1], "qty": [3.0]}))
    report = apply_roles(pg_url, pg_warehouse.schema_, prefix=SESSION_PREFIX)
    apply_roles(pg_url, pg_warehouse.schema_, prefix=SESSION_PREFIX)  # idempotent: a second run changes nothing
    assert set(report.viewer_tables) == {"forecast_result", "action_queue", "weekly_planning_report", "kpi_trend"}
    assert report.manager_tables == ["action_status"]
    assert "risk_score" in report.missing_tables and "planning_parameter" not in report.missing_tables
    return pg_warehouse.schema_


def _as(pg_url: str, schema: str, role: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(pg_url, options=f"-c search_path={schema}") as con:
        con.execute(f'set role "{role}"')
        cur = con.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        con.rollback()  # nothing a test does as a role should stay
        return rows


DENIED = psycopg.errors.InsufficientPrivilege


def test_viewer_reads_the_report_and_summaries_only(pg_url, planning_schema, roles) -> None:
    viewer = roles["viewer"]
    assert _as(pg_url, planning_schema, viewer, "select qty from forecast_result") == [(1.0,)]
    assert _as(pg_url, planning_schema, viewer, "select language from weekly_planning_report") == [("ko",)]
    assert _as(pg_url, planning_schema, viewer, "select adoption from kpi_trend") == [(0.5,)]
    for sql in (
        "select * from stg_orders",
        "select * from action_status",
        "insert into forecast_result values (date '2024-01-08', 2.0)",
        "update forecast_result set qty = 0",
        "delete from kpi_trend",
        "create table scratch (x int)",
        f"insert into action_status (update_id, action_id, status) values ('x', '{ACTION}', 'done')",
    ):
        with pytest.raises(DENIED):
            _as(pg_url, planning_schema, viewer, sql)


def test_analyst_reads_everything_writes_nothing(pg_url, planning_schema, pg_warehouse, roles) -> None:
    analyst = roles["analyst"]
    assert _as(pg_url, planning_schema, analyst, "select order_id from stg_orders") == [(1,)]
    assert _as(pg_url, planning_schema, analyst, "select status from action_status") == [("in_progress",)]
    pg_warehouse.write("later_table", pl.DataFrame({"x": [7]}))  # default privileges cover new tables
    assert _as(pg_url, planning_schema, analyst, "select x from later_table") == [(7,)]
    for sql in ("insert into stg_orders values (2, 1.0)",
                f"insert into action_status (update_id, action_id, status) values ('x', '{ACTION}', 'done')"):
        with pytest.raises(DENIED):
            _as(pg_url, planning_schema, analyst, sql)


def test_manager_records_action_statuses_and_nothing_else(pg_url, planning_schema, roles) -> None:
    manager = roles["manager"]
    # The `dsop action` path, connected as the manager: plain inserts, never a delete.
    as_manager = f"{pg_url}?options={quote(f'-c role={manager}')}"
    warehouse = PostgresWarehouse(url=as_manager, schema=planning_schema)
    update = to_frame([StatusUpdate(ACTION, "done", datetime(2024, 1, 9, 8), recorded_by="kim")], "cli")
    assert append_updates(warehouse, update) == 1
    append_updates(warehouse, update)  # recording the same update twice stores it once
    stored = warehouse.query("select status, source from action_status order by recorded_at")
    assert stored.rows() == [("in_progress", "csv"), ("done", "cli")]
    for sql in (
        "update action_status set status = 'dismissed'",
        "delete from action_status",
        "update action_queue set status = 'done'",
        "update forecast_result set qty = 0",
        "delete from stg_orders",
        "create table scratch (x int)",
    ):
        with pytest.raises(DENIED):
            _as(pg_url, planning_schema, manager, sql)


def test_admin_does_anything(pg_url, planning_schema, roles) -> None:
    admin = roles["admin"]
    _as(pg_url, planning_schema, admin, "delete from stg_orders")
    _as(pg_url, planning_schema, admin, "update action_status set status = 'dismissed'")
    _as(pg_url, planning_schema, admin, "create table scratch (x int)")


def test_grants_survive_a_reshaping_rewrite(pg_url, planning_schema, pg_warehouse, roles) -> None:
    pg_warehouse.write("kpi_trend", pl.DataFrame({"week_start": [date(2024, 1, 8)], "adoption": [0.9],
                                                  "sync_success": [1.0]}))
    assert _as(pg_url, planning_schema, roles["viewer"], "select adoption from kpi_trend") == [(0.9,)]


def test_rendered_script_names_every_role() -> None:
    sql = render_roles_sql("dsop")
    for kind in ROLE_KINDS:
        assert f"create role dsop_{kind}" in sql
    assert 'grant select on "dsop"."weekly_product_summary" to dsop_viewer;' in sql
    assert 'grant insert on "dsop"."action_status" to dsop_manager;' in sql
    assert "planning_parameter" not in sql
    assert "{schema}" not in sql and "{for_role}" not in sql
    other = render_roles_sql("dsop", prefix="acme")
    assert "create role acme_manager" in other and "dsop_manager" not in other

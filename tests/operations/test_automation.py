"""Schedules target the window that just closed; the drop-folder sensor reacts once per file content."""

import json
import os
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from dsop_jobs.definitions import build_definitions
from tests.erp.small_export import write_csv, write_small_export

DEFS = build_definitions()


def _schedule_request(name: str, when: datetime):
    schedule = DEFS.resolve_schedule_def(name)
    context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=DEFS.get_repository_def())
    requests = schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1
    return requests[0]


def test_weekly_schedule_targets_the_iso_week_that_just_closed_across_the_year_end():
    seoul = ZoneInfo("Asia/Seoul")
    # Monday 2025-01-06 05:00 Seoul: the week that closed is ISO 2025-W01, which began on 2024-12-30.
    assert _schedule_request("weekly_refresh_schedule", datetime(2025, 1, 6, 5, tzinfo=seoul)).partition_key == "2024-12-30"
    # Monday 2024-12-30: the week that closed is ISO 2024-W52.
    assert _schedule_request("weekly_refresh_schedule", datetime(2024, 12, 30, 5, tzinfo=seoul)).partition_key == "2024-12-23"
    schedule = DEFS.resolve_schedule_def("weekly_refresh_schedule")
    assert schedule.execution_timezone == "Asia/Seoul" and schedule.cron_schedule == "0 5 * * 1"
    # Tagged so that refresh_chain_sensor runs the week's forecasts and decisions after it.
    tags = _schedule_request("weekly_refresh_schedule", datetime(2025, 1, 6, 5, tzinfo=seoul)).tags
    assert tags["dsop/chain"] == "weekly_refresh_schedule"


def test_monthly_schedule_targets_the_previous_month_across_the_year_end():
    seoul = ZoneInfo("Asia/Seoul")
    assert _schedule_request("monthly_refresh_schedule", datetime(2025, 1, 1, 6, tzinfo=seoul)).partition_key == "2024-12-01"
    assert DEFS.resolve_schedule_def("monthly_refresh_schedule").cron_schedule == "0 6 1 * *"


def test_schedules_and_sensors_say_what_they_do():
    for item in [*DEFS.schedules, *DEFS.sensors]:
        assert item.description and len(item.description) > 30, item.name


def _tick(erp_dir, cursor=None):
    sensor = DEFS.resolve_sensor_def("erp_drop_folder_sensor")
    os.environ["DSOP_ERP_DIR"] = str(erp_dir)
    try:
        context = dg.build_sensor_context(cursor=cursor, definitions=DEFS)
        result = sensor.evaluate_tick(context)
    finally:
        del os.environ["DSOP_ERP_DIR"]
    return result.run_requests, result.cursor


def test_drop_folder_sensor_runs_once_per_file_content(tmp_path):
    folder = write_small_export(tmp_path / "erp")
    requests, cursor = _tick(folder)
    orders = [r for r in requests if r.tags["dsop/file"] == "daily_order.csv"]
    # Orders span 2024-12-29 .. 2025-01-06: ISO weeks 2024-12-23 .. 2025-01-06, months Dec and Jan.
    weekly = next(r for r in orders if r.job_name == "weekly_refresh_job")
    assert (weekly.tags["dagster/asset_partition_range_start"], weekly.tags["dagster/asset_partition_range_end"]) == (
        "2024-12-23", "2025-01-06")
    assert {k.to_user_string() for k in weekly.asset_selection} >= {"daily_order", "weekly_product_summary", "stg_daily_order"}
    monthly = next(r for r in orders if r.job_name == "monthly_refresh_job")
    assert (monthly.tags["dagster/asset_partition_range_start"], monthly.tags["dagster/asset_partition_range_end"]) == (
        "2024-12-01", "2025-01-01")
    assert any(r.job_name == "erp_masters_job" and r.tags["dsop/file"] == "customer.csv" for r in requests)

    again, cursor_again = _tick(folder, cursor)
    assert again == [] and json.loads(cursor_again) == json.loads(cursor)

    write_csv(folder / "daily_order.csv", ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price",
                                           "currency", "requested_delivery_date"],
              [["O9", "2025-02-12", "C1", "P1", "3", "150", "KRW", "2025-03-01"]])
    changed, _ = _tick(folder, cursor)
    assert {r.tags["dsop/file"] for r in changed} == {"daily_order.csv"}
    weekly = next(r for r in changed if r.job_name == "weekly_refresh_job")
    # One week: a run of that partition, not a range of one (whose check results the UI shows "Skipped").
    assert weekly.partition_key == "2025-02-10" and "dagster/asset_partition_range_start" not in weekly.tags
    assert weekly.run_key != next(r for r in orders if r.job_name == "weekly_refresh_job").run_key


def _evaluate(erp_dir, cursor=None):
    sensor = DEFS.resolve_sensor_def("erp_drop_folder_sensor")
    os.environ["DSOP_ERP_DIR"] = str(erp_dir)
    try:
        return sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, definitions=DEFS))
    finally:
        del os.environ["DSOP_ERP_DIR"]


def _order_file(path, order_id: str) -> None:
    write_csv(path, ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price", "currency",
                     "requested_delivery_date"], [[order_id, "2025-01-02", "C1", "P1", "3", "150", "KRW", "2025-03-01"]])


def test_a_reverted_file_reloads_and_the_same_content_under_a_new_name_loads(tmp_path):
    folder = write_small_export(tmp_path / "erp")
    _, cursor = _tick(folder)
    orders = folder / "daily_order.csv"
    keys = []
    for content in ("A", "B", "A"):
        _order_file(orders, content)
        requests, cursor = _tick(folder, cursor)
        assert {r.tags["dsop/file"] for r in requests} == {"daily_order.csv"}, content
        keys.append({r.run_key for r in requests})
    assert not (keys[0] & keys[2]), "A -> B -> A must not reuse A's run keys (Dagster would skip them)"
    (folder / "inbox").mkdir()
    (folder / "inbox" / "daily_order_copy.csv").write_bytes(orders.read_bytes())
    requests, cursor = _tick(folder, cursor)
    assert {r.tags["dsop/file"] for r in requests} == {"inbox/daily_order_copy.csv"}
    assert _tick(folder, cursor)[0] == []


def test_an_unreadable_file_is_reported_by_name_and_never_blocks_the_others(tmp_path):
    folder = write_small_export(tmp_path / "erp")
    first = _evaluate(folder)
    (folder / "inbox").mkdir()
    (folder / "inbox" / "daily_order_empty.csv").write_bytes(b"")
    (folder / "customer_bad.csv").write_text("name;country\nx;KR\n")
    _order_file(folder / "daily_revenue_x.csv", "X")  # wrong header for revenue
    _order_file(folder / "daily_order.csv", "N1")  # a good change next to the bad files
    result = _evaluate(folder, first.cursor)
    assert {r.tags["dsop/file"] for r in result.run_requests} == {"daily_order.csv"}
    reported = {e.metadata["rejected_file"].value: e.metadata["reason"].value for e in result.asset_events}
    assert set(reported) == {"inbox/daily_order_empty.csv", "customer_bad.csv", "daily_revenue_x.csv"}
    assert "empty" in reported["inbox/daily_order_empty.csv"]
    assert "header lacks required column(s)" in reported["customer_bad.csv"]
    assert {e.asset_key.to_user_string() for e in result.asset_events} == {"daily_order", "customer", "daily_revenue"}
    # The cursor advanced past them: the next tick neither re-reports nor re-requests anything.
    again = _evaluate(folder, result.cursor)
    assert again.run_requests == [] and again.asset_events == []
    only_bad = _evaluate(tmp_path / "erp", json.dumps({k: v for k, v in json.loads(result.cursor).items()
                                                      if k != "customer_bad.csv"}))
    assert "customer_bad.csv" in only_bad.skip_message and "header lacks" in only_bad.skip_message

"""Action follow-up: both ways in (CLI and CSV drop), validation, idempotence, and action_kpi."""

from datetime import date, datetime, timedelta

import dagster as dg
import polars as pl
import pytest

from dsop_assets.planner.action_kpi import action_kpi, action_outcomes
from dsop_assets.planner.action_status import SCHEMA, StatusUpdate, current_status, to_frame
from dsop_assets.planner.assets import action_kpi_asset, action_status
from dsop_jobs import cli
from dsop_jobs.planner_automation import build_planner_sensors
from tests.planner.conftest import WEEK, materialize


@pytest.fixture
def cli_env(monkeypatch, planner_warehouse):
    monkeypatch.setenv("DSOP_WAREHOUSE", "duckdb")
    monkeypatch.setenv("DSOP_DUCKDB_PATH", planner_warehouse.path)
    monkeypatch.setenv("DSOP_DUCKDB_READ_PATH", "")


def _week_actions(warehouse) -> list[str]:
    return warehouse.query("select action_id from action_queue where week_start = $w order by action_id",
                           {"w": WEEK})["action_id"].to_list()


def test_both_paths_show_up_in_action_kpi(planner_warehouse, planner_env, cli_env, instance, capsys):
    ids = _week_actions(planner_warehouse)
    assert len(ids) >= 4
    queue_before = planner_warehouse.query("select action_id, status from action_queue order by action_id")
    # 1) the command line
    assert cli.main(["action", "done", ids[0], "--by", "kim", "--at", "2025-07-01T09:00"]) == 0
    assert cli.main(["action", "dismiss", ids[1]]) == 2  # a dismissal needs a reason
    assert "dismissed needs a reason" in capsys.readouterr().err
    assert cli.main(["action", "done", "0123456789abcdef"]) == 2  # unknown id
    # 2) the CSV drop: two good rows, three bad ones, each rejected with its line and reason
    (planner_env / "inbox" / "action_status.csv").write_text(
        "action_id,status,reason,snoozed_until,recorded_by,recorded_at\n"
        f"{ids[1]},dismissed,customer cancelled the order,,lee,2025-07-02 10:00\n"
        f"{ids[2]},snoozed,,2025-07-14,lee,2025-07-03\n"
        f"{ids[3]},snoozed,,2025/07/14,lee,2025-07-03\n"
        f"{ids[3]},dismissed,,,lee,2025-07-03\n"
        "ffffffffffffffff,done,,,lee,2025-07-03\n", encoding="utf-8")
    for _ in range(2):  # loading the same file again changes nothing
        assert materialize([action_status], planner_warehouse, instance).success
        stored = planner_warehouse.query("select * from action_status order by recorded_at")
        assert stored["source"].to_list() == ["cli", "csv", "csv"]
    rejected = planner_warehouse.query("select * from action_status_rejected order by source_line")
    assert rejected["source_line"].to_list() == [4, 5, 6]
    assert "snoozed_until '2025/07/14' is not ISO" in rejected["reason"][0]
    assert rejected["reason"][1] == "dismissed needs a reason"
    assert "not in action_queue" in rejected["reason"][2]
    # action_queue is rebuilt from risk every week; the log is untouched by it
    assert planner_warehouse.query("select action_id, status from action_queue order by action_id").equals(queue_before)

    assert materialize([action_kpi_asset], planner_warehouse, instance).success
    kpi = planner_warehouse.query("select * from action_kpi where week_start = $w", {"w": WEEK}).row(0, named=True)
    assert (kpi["n_acted"], kpi["n_done"], kpi["n_dismissed"], kpi["n_snoozed"]) == (3, 1, 1, 1)
    assert kpi["acted_share"] == pytest.approx(3 / len(ids))
    # published Monday 2025-06-30 00:00; first updates 1 d 9 h, 2 d 10 h, 3 d later
    assert kpi["median_days_to_act"] == pytest.approx(2 + 10 / 24)


def test_snooze_runs_out_and_latest_update_wins():
    t0 = datetime(2025, 7, 1, 9)
    updates = to_frame([StatusUpdate("a" * 16, "snoozed", t0, snoozed_until=date(2025, 7, 10)),
                        StatusUpdate("b" * 16, "done", t0), StatusUpdate("b" * 16, "open", t0 + timedelta(days=1))],
                       "cli")
    before, after = current_status(updates, date(2025, 7, 9)), current_status(updates, date(2025, 7, 10))
    assert dict(before.select("action_id", "status").iter_rows())["a" * 16] == "snoozed"
    assert dict(after.select("action_id", "status").iter_rows()) == {"a" * 16: "open", "b" * 16: "open"}
    # reopened, but it was acted upon: the first act still counts for time to act
    assert after.filter(pl.col("action_id") == "b" * 16)["first_acted_at"][0] == t0


def test_outcome_compares_acted_with_not_acted():
    week = date(2025, 6, 2)
    actions = pl.DataFrame({"action_id": ["a" * 16, "b" * 16, "c" * 16, "d" * 16], "week_start": [week] * 4,
                            "product_id": ["P1", "P2", "P3", "P4"], "priority": ["High"] * 4,
                            "action_type": ["expedite_production"] * 3 + ["review_margin"]})
    updates = to_frame([StatusUpdate("a" * 16, "done", datetime(2025, 6, 10))], "csv")
    days = pl.date_range(week + timedelta(days=7), week + timedelta(days=40), eager=True)
    stock = pl.concat([pl.DataFrame({"item_id": p, "date": days, "closing_qty": [q] * len(days)})
                       for p, q in (("P1", 5.0), ("P2", 0.0), ("P4", 0.0))])  # P3: never observed
    outcomes = action_outcomes(actions, updates, stock)
    kpi = action_kpi(outcomes).row(0, named=True)
    assert (kpi["stockout_actions"], kpi["acted_observed"], kpi["acted_stockouts"]) == (3, 1, 0)
    assert (kpi["not_acted_observed"], kpi["not_acted_stockouts"]) == (1, 1)
    assert (kpi["acted_stockout_rate"], kpi["not_acted_stockout_rate"]) == (0.0, 1.0)
    assert kpi["median_days_to_act"] == pytest.approx(1.0)


def test_sensor_starts_one_followup_per_new_state(planner_warehouse, planner_env, cli_env):
    sensor = next(s for s in build_planner_sensors() if s.name == "action_status_sensor")
    resources = {"warehouse": planner_warehouse}

    def tick(cursor):
        with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
            return sensor.evaluate_tick(context), context.cursor

    first, cursor = tick(None)
    assert len(first.run_requests) == 1  # the initial state is news once
    again, cursor = tick(cursor)
    assert not again.run_requests
    ids = _week_actions(planner_warehouse)
    (planner_env / "inbox" / "action_status.csv").write_text(f"action_id,status\n{ids[0]},in_progress\n")
    dropped, cursor = tick(cursor)
    assert [r.tags["dsop/files"] for r in dropped.run_requests] == ["action_status.csv"]
    assert cli.main(["action", "start", ids[1], "--at", "2025-07-01"]) == 0
    by_cli, cursor = tick(cursor)
    assert [r.tags["dsop/files"] for r in by_cli.run_requests] == ["(table)"]
    assert not tick(cursor)[0].run_requests

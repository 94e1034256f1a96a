"""Partitions per tier: data from the history's start, forecasts from shortly before go-live, decisions
from go-live; one job per tier and cadence, and the refresh chain that runs them in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from dsop_assets import partitions
from dsop_jobs.refresh_chain import next_in_chain
from dsop_jobs.jobs import (
    DECISION_REVIEW_JOB,
    MONTHLY_DECISION_JOB,
    MONTHLY_FORECAST_JOB,
    MONTHLY_JOB,
    TIER_JOBS,
    WEEKLY_DECISION_JOB,
    WEEKLY_FORECAST_JOB,
    WEEKLY_JOB,
)

REPO = Path(__file__).resolve().parents[2]


def test_tier_starts_follow_go_live(monkeypatch):
    monkeypatch.setattr(partitions, "HISTORY_START", date(2023, 12, 4))
    monkeypatch.setattr(partitions, "PARTITIONS_START", "2023-12-04")
    # A Wednesday: decisions start on its ISO week's Monday; 26 weekly and 12 monthly origins before it.
    starts = partitions.tier_starts(date(2026, 11, 25))
    assert starts["data", "week"] == date(2023, 12, 4) and starts["data", "month"] == date(2023, 12, 1)
    assert starts["decision", "week"] == date(2026, 11, 23)
    assert starts["forecast", "week"] == date(2026, 5, 25)  # 26 weeks before 2026-11-23: 27 origins with it
    # The week of 23 November closes on 30 November: the last month closed then is October.
    assert starts["decision", "month"] == date(2026, 10, 1)
    assert starts["forecast", "month"] == date(2025, 11, 1)
    # A week that ends on a month's last day (25-31 May 2026) closes that month with it.
    assert partitions.tier_starts(date(2026, 5, 25))["decision", "month"] == date(2026, 5, 1)
    # Go-live early in the history: forecasts cannot start before the data does.
    early = partitions.tier_starts(date(2024, 1, 10))
    assert early["forecast", "week"] == date(2023, 12, 4) and early["forecast", "month"] == date(2023, 12, 1)


def test_no_go_live_keeps_every_tier_on_the_history(monkeypatch):
    monkeypatch.delenv("DSOP_GO_LIVE", raising=False)
    assert partitions.go_live() is None
    assert set(partitions.tier_starts(None).values()) == {
        date.fromisoformat(partitions.PARTITIONS_START), partitions.HISTORY_START.replace(day=1)}


@pytest.mark.parametrize("value, reason", [("2026-13-01", "YYYY-MM-DD"), ("1999-01-04", "before DSOP_HISTORY_START")])
def test_a_bad_go_live_is_an_error_that_says_why(monkeypatch, value, reason):
    monkeypatch.setenv("DSOP_GO_LIVE", value)
    with pytest.raises(ValueError, match=reason):
        partitions.go_live()


def test_every_job_resolves_on_its_tiers_partitions_with_a_go_live():
    """Definitions loaded with a go-live (as after `dsop demo`): every job resolves (a Dagster job holds one
    partitions definition, so a tier's asset in another tier's job fails here) and starts where its tier does."""
    code = (
        "import json; from dsop_jobs.definitions import defs\n"
        "out = {}\n"
        "for job in defs.jobs:\n"
        "    parts = defs.resolve_job_def(job.name).partitions_def\n"
        "    out[job.name] = parts.get_first_partition_key() if parts is not None else None\n"
        "keys = defs.resolve_job_def('weekly_refresh_job').asset_layer.selected_asset_keys\n"
        "out['forecast_in_refresh'] = any(k.to_user_string() == 'forecast_weekly' for k in keys)\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "DSOP_HISTORY_START": "2023-12-04", "DSOP_GO_LIVE": "2026-11-25", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    first = json.loads(done.stdout.strip().splitlines()[-1])
    assert first[WEEKLY_JOB] == "2023-12-04" and first[MONTHLY_JOB] == "2023-12-01"
    assert first[WEEKLY_FORECAST_JOB] == "2026-05-25" and first[MONTHLY_FORECAST_JOB] == "2025-11-01"
    assert first[WEEKLY_DECISION_JOB] == "2026-11-23" and first[MONTHLY_DECISION_JOB] == "2026-10-01"
    assert first[DECISION_REVIEW_JOB] is None
    assert first["forecast_in_refresh"] is False  # with a go-live the refresh job holds the data only


def test_refresh_chain_runs_forecasts_then_decisions_then_the_review(monkeypatch):
    import dsop_jobs.jobs as jobs_module

    monkeypatch.setattr(jobs_module, "WHOLE_CHAIN_IN_REFRESH", False)  # as with DSOP_GO_LIVE set
    jobs = {name for name, _ in TIER_JOBS.values()} | {DECISION_REVIEW_JOB}
    live = partitions.decision_weekly_partitions.get_first_partition_key()
    assert next_in_chain(WEEKLY_JOB, live, jobs) == (WEEKLY_FORECAST_JOB, live)
    assert next_in_chain(WEEKLY_FORECAST_JOB, live, jobs) == (WEEKLY_DECISION_JOB, live)
    assert next_in_chain(WEEKLY_DECISION_JOB, live, jobs) == (DECISION_REVIEW_JOB, None)
    assert next_in_chain(DECISION_REVIEW_JOB, None, jobs) is None
    month = partitions.decision_monthly_partitions.get_first_partition_key()
    assert next_in_chain(MONTHLY_JOB, month, jobs) == (MONTHLY_FORECAST_JOB, month)
    assert next_in_chain(MONTHLY_FORECAST_JOB, month, jobs) == (MONTHLY_DECISION_JOB, month)
    assert next_in_chain(MONTHLY_DECISION_JOB, month, jobs) is None
    # A deployment without the review job ends the weekly chain at the decisions.
    assert next_in_chain(WEEKLY_DECISION_JOB, live, jobs - {DECISION_REVIEW_JOB}) is None
    # A range run (no single partition) is not chained.
    assert next_in_chain(WEEKLY_JOB, None, jobs) is None


def test_without_go_live_the_refresh_runs_the_whole_chain_and_only_the_review_follows():
    """No DSOP_GO_LIVE: every tier is partitioned like the data, so the refresh job holds the forecasts and
    decisions too (as before tiers existed) and the chain does not run them a second time."""
    import dsop_jobs.jobs as jobs_module
    from dsop_jobs.definitions import defs

    assert partitions.go_live() is None and jobs_module.WHOLE_CHAIN_IN_REFRESH
    in_refresh = {k.to_user_string() for k in defs.resolve_job_def(WEEKLY_JOB).asset_layer.selected_asset_keys}
    assert {"daily_order", "forecast_weekly", "risk_score", "production_plan", "action_queue"} <= in_refresh
    jobs = {name for name, _ in TIER_JOBS.values()} | {DECISION_REVIEW_JOB}
    week = partitions.weekly_partitions.get_partition_keys()[-2]
    assert next_in_chain(WEEKLY_JOB, week, jobs) == (DECISION_REVIEW_JOB, None)
    assert next_in_chain(MONTHLY_JOB, week[:8] + "01", jobs) is None


def test_a_data_week_before_the_forecasts_start_ends_the_chain(monkeypatch):
    import dagster as dg

    import dsop_jobs.jobs as jobs_module

    later = dg.WeeklyPartitionsDefinition(start_date="2026-06-01", day_offset=1, end_offset=1)
    tiers = dict(jobs_module.TIER_JOBS)
    tiers["forecast", "week"] = (WEEKLY_FORECAST_JOB, later)
    tiers["decision", "week"] = (WEEKLY_DECISION_JOB, later)
    monkeypatch.setattr(jobs_module, "TIER_JOBS", tiers)
    monkeypatch.setattr(jobs_module, "WHOLE_CHAIN_IN_REFRESH", False)
    jobs = {name for name, _ in tiers.values()} | {DECISION_REVIEW_JOB}
    assert next_in_chain(WEEKLY_JOB, "2024-03-04", jobs) is None
    assert next_in_chain(WEEKLY_JOB, "2026-06-01", jobs) == (WEEKLY_FORECAST_JOB, "2026-06-01")


def test_chain_sensor_requests_the_next_job_for_a_scheduled_run_only(instance, monkeypatch):
    """What the daemon does when a scheduled data run of the go-live week succeeds: the sensor asks for
    that week's forecast run (tag carried on); a run launched by hand is left alone."""
    import dagster as dg

    import dsop_jobs.jobs as jobs_module

    monkeypatch.setattr(jobs_module, "WHOLE_CHAIN_IN_REFRESH", False)
    from dsop_jobs.refresh_chain import CHAIN_TAG, build_refresh_chain_sensor

    @dg.asset(partitions_def=partitions.weekly_partitions)
    def chained_week() -> None:
        return None

    jobs = {name: dg.define_asset_job(name, selection=[chained_week], partitions_def=partitions.weekly_partitions)
            for name in (WEEKLY_JOB, WEEKLY_FORECAST_JOB, WEEKLY_DECISION_JOB)}
    sensor = build_refresh_chain_sensor(jobs)
    job = dg.Definitions(assets=[chained_week], jobs=list(jobs.values())).resolve_job_def(WEEKLY_JOB)
    week = partitions.decision_weekly_partitions.get_first_partition_key()

    def evaluate(tags: dict):
        result = job.execute_in_process(instance=instance, partition_key=week, tags=tags)
        success = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records[0]
        with dg.build_run_status_sensor_context(
            sensor_name="refresh_chain_sensor", dagster_event=success.event_log_entry.dagster_event,
            dagster_instance=instance, dagster_run=result.dagster_run,
        ) as context:
            return sensor(context)

    request = evaluate({CHAIN_TAG: "weekly_refresh_schedule"})
    assert isinstance(request, dg.RunRequest)
    assert (request.job_name, request.partition_key) == (WEEKLY_FORECAST_JOB, week)
    assert request.tags[CHAIN_TAG] == "weekly_refresh_schedule"
    assert isinstance(evaluate({}), dg.SkipReason)


def test_the_demo_stages_build_every_asset():
    """`dsop demo` leaves no asset unbuilt: every asset is in some stage's job and groups (a new asset
    that no stage runs would show as missing in the UI after the demo)."""
    from dsop_jobs.definitions import defs
    from dsop_jobs.pipeline import demo_stages, selected_assets

    built = set()
    for stage in demo_stages(network=True):
        job = defs.resolve_job_def(stage.job)
        chosen = selected_assets(defs, job, stage.groups)
        built |= chosen if chosen is not None else set(job.asset_layer.selected_asset_keys)
    graph = defs.resolve_asset_graph()
    every = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert not every - built, sorted(k.to_user_string() for k in every - built)


def test_a_drop_folder_reload_of_stock_flows_re_estimates_the_weeks_it_moves():
    from dsop_jobs.refresh_chain import STOCK_REACH_DAYS, stock_weeks

    keys = partitions.weekly_partitions.get_partition_keys()
    week = keys[10]
    file_run = {"dsop/trigger": "erp_file", "dagster/partition": week}
    first, last = stock_weeks(WEEKLY_JOB, file_run, {"daily_production", "stg_daily_production"})
    # From the reloaded week to the week holding its last day + the count look-back.
    reach = date.fromisoformat(week) + timedelta(days=6 + STOCK_REACH_DAYS)
    assert first == week and last == (reach - timedelta(days=reach.weekday())).isoformat()
    # A month of counts reloaded: from that month's first Monday's week on.
    month = partitions.monthly_partitions.get_partition_keys()[3]
    ranged = {"dsop/trigger": "erp_file", "dagster/asset_partition_range_start": month,
              "dagster/asset_partition_range_end": month}
    first, _ = stock_weeks(MONTHLY_JOB, ranged, {"inventory"})
    start = date.fromisoformat(month)
    assert first == (start - timedelta(days=start.weekday())).isoformat()
    # Orders move no stock estimate; a run by hand or by the schedule starts nothing here.
    assert stock_weeks(WEEKLY_JOB, file_run, {"daily_order", "weekly_product_summary"}) is None
    assert stock_weeks(WEEKLY_JOB, {"dagster/partition": week}, {"daily_production"}) is None


def test_chain_sensor_follows_a_drop_folder_load_with_the_stock_re_estimate(instance):
    import dagster as dg

    from dsop_jobs.refresh_chain import STOCK_ASSETS, build_refresh_chain_sensor

    @dg.asset(name="daily_production", partitions_def=partitions.weekly_partitions)
    def production() -> None:
        return None

    jobs = {WEEKLY_JOB: dg.define_asset_job(WEEKLY_JOB, selection=[production], partitions_def=partitions.weekly_partitions)}
    sensor = build_refresh_chain_sensor(jobs)
    job = dg.Definitions(assets=[production], jobs=list(jobs.values())).resolve_job_def(WEEKLY_JOB)
    week = partitions.weekly_partitions.get_partition_keys()[10]
    result = job.execute_in_process(instance=instance, partition_key=week, asset_selection=[dg.AssetKey("daily_production")],
                                    tags={"dsop/trigger": "erp_file", "dsop/file": "daily_production.csv"})
    success = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records[0]
    with dg.build_run_status_sensor_context(
        sensor_name="refresh_chain_sensor", dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=result.dagster_run,
    ) as context:
        request = sensor(context)
    assert isinstance(request, dg.RunRequest) and request.job_name == WEEKLY_JOB
    assert {k.to_user_string() for k in request.asset_selection} == set(STOCK_ASSETS)
    assert request.tags["dsop/trigger"] == "erp_file_stock" and request.tags["dagster/asset_partition_range_start"] == week

"""The weekly decision assets on the shared tiny pipeline: tables, plan integrity, grades, re-runs."""

import logging
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from dsop_assets.planning.assets import PlanInputs, plan_metadata, record_plan, solve_plan
from dsop_assets.planning.config import PlanConfig
from dsop_assets.risk.config import RiskConfig
from dsop_assets.risk.scoring import grade_expr

LAST_WEEK = date(2025, 6, 23)  # the tiny pipeline ends on its Sunday
DECISION_ASSETS = ["daily_inventory_estimated", "product_lead_time", "production_plan", "purchase_recommendation",
                   "risk_score", "action_queue"]


def _week(warehouse, table: str, column: str, week: date = LAST_WEEK) -> pl.DataFrame:
    return warehouse.query(f"select * from {table} where {column} >= $s and {column} < $e",
                           {"s": week, "e": week + timedelta(days=7)})


@pytest.mark.parametrize(("table", "column"), [
    ("daily_inventory_estimated", "date"), ("product_lead_time", "week_start"), ("production_plan", "plan_week"),
    ("purchase_recommendation", "plan_week"), ("risk_score", "week_start"), ("action_queue", "week_start"),
])
def test_tables_hold_the_last_week(tiny_pipeline, table, column):
    assert _week(tiny_pipeline.warehouse, table, column).height > 0


def test_stock_estimate_covers_every_day_and_item(tiny_pipeline):
    daily = _week(tiny_pipeline.warehouse, "daily_inventory_estimated", "date")
    assert daily["date"].n_unique() == 7
    assert daily.group_by("item_id").len()["len"].unique().to_list() == [7]


def test_plan_respects_line_capacity_and_balances(tiny_pipeline):
    warehouse = tiny_pipeline.warehouse
    plan = _week(warehouse, "production_plan", "plan_week")
    assert plan.select("product_id", "week_start").is_duplicated().sum() == 0
    assert plan["balance_residual"].abs().max() <= 1e-6
    assert plan["production_qty"].min() >= 0
    assert plan["week_start"].min() == LAST_WEEK + timedelta(days=7) and plan["week_start"].n_unique() >= 12
    lines = warehouse.query("select line_id, regular_hours_per_week + coalesce(overtime_hours_per_week, 0) as cap "
                            "from production_line")
    load = plan.group_by("line_id", "week_start").agg(pl.col("line_hours").sum()).join(lines, on="line_id")
    assert load.height and (load["line_hours"] <= load["cap"] + 1e-6).all()
    # Sub-assemblies are planned next to the goods that use them.
    assert set(plan["product_kind"].unique().to_list()) == {"finished_good", "material"}


def test_purchases_are_nonnegative_with_a_supplier(tiny_pipeline):
    recs = _week(tiny_pipeline.warehouse, "purchase_recommendation", "plan_week")
    assert recs["recommended_qty"].min() >= 0
    assert recs["supplier_id"].null_count() == 0
    assert recs["product_id"].str.starts_with("RM").all()  # only raw materials are bought


def test_risk_grades_follow_total_score(tiny_pipeline):
    risk = _week(tiny_pipeline.warehouse, "risk_score", "week_start")
    assert risk["product_id"].is_duplicated().sum() == 0
    assert risk["total_score"].min() >= 0 and risk["total_score"].max() <= 100
    expected = risk.select(grade_expr(pl.col("total_score"), RiskConfig()).alias("g"))["g"]
    assert risk["grade"].to_list() == expected.to_list()


def test_rerun_keeps_action_ids_and_statuses(tiny_pipeline):
    warehouse = tiny_pipeline.warehouse
    before = _week(warehouse, "action_queue", "week_start")
    chosen = before["action_id"][0]
    warehouse.execute("update action_queue set status = 'done' where action_id = $id", {"id": chosen})
    job = tiny_pipeline.defs.resolve_job_def("weekly_refresh_job")
    # The stock estimate and the plan each write side tables in the same step (multi-assets that cannot
    # be subset): the selection takes them along, as the UI does.
    selection = dg.AssetSelection.assets(*DECISION_ASSETS).required_multi_asset_neighbors()
    result = job.execute_in_process(partition_key=LAST_WEEK.isoformat(), instance=tiny_pipeline.instance,
                                    asset_selection=sorted(selection.resolve(tiny_pipeline.defs.resolve_asset_graph())))
    assert result.success
    after = _week(warehouse, "action_queue", "week_start")
    assert sorted(after["action_id"].to_list()) == sorted(before["action_id"].to_list())
    assert after["action_id"].is_duplicated().sum() == 0
    assert after.filter(pl.col("action_id") == chosen)["status"].to_list() == ["done"]
    assert after.filter(pl.col("action_id") != chosen)["status"].unique().to_list() == ["open"]


def _impossible_week(week: date) -> PlanInputs:
    """One good on a 10 h line whose firm order needs 200 h in the first week."""
    weeks = [week + timedelta(weeks=k) for k in range(1, 13)]
    demand = pl.DataFrame({"product_id": "P1", "week_start": weeks, "p10": 5.0, "p50": 10.0, "p90": 15.0,
                           "firm_qty": [100.0] + [0.0] * 11})
    products = pl.DataFrame({"product_id": ["P1"], "product_type": ["finished_good"], "production_line": ["L1"],
                             "hours_per_unit": [2.0], "lot_size": [None], "unit_cost": [100.0],
                             "unit_price": [150.0], "holding_cost_rate": [0.25], "setup_cost": [10.0]},
                            schema_overrides={"lot_size": pl.Float64})
    lines = pl.DataFrame({"line_id": ["L1"], "regular_hours_per_week": [10.0], "overtime_hours_per_week": [0.0],
                          "overtime_cost_per_hour": [1.0]})
    return PlanInputs(week, demand, products, lines, pl.DataFrame({"product_id": ["P1"], "on_hand_qty": [0.0]}))


def test_infeasible_plan_records_diagnosis_and_keeps_previous_plan(warehouse):
    week = date(2025, 6, 23)
    previous = pl.DataFrame({"plan_week": [week], "product_id": ["P1"], "week_start": [week + timedelta(days=7)],
                             "production_qty": [5.0], "balance_residual": [0.0]})
    warehouse.write("production_plan", previous)
    inputs = _impossible_week(week)
    outcome = solve_plan(inputs, PlanConfig(firm_orders_when_short="refuse"))
    assert outcome.result is None and "L1" in outcome.failure
    assert record_plan(warehouse, inputs, outcome, logging.getLogger("test")) == 0
    assert warehouse.read_table("production_plan").equals(previous)
    diagnosis = warehouse.read_table("production_plan_diagnosis")
    assert diagnosis.height >= 1 and (diagnosis["short_hours"] > 0).all()
    assert diagnosis["line_id"].unique().to_list() == ["L1"] and diagnosis["plan_week"].unique().to_list() == [week]
    assert diagnosis["message"][0] == outcome.failure
    metadata = plan_metadata([outcome], 0)
    assert metadata["status"] == "infeasible (previous plan kept)" and "L1" in metadata["diagnosis"].value


def test_firm_orders_the_line_cannot_make_are_planned_late_and_reported(warehouse):
    week = date(2025, 6, 23)
    inputs = _impossible_week(week)
    outcome = solve_plan(inputs, PlanConfig())  # default: plan the late orders as early as the hours allow
    assert outcome.usable
    assert record_plan(warehouse, inputs, outcome, logging.getLogger("test")) > 0
    diagnosis = warehouse.read_table("production_plan_diagnosis")
    assert diagnosis["line_id"].unique().to_list() == ["L1"] and (diagnosis["short_hours"] > 0).all()
    assert diagnosis["message"][0].startswith("firm orders late")
    assert plan_metadata([outcome], 1)["firm_orders_late_lines"] == "L1"


def test_a_plan_failing_the_gate_is_not_written(warehouse):
    week = date(2025, 6, 23)
    previous = pl.DataFrame({"plan_week": [week], "product_id": ["P1"], "week_start": [week + timedelta(days=7)],
                             "production_qty": [5.0], "balance_residual": [0.0]})
    warehouse.write("production_plan", previous)
    inputs = _impossible_week(week)
    inputs.lines = inputs.lines.with_columns(pl.lit(1_000.0).alias("regular_hours_per_week"))  # now feasible
    outcome = solve_plan(inputs, PlanConfig(gate_max_gap=-1.0))  # no gap can pass
    assert outcome.result is not None and not outcome.usable and "proved gap" in outcome.gate[0]
    assert record_plan(warehouse, inputs, outcome, logging.getLogger("test")) == 0
    assert warehouse.read_table("production_plan").equals(previous)
    diagnosis = warehouse.read_table("production_plan_diagnosis")
    assert diagnosis["basis"].to_list() == ["plan gate"] and diagnosis["message"][0].startswith("plan gate failed")
    assert plan_metadata([outcome], 0)["status"] == "failed the plan gate (previous plan kept)"
    assert solve_plan(inputs, PlanConfig()).usable  # the default gate lets it through


def test_plan_without_forecast_fails_clearly(warehouse):
    from dsop_assets.planning.assets import load_plan_inputs

    with pytest.raises(dg.Failure, match="materialise forecast_weekly for 2025-06-23 first"):
        load_plan_inputs(warehouse, date(2025, 6, 23), PlanConfig())


def test_a_refused_plan_blocks_purchases_and_its_side_tables_explain_it(tiny_pipeline):
    """The gate stays blocking in the multi-asset; the diagnosis and line checks run on what was stored."""
    import functools

    job = tiny_pipeline.defs.resolve_job_def("weekly_refresh_job")
    chain = ["production_plan", "purchase_recommendation", "action_queue"]
    selection = sorted(dg.AssetSelection.assets(*chain).required_multi_asset_neighbors().resolve(
        tiny_pipeline.defs.resolve_asset_graph()))
    run = functools.partial(job.execute_in_process, partition_key=LAST_WEEK.isoformat(),
                            instance=tiny_pipeline.instance, asset_selection=selection, raise_on_error=False)
    # The run's PlanConfig as the launchpad would set it: no gap passes a negative bound.
    refused = run(run_config={"ops": {"production_plan": {"config": {"gate_max_gap": -1.0}}}})
    checks = {e.check_name: e.passed for e in refused.get_asset_check_evaluations()}
    assert checks["production_plan_gate"] is False
    assert checks["production_plan_diagnosis_explains_refusals"] is True  # the refusal has its row and reason
    assert checks["production_plan_line_within_capacity"] is True  # the previous lines of the week stay
    done = {e.asset_key.to_user_string() for e in refused.get_asset_materialization_events()}
    assert "production_plan_diagnosis" in done and not done & {"purchase_recommendation", "action_queue"}
    restored = run()  # leave the shared pipeline's last week planned for the other tests
    assert restored.success
    assert _week(tiny_pipeline.warehouse, "production_plan_diagnosis", "plan_week").is_empty()


SIDE_TABLE_CHECKS = {
    "production_plan_line": "production_plan_line_within_capacity",
    "production_plan_diagnosis": "production_plan_diagnosis_explains_refusals",
    "inventory_reconciliation": "inventory_reconciliation_residual",
    "forecast_model_weekly": "forecast_model_weekly_consistent",
    "forecast_feature_importance_weekly": "forecast_feature_importance_weekly_consistent",
    "forecast_model_monthly": "forecast_model_monthly_consistent",
    "forecast_feature_importance_monthly": "forecast_feature_importance_monthly_consistent",
}


@pytest.mark.parametrize(("asset", "check"), SIDE_TABLE_CHECKS.items())
def test_side_table_checks_ran_and_passed_on_the_pipeline(tiny_pipeline, asset, check):
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    history = tiny_pipeline.instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), check), limit=1000)
    assert history, f"{check} never ran while the pipeline was built"
    # Checked in the writing step, like production_plan_gate: one result per run (no partition), so a
    # range run also leaves its per-partition PLANNED records (issue 11, item 4). None may have failed.
    statuses = {r.status for r in history}
    assert AssetCheckExecutionRecordStatus.SUCCEEDED in statuses
    assert statuses <= {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.PLANNED}
    rows = tiny_pipeline.instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert "dagster/row_count" in rows.asset_materialization.metadata

"""kpi_trend: each KPI week by week from its source, against the founding document's targets."""

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from dsop_assets.planner.action_status import StatusUpdate, to_frame
from dsop_assets.planner.assets import action_kpi_asset, kpi_trend_asset
from dsop_assets.planner.kpi_trend import accuracy_by_week, kpi_trend
from tests.planner.conftest import PREVIOUS, WEEK, materialize


def test_trend_joins_every_source(planner_warehouse, planner_env, instance):
    planner_warehouse.write("decision_replay", pl.DataFrame({
        "week_start": [WEEK, WEEK], "policy": ["dsop", "reorder_point"], "fill_rate": [0.97, 0.91],
        "stock_value": [1.0e9, 1.2e9], "cost": [5.0, 6.0]}))
    started = [datetime(2025, 6, 24, 6) + timedelta(minutes=i) for i in range(100)]
    planner_warehouse.write("pipeline_health", pl.DataFrame({
        "run_id": [str(i) for i in range(100)], "status": ["SUCCESS"] * 99 + ["FAILURE"], "started_at": started}))
    ids = planner_warehouse.query("select action_id from action_queue where week_start = $w", {"w": WEEK})["action_id"]
    planner_warehouse.write("action_status", to_frame([StatusUpdate(ids[0], "done", datetime(2025, 7, 1))], "cli"))
    assert materialize([action_kpi_asset], planner_warehouse, instance).success
    result = materialize([kpi_trend_asset], planner_warehouse, instance)
    assert result.success
    trend = planner_warehouse.query("select * from kpi_trend order by week_start")
    week = trend.filter(pl.col("week_start") == WEEK).row(0, named=True)
    assert week["fill_rate"] == pytest.approx(0.97)  # dsop's policy, not the simple rule
    assert week["sync_runs"] == 100 and week["sync_success"] == pytest.approx(0.99) and week["sync_target_met"]
    assert week["adoption"] == pytest.approx(1 / len(ids)) and week["adoption_target_met"] is False
    risk = planner_warehouse.query("select count(*) as n from risk_score where week_start = $w", {"w": WEEK})["n"][0]
    assert sum(week[f"stockout_{g}"] for g in "ABCDF") == risk == sum(week[f"excess_{g}"] for g in "ABCDF")
    # Against the first week graded (risk grades are made for every forecast origin, not only decision weeks).
    first = trend.filter(pl.col("risk_c_or_worse").is_not_null()).sort("week_start").row(0, named=True)
    assert first["week_start"] < PREVIOUS
    assert week["risk_change_vs_first"] == pytest.approx(week["risk_c_or_worse"] / first["risk_c_or_worse"] - 1)
    # The served forecast is scored for the backtest weeks (tiny: 6 origins) on the dense grid.
    assert trend["mape_core"].drop_nulls().len() >= 5 and trend["wape_core"].drop_nulls().len() >= 5
    assert "](data:image/png;base64," in result.asset_materializations_for_node("kpi_trend")[0].metadata["trend"].value


def test_targets_and_dense_grid():
    weeks = [date(2025, 1, 6), date(2025, 1, 13)]
    forecast = pl.DataFrame({"product_id": ["P1", "P1"], "week_start": weeks, "p50": [10.0, 12.0]})
    actual = pl.DataFrame({"product_id": ["P1", "P2"], "week_start": [weeks[0], weeks[1]], "order_qty": [8.0, 5.0]})
    accuracy = accuracy_by_week(forecast, actual, ["P1", "P2"]).sort("week_start")
    # week 2: P1 ordered nothing (|12-0|) and P2 had no forecast (|0-5|): WAPE 17/5, MAPE only on P2 (1.0)
    assert accuracy["wape_core"].to_list() == pytest.approx([2 / 8, 17 / 5])
    assert accuracy["mape_core"].to_list() == pytest.approx([0.25, 1.0])
    risk = pl.DataFrame({"week_start": weeks, "risk_c_or_worse": [10, 8]})
    empty = pl.DataFrame(schema={"week_start": pl.Date, "fill_rate": pl.Float64})
    trend = kpi_trend(accuracy, risk, empty, pl.DataFrame(schema={"week_start": pl.Date, "adoption": pl.Float64}),
                      pl.DataFrame(schema={"week_start": pl.Date, "sync_runs": pl.Int64, "sync_success": pl.Float64}))
    assert trend["risk_change_vs_first"].to_list() == pytest.approx([0.0, -0.2])
    assert trend["risk_target_met"].to_list() == [False, True]
    assert trend["mape_target_met"].to_list() == [False, False]
    assert trend["sync_target_met"].null_count() == 2  # not measured is not "missed"

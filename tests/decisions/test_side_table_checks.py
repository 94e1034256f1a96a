"""The side tables' checks catch what they are for: each is shown a good and a crafted bad table."""

from datetime import date

import polars as pl

from dsop_assets.forecast.model_tables import importance_problems, model_problems
from dsop_assets.inventory.assets import residual_problems
from dsop_assets.planning.table_checks import lines_over_capacity, unexplained_weeks

W = date(2025, 6, 23)


def test_line_hours_over_capacity_are_caught():
    lines = pl.DataFrame({"plan_week": [W, W], "line_id": ["L1", "L2"], "week_start": [W, W],
                          "regular_hours_used": [40.0, 40.0], "overtime_hours": [8.0, 8.5],
                          "capacity_hours": [48.0, 48.0], "utilisation": [1.0, 1.01]})
    assert lines_over_capacity(lines)["line_id"].to_list() == ["L2"]


def test_every_plan_week_has_a_plan_or_a_reason():
    reason = pl.DataFrame({"plan_week": [W], "basis": ["plan gate"], "message": ["plan gate failed: gap"]})
    assert unexplained_weeks({W: False}, {}, reason) == {}
    assert unexplained_weeks({W: True}, {W: 5}, reason.clear()) == {}
    assert "without a diagnosis" in unexplained_weeks({W: False}, {}, reason.clear())[str(W)]
    assert "no plan rows" in unexplained_weeks({W: True}, {}, reason.clear())[str(W)]
    assert "without a reason" in unexplained_weeks({W: False}, {}, reason.with_columns(
        pl.lit(None, pl.Utf8).alias("message")))[str(W)]


def test_reconciliation_residual_must_be_estimate_minus_count():
    good = pl.DataFrame({"item_id": ["A", "B"], "snapshot_date": [W, W], "base_snapshot_date": [date(2025, 6, 2)] * 2,
                         "estimated_qty": [12.0, 3.0], "snapshot_qty": [10.0, 0.0], "error_qty": [2.0, 3.0],
                         "error_pct": [20.0, None]})
    assert residual_problems(good) == {}
    bad = good.with_columns(pl.Series("error_qty", [-2.0, 3.0]))
    assert residual_problems(bad) == {"error_qty is not estimated - counted": 1, "error_pct off (or set for a zero count)": 1}
    assert residual_problems(pl.concat([good, good])) == {"duplicate item and count date": 2}


def test_models_and_importance_agree_booster_for_booster():
    boosters = pl.DataFrame({"model_version": "v1", "level": "product", "quantile": [0.1, 0.5, 0.9], "horizon": 0,
                             "chars": 100})
    importance = boosters.drop("chars").with_columns(feature=pl.lit("lag_1"), importance=pl.lit(3.0))
    assert model_problems(boosters, (0.1, 0.5, 0.9)) == {}
    assert importance_problems(importance, boosters) == {}
    assert model_problems(boosters.head(2), (0.1, 0.5, 0.9)) != {}  # a quantile missing
    assert importance_problems(importance.head(2), boosters) == {"booster without importance": 1}
    negative = importance.with_columns(pl.Series("importance", [3.0, -1.0, float("nan")]))
    assert importance_problems(negative, boosters) == {"gain negative, NaN or infinite": 2}

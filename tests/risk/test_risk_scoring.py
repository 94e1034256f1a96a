"""Each risk component at its boundary values, grade bounds, weights and the explanation."""

import polars as pl
import pytest

from dsop_assets.risk.config import RiskConfig as _RiskConfig
from dsop_assets.risk.scoring import RISK_OUTPUT_COLUMNS, grade_expr, round_half_up, score_risk


# The rule tests do their arithmetic with the parameters they were written for (safety ratio 1.2,
# dominant floor 0.6); the defaults moved to what risk_backtest supports (risk/config.py).
PINNED = {"safety_ratio": 1.2, "dominant_floor": 0.6}


def RiskConfig(**overrides):  # noqa: N802 - stands in for the class in these tests
    return _RiskConfig(**{**PINNED, **overrides})


RiskConfig.from_dict = lambda overrides=None: _RiskConfig.from_dict({**PINNED, **(overrides or {})})


@pytest.fixture
def one(make_inputs):
    """Score one perturbed neutral row and return it as a dict."""

    def _one(change: dict | None = None, config: _RiskConfig | None = None) -> dict:
        return score_risk(make_inputs(change or {}), config or RiskConfig()).row(0, named=True)

    return _one


def test_neutral_product_scores_zero_grade_a(make_inputs):
    out = score_risk(make_inputs(), RiskConfig())
    assert out.columns == RISK_OUTPUT_COLUMNS
    row = out.row(0, named=True)
    assert row["total_score"] == 0 and row["grade"] == "A" and row["dominant_risk"] == "none"
    assert row["coverage_ratio"] == pytest.approx(2.0) and row["days_of_cover"] == pytest.approx(48.0)
    assert row["explanation"] == "Grade A (0): no material risk"


@pytest.mark.parametrize(
    ("on_hand", "coverage", "expected"),
    [(480.0, 2.0, 0.0), (240.0, 1.0, 0.0), (180.0, 0.75, 30.0), (120.0, 0.5, 60.0), (0.0, 0.0, 100.0), (-24.0, -0.1, 100.0)],
)
def test_stockout_piecewise(one, on_hand, coverage, expected):
    out = one({"on_hand_qty": on_hand})
    assert out["p90_leadtime_demand"] == pytest.approx(200.0)
    assert out["coverage_ratio"] == pytest.approx(coverage)
    assert out["stockout_score"] == pytest.approx(expected)


def test_stockout_without_lead_time_demand_is_zero(one):
    out = one({"demand_p90_weekly": 0.0, "demand_p50_weekly": 0.0, "on_hand_qty": 0.0})
    assert out["stockout_score"] == 0.0 and out["coverage_ratio"] is None


@pytest.mark.parametrize(
    ("on_hand", "expected"), [(900.0, 0.0), (1800.0, 50.0), (2700.0, 100.0), (9000.0, 100.0)]
)  # 90, 180, 270 (3 x threshold) and 900 days of cover at 10/day
def test_excess_threshold_and_full_multiple(one, on_hand, expected):
    assert one({"on_hand_qty": on_hand})["excess_score"] == pytest.approx(expected)


def test_excess_stock_without_demand_is_full(one):
    assert one({"demand_p50_weekly": 0.0, "demand_p90_weekly": 0.0})["excess_score"] == 100.0
    assert one({"demand_p50_weekly": 0.0, "on_hand_qty": 0.0})["excess_score"] == 0.0


@pytest.mark.parametrize(("days_left", "expected"), [(40.0, 0.0), (30.0, 0.0), (19.5, 50.0), (9.0, 100.0), (-5.0, 100.0)])
def test_delivery_gap(one, days_left, expected):
    # P90 lead = max(2 wk x 7, 30) = 30 d; nothing on hand so the whole order book is exposed.
    out = one({"material_lead_p90_days": 30.0, "open_order_qty": 100.0, "days_to_delivery_min": days_left,
               "days_to_delivery_weighted": 60.0, "on_hand_qty": 0.0})  # fmt: skip
    assert out["lead_time_p90_days"] == 30.0 and out["delivery_gap_days"] == pytest.approx(30.0 - days_left)
    assert out["delivery_score"] == pytest.approx(expected)


def test_delivery_net_of_stock_basis_and_no_orders(one):
    row = {"material_lead_p90_days": 30.0, "open_order_qty": 100.0, "days_to_delivery_min": 9.0,
           "days_to_delivery_weighted": 19.5, "on_hand_qty": 50.0}  # fmt: skip
    assert one(row)["delivery_score"] == pytest.approx(50.0)  # half the orders ship from stock
    gross = RiskConfig(delivery_net_of_stock=False)
    assert one(row, gross)["delivery_score"] == pytest.approx(100.0)
    weighted = RiskConfig(delivery_slack_basis="weighted", delivery_net_of_stock=False)
    assert one(row, weighted)["delivery_score"] == pytest.approx(50.0)
    assert one({**row, "open_order_qty": 0.0})["delivery_score"] == 0.0
    # Without a material lead the planned lead (2 wk = 14 d) is the P90 lead.
    assert one({**row, "material_lead_p90_days": None})["lead_time_p90_days"] == 14.0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, 0.0),
        ({"material_cost_change": -0.1}, 0.0),  # costs fell: no pressure
        ({"material_cost_change": 0.1}, 30.0),  # cost 66: margin 40 % -> 34 %, 15 % eroded
        ({"fx_change": 0.2, "imported_share": 0.5}, 30.0),  # +10 % on the cost, same as above
        ({"material_cost_change": 1 / 3}, 100.0),  # cost 80: half the margin gone
        ({"unit_cost": 110.0}, 100.0),  # already loss-making
        ({"unit_price": None}, 0.0),  # no price, cannot judge
    ],
)
def test_margin_pressure(one, change, expected):
    assert one(change)["margin_score"] == pytest.approx(expected)


def test_margin_pressure_ratio_reported(one):
    out = one({"material_cost_change": 0.1})
    assert out["margin_pressure"] == pytest.approx(0.66)
    assert out["current_margin"] == pytest.approx(0.4) and out["margin_erosion"] == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("total", "grade"),
    [(0, "A"), (20, "A"), (21, "B"), (40, "B"), (41, "C"), (60, "C"), (61, "D"), (80, "D"), (81, "F"), (100, "F")],
)
def test_grade_bounds(total, grade):
    assert pl.DataFrame({"t": [total]}).select(grade_expr(pl.col("t"), RiskConfig())).item() == grade


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [(20.49, 20), (20.5, 21), (40.5, 41), (80.49999, 80), (80.4999999999, 81), (80.5, 81)],
)  # 80.4999999999 is float noise around 80.5 (trimmed at 9 decimals), so it rounds up
def test_round_half_up(raw, rounded):
    assert pl.DataFrame({"x": [raw]}).select(round_half_up(pl.col("x"))).item() == rounded


@pytest.mark.parametrize(
    ("excess", "total", "grade"),
    [(20.0, 20, "A"), (20.5, 21, "B"), (40.0, 40, "B"), (41.0, 41, "C"), (60.0, 60, "C"),
     (61.0, 61, "D"), (80.0, 80, "D"), (81.0, 81, "F"), (100.0, 100, "F")],
)  # fmt: skip
def test_grade_end_to_end_on_rounded_total(one, excess, total, grade):
    # Excess only (weight 1): a score of s needs 90 + 1.8 s days of cover at 10/day.
    config = RiskConfig(weight_stockout=0.0, weight_excess=1.0, weight_delivery=0.0, weight_margin=0.0)
    out = one({"on_hand_qty": (90 + 1.8 * excess) * 10}, config)
    assert (out["total_score"], out["grade"]) == (total, grade)


def test_weights_from_config_change_totals(one):
    row = {"on_hand_qty": 0.0}  # stockout 100, everything else 0
    pure = RiskConfig(dominant_floor=0.0)
    assert (one(row, pure)["total_score"], one(row, pure)["grade"]) == (35, "B")
    heavy = RiskConfig.from_dict({"weight_stockout": 0.7, "weight_excess": 0.1, "weight_delivery": 0.1,
                                  "weight_margin": 0.1, "dominant_floor": 0.0})
    assert (one(row, heavy)["total_score"], one(row, heavy)["grade"]) == (70, "D")


def test_explanation_names_dominant_with_numbers(one):
    out = one({"on_hand_qty": 120.0}, RiskConfig(dominant_floor=0.0))
    assert out["dominant_risk"] == "stockout"
    assert out["explanation"].startswith("Grade B (21), mainly stockout 60: on hand 120 is 0.5 of P90 lead-time demand 200")


def test_volatility_band_or_given_cv(one, make_inputs):
    assert one()["volatility"] == pytest.approx(30 / 70)
    with_cv = make_inputs().with_columns(demand_cv=pl.lit(0.9))
    assert score_risk(with_cv, RiskConfig())["volatility"].item() == pytest.approx(0.9)


def test_missing_input_column_raises(make_inputs):
    with pytest.raises(ValueError, match="lack columns"):
        score_risk(make_inputs().drop("fx_change"), RiskConfig())


def test_dominant_floor_lifts_a_single_maxed_component(one):
    row = {"on_hand_qty": 0.0}
    # The default floor (0.6) makes one maxed component actionable (C) instead of a weighted 35 (B).
    assert (one(row)["total_score"], one(row)["grade"]) == (60, "C")
    assert one({"on_hand_qty": 120.0})["total_score"] == 36  # max(0.35 x 60, 0.6 x 60)
    assert one(row, RiskConfig(dominant_floor=0.9))["total_score"] == 90  # max(35, 0.9 x 100)
    assert one({}, RiskConfig(dominant_floor=0.9))["total_score"] == 0

"""Action rules per risk type, quantities from plan / purchases, ids, re-runs and KPIs."""

import hashlib
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from dsop_assets.risk.actions import ACTION_COLUMNS, action_id, action_kpis, build_actions, merge_action_status
from dsop_assets.risk.config import RiskConfig as _RiskConfig
from dsop_assets.risk.scoring import score_risk


# The rule tests do their arithmetic with the parameters they were written for (safety ratio 1.2,
# dominant floor 0.6); the defaults moved to what risk_backtest supports (risk/config.py).
PINNED = {"safety_ratio": 1.2, "dominant_floor": 0.6}


def RiskConfig(**overrides):  # noqa: N802 - stands in for the class in these tests
    return _RiskConfig(**{**PINNED, **overrides})


RiskConfig.from_dict = lambda overrides=None: _RiskConfig.from_dict({**PINNED, **(overrides or {})})

WEEK = date(2024, 3, 4)
T0, T1 = datetime(2024, 3, 4, 6), datetime(2024, 3, 4, 9)


def _focus(component: str) -> RiskConfig:
    """Weight 0.85 on one component so that component alone decides the grade."""
    weights = {f"weight_{c}": 0.05 for c in ("stockout", "excess", "delivery", "margin")}
    return RiskConfig(**{**weights, f"weight_{component}": 0.85})


PLAN = pl.DataFrame(
    {
        "product_id": ["P1"] * 6 + ["P2"],
        "week_start": [WEEK - timedelta(days=7)] + [WEEK + timedelta(days=7 * i) for i in range(5)] + [WEEK],
        "production_qty": [999.0, 10.0, 20.0, 30.0, 40.0, 50.0, 777.0],
        "shortage_qty": [0.0, 15.0, 5.0, 0.0, 0.0, 0.0, 0.0],
    }
)
PURCHASES = pl.DataFrame({"product_id": ["M1", "M2", "M3"], "recommended_qty": [500.0, 0.0, 700.0]})
MATERIAL_OF = pl.DataFrame({"product_id": ["P1", "P1", "P2"], "material_id": ["M1", "M2", "M3"]})
EMPTY_PLAN = PLAN.clear()


def _actions(make_inputs, change: dict, config: RiskConfig, plan=PLAN, created_at=T0) -> pl.DataFrame:
    risk = score_risk(make_inputs(change), config)
    return build_actions(risk, plan, PURCHASES, config, material_of=MATERIAL_OF, created_at=created_at)


def _only(actions: pl.DataFrame, action_type: str) -> dict:
    rows = actions.filter(pl.col("action_type") == action_type)
    assert rows.height == 1, actions
    return rows.row(0, named=True)


def test_stockout_production_qty_from_plan_window(make_inputs):
    actions = _actions(make_inputs, {"on_hand_qty": 0.0}, _focus("stockout"))
    assert actions.columns == ACTION_COLUMNS
    prod = _only(actions, "expedite_production")
    # The 4 plan weeks from the risk week: 10 + 20 + 30 + 40 (the week before and week 5 excluded).
    assert (prod["suggested_qty"], prod["suggested_qty_source"]) == (100.0, "production_plan")
    assert (prod["priority"], prod["status"], prod["created_at"]) == ("Critical", "open", T0)
    assert "plan makes 100" in prod["reason"] and "peak backlog 15" in prod["reason"]


def test_stockout_purchase_from_recommendation_via_bom(make_inputs):
    actions = _actions(make_inputs, {"on_hand_qty": 0.0}, _focus("stockout"))
    purchase = _only(actions, "expedite_purchase")
    # M2 recommends nothing and M3 belongs to another product.
    assert (purchase["material_id"], purchase["suggested_qty"]) == ("M1", 500.0)
    assert purchase["suggested_qty_source"] == "purchase_recommendation"
    assert set(actions["action_type"]) == {"expedite_production", "expedite_purchase"}


def test_stockout_without_plan_falls_back_to_stock_gap(make_inputs):
    prod = _only(_actions(make_inputs, {"on_hand_qty": 0.0}, _focus("stockout"), plan=EMPTY_PLAN), "expedite_production")
    assert (prod["suggested_qty"], prod["suggested_qty_source"]) == (240.0, "risk")  # 200 x 1.2 - 0


def test_no_cut_for_a_good_the_plan_still_makes(make_inputs):
    actions = _actions(make_inputs, {"on_hand_qty": 9000.0}, _focus("excess"))
    assert actions.filter(pl.col("action_type") == "cut_production").is_empty()


def test_backlogged_good_and_late_purchase_get_expedites_with_days_late(make_inputs):
    # PLAN backlogs P1 (peak 15); a purchase whose order-by date passed 3 days ago is late.
    late = pl.DataFrame({"product_id": ["M9"], "recommended_qty": [50.0], "order_by_date": [WEEK],
                         "days_late": [3]})
    risk = score_risk(make_inputs({}), RiskConfig())
    actions = build_actions(risk, PLAN, late, RiskConfig(), material_of=MATERIAL_OF, created_at=T0)
    prod = _only(actions, "expedite_production")
    assert prod["product_id"] == "P1" and prod["days_late"] > 0 and prod["suggested_qty"] == 15.0
    assert set(actions["priority"]) <= {"Critical", "High", "Medium"}  # the action_queue quality rule
    buy = _only(actions, "expedite_purchase")
    assert (buy["material_id"], buy["days_late"], buy["priority"]) == ("M9", 3, "Critical")


def test_excess_cuts_over_threshold_cover(make_inputs):
    cut = _only(_actions(make_inputs, {"on_hand_qty": 9000.0}, _focus("excess"), plan=EMPTY_PLAN), "cut_production")
    assert cut["suggested_qty"] == pytest.approx(8100.0)  # 9000 - 90 days x 10/day
    assert cut["priority"] == "Critical" and "900 days of cover vs 90-day threshold" in cut["reason"]


def test_delivery_proposes_alternative_supplier_for_uncovered_orders(make_inputs):
    change = {"on_hand_qty": 40.0, "open_order_qty": 100.0, "days_to_delivery_min": 9.0,
              "days_to_delivery_weighted": 9.0, "material_lead_p90_days": 30.0}  # fmt: skip
    actions = _actions(make_inputs, change, _focus("delivery"))
    alt = _only(actions, "alternative_supplier")
    # Grade C, but 60 uncovered units are due in 9 days against a 30-day lead time: Critical.
    assert alt["suggested_qty"] == pytest.approx(60.0) and alt["priority"] == "Critical"
    assert alt["suggested_qty_source"] == "risk" and "P90 lead time 30 d vs 9 d" in alt["reason"]


def test_margin_dominant_gets_a_review(make_inputs):
    review = _only(_actions(make_inputs, {"unit_cost": 120.0}, _focus("margin")), "review_margin")
    assert review["suggested_qty"] is None and review["priority"] == "Critical"


def test_volatility_and_concentration_rules(make_inputs):
    change = {"on_hand_qty": 0.0, "demand_p90_weekly": 150.0, "top_customer_share": 0.7}
    actions = _actions(make_inputs, change, _focus("stockout"))
    safety = _only(actions, "raise_safety_stock")
    assert safety["suggested_qty"] == pytest.approx(160.0)  # (150 - 70) x 2 wk
    alert = _only(actions, "customer_concentration_alert")
    assert alert["suggested_qty"] is None and "70%" in alert["reason"]


def test_priority_by_grade_and_no_actions_below_c(make_inputs):
    config = _focus("stockout")
    # coverage 0.25 -> stockout 80 -> 0.85 x 80 = 68 -> D; coverage 0.5 -> 60 -> 51 -> C. Both run out
    # inside the 2-week lead time at mean demand (140), so the situation makes them Critical.
    assert set(_actions(make_inputs, {"on_hand_qty": 60.0}, config, plan=EMPTY_PLAN)["priority"]) == {"Critical"}
    assert set(_actions(make_inputs, {"on_hand_qty": 120.0}, config, plan=EMPTY_PLAN)["priority"]) == {"Critical"}
    # A 4-week lead time's P90 demand (480) makes 300 on hand grade C, but it lasts past the lead
    # time at mean demand (70/wk): priority by grade.
    slow = {"on_hand_qty": 300.0, "lead_time_weeks": 4.0, "demand_p90_weekly": 100.0}
    assert set(_actions(make_inputs, slow, config, plan=EMPTY_PLAN)["priority"]) <= {"Medium", "High"}
    assert _actions(make_inputs, {"on_hand_qty": 200.0}, config, plan=EMPTY_PLAN).height == 0  # ~14 -> A
    assert _actions(make_inputs, {"on_hand_qty": 0.0}, RiskConfig(dominant_floor=0.0), plan=EMPTY_PLAN).height == 0
    # With dsop's default floor the same maxed stockout scores 60 -> C and is acted on.
    assert set(_actions(make_inputs, {"on_hand_qty": 0.0}, RiskConfig())["priority"]) == {"Critical"}


def test_action_id_deterministic_and_unique(make_inputs):
    change = {"on_hand_qty": 0.0, "demand_p90_weekly": 150.0, "top_customer_share": 0.7}
    first = _actions(make_inputs, change, _focus("stockout"), created_at=T0)
    again = _actions(make_inputs, change, _focus("stockout"), created_at=T1)
    assert first["action_id"].to_list() == again["action_id"].to_list()
    assert first["action_id"].n_unique() == first.height
    expected = hashlib.sha1(f"{WEEK}|P1|expedite_production".encode()).hexdigest()[:16]
    assert _only(first, "expedite_production")["action_id"] == expected == action_id(WEEK, "P1", "expedite_production")
    assert _only(first, "expedite_purchase")["action_id"] == action_id(WEEK, "P1", "expedite_purchase", "M1")


def test_rerun_keeps_statuses_and_never_duplicates(make_inputs):
    change = {"on_hand_qty": 0.0, "demand_p90_weekly": 150.0, "top_customer_share": 0.7}
    config = _focus("stockout")
    first = _actions(make_inputs, change, config, created_at=T0)
    acted = {"expedite_production": "done", "customer_concentration_alert": "dismissed"}
    stored = first.with_columns(pl.col("action_type").replace(acted).alias("status")).with_columns(
        pl.when(pl.col("status").is_in(["done", "dismissed"])).then(pl.col("status")).otherwise(pl.lit("open"))
    )
    merged = merge_action_status(_actions(make_inputs, change, config, created_at=T1), stored)
    assert merged.height == first.height and merged["action_id"].n_unique() == merged.height
    status = dict(zip(merged["action_type"], merged["status"]))
    assert status["expedite_production"] == "done" and status["customer_concentration_alert"] == "dismissed"
    assert status["expedite_purchase"] == "open" and set(merged["created_at"]) == {T0}
    assert merged.columns == ACTION_COLUMNS

    # Risk gone for the concentration rule: the dismissed action stays, stale open ones drop out.
    calmer = _actions(make_inputs, {"on_hand_qty": 0.0}, config, created_at=T1)
    merged = merge_action_status(calmer, stored)
    assert set(merged["action_type"]) == {"expedite_production", "expedite_purchase", "customer_concentration_alert"}
    assert merged["action_id"].n_unique() == merged.height
    assert merge_action_status(calmer, None).equals(calmer)


def test_action_kpis_share_acted_upon():
    actions = pl.DataFrame(
        {"week_start": [WEEK] * 4 + [WEEK + timedelta(days=7)], "status": ["open", "done", "dismissed", "in_progress", "open"]}
    )
    per_week = action_kpis(actions)
    first = per_week.row(0, named=True)
    assert (first["n_actions"], first["n_done"], first["acted_share"], first["done_share"]) == (4, 1, 0.75, 0.25)
    assert per_week.row(1, named=True)["acted_share"] == 0.0
    overall = action_kpis(actions, by=()).row(0, named=True)
    assert overall["n_actions"] == 5 and overall["acted_share"] == pytest.approx(0.6)

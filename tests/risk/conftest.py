"""Shared risk-input builder: a neutral product (score 0 on every component) to perturb per test."""

from datetime import date

import polars as pl
import pytest

WEEK = date(2024, 3, 4)

# P50 10/day, P90 100/wk over a 2-week lead -> P90 lead-time demand 200, x1.2 safety = 240.
# 480 on hand: coverage 2.0 and 48 days of cover; no open orders; 40 % margin, no cost change.
NEUTRAL = {
    "product_id": "P1", "week_start": WEEK, "on_hand_qty": 480.0,
    "demand_p50_weekly": 70.0, "demand_p90_weekly": 100.0, "lead_time_weeks": 2.0,
    "material_lead_p90_days": None, "open_order_qty": 0.0,
    "days_to_delivery_min": None, "days_to_delivery_weighted": None,
    "unit_price": 100.0, "unit_cost": 60.0, "material_cost_change": 0.0, "fx_change": 0.0,
    "imported_share": 0.0, "top_customer_share": 0.2,
}  # fmt: skip


def inputs(*rows: dict) -> pl.DataFrame:
    """One input row per dict, each overriding NEUTRAL."""
    return pl.DataFrame([{**NEUTRAL, **r} for r in rows or ({},)], schema_overrides={
        "material_lead_p90_days": pl.Float64, "days_to_delivery_min": pl.Float64,
        "days_to_delivery_weighted": pl.Float64, "unit_price": pl.Float64,
    })  # fmt: skip


@pytest.fixture
def make_inputs():
    return inputs

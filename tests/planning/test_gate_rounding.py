"""The plan gate ignores sub-unit backlog (rounding of fractional expected demand), not real backlog."""

import polars as pl

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.gate import gate_failures
from dsop_assets.planning.production_model import PlanResult


def _result(avoidable: float) -> PlanResult:
    return PlanResult(pl.DataFrame(), pl.DataFrame(), "optimal", "optimal", 1.0, 0.0, 0.1, 0.1, 10, 5,
                      avoidable_backlog_qty=avoidable, avoidable_backlog_products=1 if avoidable else 0)


def test_a_fraction_of_a_unit_short_passes_and_a_real_backlog_fails():
    config = PlanConfig()
    assert gate_failures(_result(0.0), None, config) == []
    assert gate_failures(_result(0.032), None, config) == []  # measured: 0.03 units short of a 120-unit lot
    assert any("avoidable backlog" in r for r in gate_failures(_result(3.0), None, config))

"""Young series' recent-volume factor: learned on their own past forecasts known at the origin only."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from dsop_assets.forecast.config import monthly_config
from dsop_assets.forecast.fallback_bias import MIN_ROWS, recalibrate_young, young_bias

CONFIG = monthly_config(horizons=(1, 2))


def _past(n: int, origins: list[date]) -> pl.DataFrame:
    """``n`` young series per origin, each forecast 10 (raw 8, stored with bias_scale 1.25) at h1 and h2."""
    return pl.DataFrame({"level": "product", "product_id": [f"P{i}" for i in range(n)], "customer_id": "ALL",
                         "model_id": "moving_average", "method": "short_history"}).join(
        pl.DataFrame({"origin_date": origins}), how="cross").join(
        pl.DataFrame({"horizon": [1, 2]}), how="cross").with_columns(
        target_start=pl.col("origin_date").dt.offset_by(pl.format("{}mo", pl.col("horizon"))),
        p10=pl.lit(5.0), p50=pl.lit(10.0), p90=pl.lit(20.0), bias_scale=pl.lit(1.25))


def test_factor_is_actual_over_raw_point_on_targets_known_at_the_origin():
    origins = [date(2024, m, 1) for m in range(1, 7)]
    past = _past(40, origins)
    # Actuals are 12 (1.5x the raw point 8) through June, 100 afterwards: those must not count at June's end.
    actual = past.select("level", "product_id", "customer_id", "target_start").unique().with_columns(
        actual_qty=pl.when(pl.col("target_start") <= date(2024, 6, 1)).then(12.0).otherwise(100.0))
    factors = young_bias(past, actual, date(2024, 6, 30), CONFIG)
    assert factors.sort("horizon")["young_bias"].to_list() == pytest.approx([1.5, 1.5])
    # Too few rows: no factor. Model rows and other fallback rows never teach it.
    assert young_bias(_past(MIN_ROWS // 6, origins[:1]), actual, date(2024, 6, 30), CONFIG).is_empty()
    other = past.with_columns(method=pl.lit("model_error"))
    assert young_bias(other, actual, date(2024, 6, 30), CONFIG).is_empty()


def test_only_young_rows_are_scaled_and_the_factor_is_recorded():
    origins = [date(2024, m, 1) for m in range(1, 7)]
    past = _past(40, origins)
    actual = past.select("level", "product_id", "customer_id", "target_start").unique().with_columns(actual_qty=pl.lit(4.0))
    out = pl.DataFrame({"level": "product", "product_id": ["A", "B"], "customer_id": "ALL", "horizon": [1, 1],
                        "model_id": ["moving_average", "dsop_ensemble"], "method": ["short_history", "model"],
                        "p10": [1.0, 1.0], "p50": [2.0, 2.0], "p90": [4.0, 4.0], "mean": [2.0, 2.0],
                        "p10_unclipped": [1.0, 1.0], "bias_scale": [1.0, 1.1]})
    scaled = recalibrate_young(out, past, actual, date(2024, 6, 30), CONFIG).sort("product_id")
    # 4 / 8 = 0.5 is below the bounds: 0.67.
    assert scaled["p50"].to_list() == pytest.approx([2.0 * 0.67, 2.0])
    assert scaled["bias_scale"].to_list() == pytest.approx([0.67, 1.1])
    assert scaled["p90"].to_list() == pytest.approx([4.0 * 0.67, 4.0])

"""Whether the volume factor serves an origin: chosen by replaying both on the recent past, leak-free,
whichever of the two replays better."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import polars as pl

from dsop_assets.forecast.calibration import calibrate_origin
from dsop_assets.forecast.calibration_choice import choose_bias_factor
from dsop_assets.forecast.config import weekly_config

CONFIG = weekly_config(horizons=(1, 2, 3), calibration_min_rows=200, calibration_origins=6, bias_origins=2,
                       bias_top_share=1.0, choose_bias_factor=True, choice_origins=6)
MONDAY = date(2024, 1, 1)
N_SERIES, N_WEEKS = 120, 24


def _history(level_by_week: np.ndarray, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stored raw forecasts (P50 100, band 80-120, every scale 1) of every origin and horizon, and
    actuals: each week's common level times 100 plus series noise."""
    rng = np.random.default_rng(seed)
    weeks = [MONDAY + timedelta(days=7 * w) for w in range(N_WEEKS)]
    products = [f"P{i:03d}" for i in range(N_SERIES)]
    actual = pl.DataFrame({
        "level": "product", "customer_id": "ALL",
        "product_id": np.repeat(products, N_WEEKS), "target_start": weeks * N_SERIES,
        "actual_qty": (np.tile(level_by_week, N_SERIES) * 100 + rng.normal(0, 8, N_SERIES * N_WEEKS)).clip(0),
    })
    past = pl.DataFrame({"level": "product", "customer_id": "ALL", "product_id": products, "model_id": "lgbm_quantile",
                         "method": "model", "p10": 80.0, "p50": 100.0, "p90": 120.0}).join(
        pl.DataFrame({"origin_date": weeks[:-1]}), how="cross").join(
        pl.DataFrame({"horizon": [1, 2, 3]}, schema={"horizon": pl.Int64}), how="cross").with_columns(
        target_start=pl.col("origin_date") + pl.duration(days=pl.col("horizon") * 7),
        band_scale=pl.lit(1.0), band_scale_low=pl.lit(1.0), bias_scale=pl.lit(1.0), market_scale=pl.lit(1.0),
        p10_unclipped=pl.lit(80.0))
    return past, actual


def _as_of(week: int) -> date:
    return MONDAY + timedelta(days=7 * week + 6)


# Unbiased on average, the level swinging every three weeks: the factor learned from the latest origins'
# errors is applied to the next swing.
SWINGS = np.where((np.arange(N_WEEKS) // 3) % 2 == 0, 1.15, 0.87)


def test_a_point_that_runs_low_keeps_the_factor():
    past, actual = _history(np.full(N_WEEKS, 1.3))
    as_of = _as_of(20)
    chosen, losses = choose_bias_factor(past.filter(pl.col("origin_date") <= as_of), actual, as_of, CONFIG)
    assert chosen.bias_factor and losses["factor"] < losses["no_factor"]


def test_an_unbiased_point_whose_errors_swing_leaves_the_factor_out():
    # The latest two origins' errors chase each swing; the raw point is right on average.
    past, actual = _history(SWINGS)
    as_of = _as_of(20)
    chosen, losses = choose_bias_factor(past.filter(pl.col("origin_date") <= as_of), actual, as_of, CONFIG)
    assert not chosen.bias_factor and losses["no_factor"] < 0.97 * losses["factor"]  # clearly, not by a hair


def test_the_choice_reads_nothing_after_as_of():
    past, actual = _history(SWINGS)
    as_of = _as_of(20)
    _, losses = choose_bias_factor(past.filter(pl.col("origin_date") <= as_of), actual, as_of, CONFIG)
    later = pl.col("target_start") > as_of
    tampered = actual.with_columns(
        actual_qty=pl.when(later).then(pl.col("actual_qty") * 9).otherwise(pl.col("actual_qty")))
    assert choose_bias_factor(past, tampered, as_of, CONFIG)[1] == losses


def test_the_served_rows_follow_the_choice():
    past, actual = _history(SWINGS)
    origin = MONDAY + timedelta(days=7 * 20)
    rows = past.filter(pl.col("origin_date") == origin).drop(
        "band_scale", "band_scale_low", "bias_scale", "market_scale", "p10_unclipped")
    known = past.filter(pl.col("origin_date") < origin)
    memo: dict = {}
    chosen, _ = choose_bias_factor(known, actual, _as_of(20), CONFIG, memo)
    served = calibrate_origin(rows, known, actual, _as_of(20), chosen)
    assert served["bias_scale"].unique().to_list() == [1.0] and served["p50"].unique().to_list() == [100.0]
    assert {name for name, _ in memo} == {"factor", "no_factor"}  # each past origin's scales, cached
    always = calibrate_origin(rows, known, actual, _as_of(20), replace(CONFIG, choose_bias_factor=False))
    assert always["bias_scale"].unique().to_list() != [1.0]
    assert choose_bias_factor(known, actual, _as_of(20), replace(CONFIG, choose_bias_factor=False)) == (
        replace(CONFIG, choose_bias_factor=False), {})


def test_the_replay_weighs_each_series_by_the_scorecards_scale():
    # 20 steady series (level 1000, one-week changes of ~1) forecast right, 100 small jumpy ones (level 100,
    # changes of ~50) running half again above their P50. The volume factor (~1.17) would fix the small
    # ones' point a little and move every steady one by ~170: ~150 of its own naive scales. Judged by
    # each series' level the factor looks worth it (the old replay served it); by the SPL the scorecard
    # reports it is not.
    rng = np.random.default_rng(3)
    past, actual = _history(np.ones(N_WEEKS))
    steady = pl.col("product_id") < "P020"
    past = past.with_columns(*(pl.when(steady).then(pl.col(c) * 10).otherwise(pl.col(c)).alias(c)
                               for c in ("p10", "p50", "p90", "p10_unclipped")))
    jumps = rng.choice([100.0, 200.0], size=actual.height)
    actual = actual.with_columns(actual_qty=pl.when(steady).then(1000.0 + pl.Series(rng.normal(0, 1, actual.height)))
                                 .otherwise(pl.Series(jumps)))
    as_of = _as_of(20)
    chosen, losses = choose_bias_factor(past.filter(pl.col("origin_date") <= as_of), actual, as_of, CONFIG)
    assert not chosen.bias_factor and losses["no_factor"] < 0.6 * losses["factor"]
    # The same panel with the steady series as jumpy as the small ones: the factor serves.
    noisy = actual.with_columns(actual_qty=pl.when(steady).then(pl.Series(jumps) * 10).otherwise(pl.col("actual_qty")))
    chosen, losses = choose_bias_factor(past.filter(pl.col("origin_date") <= as_of), noisy, as_of, CONFIG)
    assert chosen.bias_factor

"""The moving-average fallback: young series start from their periods since launch, and the point
tracks volume."""

from __future__ import annotations

import polars as pl
import pytest

from dsop_assets.forecast.config import monthly_config
from dsop_assets.forecast.fallback import moving_average_forecast

CONFIG = monthly_config()  # min_history_periods 6, ma_window 6, horizons 1-6


def _features(prefix: str, origins: range, since: int, lags: tuple[float, float, float], n: int) -> pl.DataFrame:
    return pl.DataFrame([
        {"level": "product", "product_id": f"{prefix}{i}", "customer_id": "ALL", "origin_period": o,
         "periods_since_first": float(since), "lag_1": lags[0], "lag_2": lags[1], "lag_3": lags[2],
         "mean_6": sum(lags) / 6}
        for i in range(n) for o in origins])


def test_a_young_series_starts_from_its_periods_since_launch_with_past_young_ratios():
    """Past young products (two months old, 10 a month) then ordered 12 a month; mature ones ordered
    their average or nothing (the median ratio of actual / MA over them is 0). A product two months old
    ordering 30 a month is forecast at 30 x 1.2, not at mean_6 = 10 times everyone's median ratio."""
    past_origins = range(100, 120)
    young = _features("Y", past_origins, 2, (10.0, 10.0, 0.0), 10)
    mature = _features("M", past_origins, 30, (10.0, 10.0, 10.0), 20)
    history = pl.concat([young, mature])
    targets = pl.concat([
        young.select("level", "product_id", "customer_id", "origin_period").join(
            pl.DataFrame({"h": list(CONFIG.horizons)}), how="cross").select(
            "level", "product_id", "customer_id", target_period=pl.col("origin_period") + pl.col("h"),
            actual_qty=pl.lit(12.0)),
        # Mature series: 60 % of the time nothing, else 25 (average 10, median ratio 0).
        mature.select("level", "product_id", "customer_id", "origin_period").join(
            pl.DataFrame({"h": list(CONFIG.horizons)}), how="cross").filter(
            (pl.col("origin_period") + pl.col("h")) % 5 < 2).select(
            "level", "product_id", "customer_id", target_period=pl.col("origin_period") + pl.col("h"),
            actual_qty=pl.lit(25.0)),
    ]).unique(["level", "product_id", "customer_id", "target_period"])
    rows = _features("N", range(120, 121), 2, (30.0, 30.0, 0.0), 1)
    out = moving_average_forecast(rows, history, targets.filter(pl.col("target_period") <= 120), CONFIG)
    assert out["p50"].to_list() == pytest.approx([36.0] * len(CONFIG.horizons))
    assert (out["p10"] <= out["p50"]).all() and (out["p50"] <= out["p90"]).all()
    # A mature series keeps mean_6 and takes everyone's volume ratio: sum(actual) / sum(MA) ~ 1.
    old = moving_average_forecast(_features("O", range(120, 121), 30, (10.0, 10.0, 10.0), 1), history,
                                  targets.filter(pl.col("target_period") <= 120), CONFIG)
    assert old.filter(pl.col("horizon") == 1)["p50"][0] == pytest.approx(10.0, rel=0.25)


def test_a_series_that_started_with_the_history_is_not_a_launch():
    """Every series of an export is 'one period old' at its first origin: only one whose first order
    comes after the history's first period is a launch (young, with its age in months)."""
    from dsop_assets.forecast.fallback import _launch, history_start

    rows = pl.DataFrame({"origin_period": [103, 103, 103], "periods_since_first": [4.0, 2.0, 30.0]})
    start = history_start(rows)
    assert start == 74  # the 30-period-old series started at 74
    censored = pl.DataFrame({"origin_period": [77], "periods_since_first": [4.0]})  # first period 74
    out = pl.concat([rows, censored]).with_columns(*_launch(CONFIG, start))
    assert out["young"].to_list() == [True, True, False, False]
    assert out["age_bucket"].to_list() == [4, 2, 30, 4]


def test_a_launch_first_period_counts_by_its_share_since_launch():
    """A product launched a quarter of a month before the origin's close ordered 10: its rate is 40 a
    month, not 10. A launch date long before the first order counts the first month whole."""
    from dsop_assets.forecast.fallback import fallback_point

    rows = pl.DataFrame({"periods_since_first": [1.0, 2.0, 1.0], "age_since_launch": [0.25, 1.5, 40.0],
                         "lag_1": [10.0, 30.0, 10.0], "lag_2": [None, 10.0, None], "lag_3": [None, None, None],
                         "mean_6": [10 / 6, 40 / 6, 10 / 6]})
    got = rows.select(fallback_point(CONFIG, rows.columns))["_ma"].to_list()
    assert got == pytest.approx([40.0, 40.0 / 1.5, 10.0])
    # Without a launch date the first period counts whole, as before.
    assert rows.drop("age_since_launch").select(fallback_point(CONFIG, ["lag_1"]))["_ma"].to_list() == pytest.approx([10.0, 20.0, 10.0])


def test_a_weekly_launch_averages_its_weeks_since_the_first_order():
    """Weekly young series average up to 8 weeks since the first order (the store has lags 1-4 and
    mean_8, so the sum is mean_8 times the weeks it averaged). A 5-week-old launch that ordered 40 in
    its first two weeks and nothing in the three since is forecast 8 a week, not 0 as three quiet
    weeks gave; near the history's start mean_8 averaged fewer than 8 weeks, and the sum says so."""
    from dsop_assets.forecast.config import weekly_config
    from dsop_assets.forecast.fallback import fallback_point

    weekly = weekly_config()
    rows = pl.DataFrame({"origin_period": [100, 100, 3], "periods_since_first": [5.0, 20.0, 2.0],
                         "lag_1": [0.0, 5.0, 6.0], "lag_2": [0.0, 5.0, 2.0], "lag_3": [0.0, 5.0, None],
                         "lag_4": [20.0, 5.0, None], "mean_8": [40 / 8, 5.0, 8 / 2], "mean_13": [40 / 13, 5.0, 8 / 2]})
    got = rows.select(fallback_point(weekly, rows.columns, start=2))["_ma"].to_list()
    # 40 over 5 weeks; a 20-week-old series is not young (its moving average: mean_8); 8 over 2 weeks.
    assert got == pytest.approx([8.0, 5.0, 4.0])

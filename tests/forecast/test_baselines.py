from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.forecast import baselines as bl
from dsop_assets.forecast.peers import oracle_forecasts

MONDAY = date(2023, 1, 2)


def weekly_history(values: dict[str, list[float]], first: date = MONDAY) -> pl.DataFrame:
    rows = [
        ("product", pid, "ALL", first + timedelta(weeks=i), float(v))
        for pid, series in values.items()
        for i, v in enumerate(series)
        if not np.isnan(v)
    ]
    return pl.DataFrame(rows, schema=["level", "product_id", "customer_id", "period_start", "qty"], orient="row")


def rows_at(out: pl.DataFrame, model: str, product: str = "A") -> pl.DataFrame:
    return out.filter((pl.col("model_id") == model) & (pl.col("product_id") == product)).sort("horizon")


def test_naive_seasonal_naive_and_moving_average_exact():
    # y at week index t is t + 1; B's first order is in week 54, then 4 and 4
    history = weekly_history({"A": list(range(1, 61)), "B": [np.nan] * 54 + [4.0] * 6})
    origin = MONDAY + timedelta(weeks=55)
    out = bl.run_baselines(history, [origin], [1, 2, 52, 53], "weekly")
    assert out.columns == list(bl.FORECAST_SCHEMA)
    assert dict(out.schema) == bl.FORECAST_SCHEMA
    assert rows_at(out, "naive")["p50"].to_list() == [56.0] * 4
    # target 55+h; same week last year is 55+h-52 for h<=52, 55+h-104 for h=53: y = 4+h, 56, 5
    assert rows_at(out, "seasonal_naive")["p50"].to_list() == [5.0, 6.0, 56.0, 5.0]
    # weeks 48..55 hold 49..56
    assert rows_at(out, "moving_average")["p50"].to_list() == [52.5] * 4
    # weeks before B's first order count as zeros, as in the fallback's mean_8: (4 + 4) / 8
    assert rows_at(out, "moving_average", "B")["p50"].to_list() == [1.0] * 4
    assert rows_at(out, "naive")["target_start"].to_list() == [
        origin + timedelta(weeks=h) for h in (1, 2, 52, 53)
    ]


def test_seasonal_naive_falls_back_to_naive_before_a_year_of_history():
    history = weekly_history({"A": [3.0, 1.0, 4.0, 1.0, 5.0]})
    out = bl.run_baselines(history, [MONDAY + timedelta(weeks=4)], 2, "weekly", models=["seasonal_naive"])
    assert out["p50"].to_list() == [5.0, 5.0]
    # horizons longer than the whole history still get rows (default band, no past errors)
    long = bl.run_baselines(history, [MONDAY + timedelta(weeks=4)], 60, "weekly")
    assert long.height == 5 * 60 and long["p90"].min() > long["p50"].min() * 1.5


def test_monthly_baselines_exact():
    months = [date(2022 + (m // 12), m % 12 + 1, 1) for m in range(20)]
    history = pl.DataFrame(
        {"level": "product", "product_id": "A", "customer_id": "ALL", "period_start": months,
         "qty": [float(m + 1) for m in range(20)]}
    )
    out = bl.run_baselines(history, [months[15]], [1, 3, 12], "monthly")
    assert rows_at(out, "naive")["p50"].to_list() == [16.0] * 3
    assert rows_at(out, "seasonal_naive")["p50"].to_list() == [5.0, 7.0, 16.0]  # months 4, 6, 15
    assert rows_at(out, "moving_average")["p50"].to_list() == [13.5] * 3  # mean of 11..16
    assert rows_at(out, "naive")["target_start"].to_list() == [date(2023, 5, 1), date(2023, 7, 1), date(2024, 4, 1)]


def test_origins_after_the_last_order_are_zero_demand_periods():
    # Orders stop after month 10 while the export runs to the end of month 14: an origin in month 13 is
    # a known period of zero demand (it used to fail: "every origin must lie within the history's periods").
    months = [date(2022 + (m // 12), m % 12 + 1, 1) for m in range(10)]
    history = pl.DataFrame({"level": "product", "product_id": "A", "customer_id": "ALL", "period_start": months,
                            "qty": [float(m + 1) for m in range(10)]})
    origin = date(2023, 1, 1)  # month index 12
    with pytest.raises(ValueError, match="within the history"):
        bl.run_baselines(history, [origin], [1], "monthly")
    out = bl.run_baselines(history, [origin], [1, 2], "monthly", up_to=date(2023, 2, 28))
    assert rows_at(out, "naive")["p50"].to_list() == [0.0, 0.0]  # month 12 had no order
    assert rows_at(out, "moving_average")["p50"].to_list() == [(8 + 9 + 10) / 6] * 2  # months 7..12
    # a day short of the month's end: February is not complete, so an origin there is refused
    with pytest.raises(ValueError, match="within the history"):
        bl.run_baselines(history, [date(2023, 2, 1)], [1], "monthly", up_to=date(2023, 2, 27))


def test_croston_sba_hand_computed():
    # alpha = 0.5, so the SBA factor is 1 - 0.5/2 = 0.75. Start: size 4, interval 1 -> 3.
    # t=3: 3 periods since the last demand; size 4 + .5(6-4) = 5, interval 1 + .5(3-1) = 2 -> .75*5/2
    # t=5: 2 periods since; size 5 + .5(2-5) = 3.5, interval 2 + .5(2-2) = 2 -> .75*3.5/2 = 1.3125
    y = np.array([[4, 0, 0, 6, 0, 2], [np.nan, np.nan, 4, 0, 0, 6]], dtype=float)
    out = bl.croston_sba(y, alpha=0.5)
    np.testing.assert_allclose(out[0], [3, 3, 3, 1.875, 1.875, 1.3125])
    np.testing.assert_allclose(out[1], [np.nan, np.nan, 3, 3, 3, 1.875])


def test_tsb_hand_computed():
    # alpha = beta = 0.5. Start: probability 1, size 4 -> 4.
    # t=1: p = 1 + .5(0-1) = .5 -> 2;  t=2: p = .25 -> 1
    # t=3: p = .25 + .5(1-.25) = .625, size 4 + .5(6-4) = 5 -> 3.125;  t=4: p = .3125 -> 1.5625
    # t=5: p = .3125 + .5(1-.3125) = .65625, size 5 + .5(2-5) = 3.5 -> 2.296875
    y = np.array([[4, 0, 0, 6, 0, 2]], dtype=float)
    np.testing.assert_allclose(bl.tsb(y, alpha=0.5, beta=0.5)[0], [4, 2, 1, 3.125, 1.5625, 2.296875])


def test_intermittent_baselines_through_run_baselines():
    series = [4, 0, 0, 6, 0, 2] * 4
    out = bl.run_baselines(weekly_history({"A": series}), [MONDAY + timedelta(weeks=23)], 3, "weekly")
    y = np.array([series], dtype=float)
    assert rows_at(out, "croston_sba")["p50"].to_list() == pytest.approx([bl.croston_sba(y)[0, -1]] * 3)
    assert rows_at(out, "tsb")["p50"].to_list() == pytest.approx([bl.tsb(y)[0, -1]] * 3)


def random_history(n_series: int = 40, n_weeks: int = 90, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.0, 4.0, size=(n_series, 1))
    qty = rng.poisson(rate * (rng.random((n_series, n_weeks)) < 0.6)).astype(float)
    for i in range(n_series):  # staggered starts: each series begins at its first order
        qty[i, : i % 7] = np.nan
        qty[i, np.argmax(~np.isnan(qty[i]))] = 1.0
    return weekly_history({f"P{i:02d}": list(row) for i, row in enumerate(qty)})


def test_bands_are_leak_free_and_ordered():
    history = random_history()
    origin = MONDAY + timedelta(weeks=60)
    base = bl.run_baselines(history, [origin], 6, "weekly").sort("model_id", "product_id", "horizon")
    later = pl.col("period_start") > origin
    changed = history.with_columns(qty=pl.when(later).then(pl.col("qty") * 3 + 5).otherwise(pl.col("qty")))
    again = bl.run_baselines(changed, [origin], 6, "weekly").sort("model_id", "product_id", "horizon")
    assert base.drop("created_at").equals(again.drop("created_at"))
    # ...while a change before the origin does move the bands, so the check above is not vacuous
    earlier = history.with_columns(qty=pl.when(~later).then(pl.col("qty") * 3).otherwise(pl.col("qty")))
    moved = bl.run_baselines(earlier, [origin], 6, "weekly").sort("model_id", "product_id", "horizon")
    assert not base["p90"].equals(moved["p90"])
    assert (base["p10"] >= 0).all()
    assert (base["p10"] <= base["p50"]).all() and (base["p50"] <= base["p90"]).all()
    assert base.height == 5 * 40 * 6


def test_band_is_point_plus_pooled_error_quantiles():
    """Brute-force the naive h=2 band: errors y[t+2] - y[t] over t in (o-2-W, o-2], / level(t)."""
    history = random_history(n_series=12, n_weeks=70, seed=3)
    panel = bl.build_panel(history, "weekly")
    o, h, window = 65, 2, bl.BAND_WINDOW["weekly"]
    y = panel.y
    level = bl.trailing_mean(y, bl.SEASON["weekly"])
    errors = [
        (y[s, t + h] - y[s, t]) / level[s, t]
        for s in range(y.shape[0])
        for t in range(max(0, o - h - window + 1), o - h + 1)
        if np.isfinite(y[s, t]) and level[s, t] > 0
    ]
    q10, q90 = np.quantile(errors, [0.1, 0.9])
    origin = bl.period_dates(np.array([panel.t0 + o]), "weekly")[0]
    out = bl.run_baselines(history, [origin], [h], "weekly", models=["naive"]).sort("product_id")
    s = 5
    row = out.filter(pl.col("product_id") == panel.keys["product_id"][s]).row(0, named=True)
    assert row["p50"] == y[s, o]
    assert row["p10"] == pytest.approx(min(max(y[s, o] + q10 * level[s, o], 0.0), y[s, o]))
    assert row["p90"] == pytest.approx(max(y[s, o] + q90 * level[s, o], y[s, o]))


def test_levels_pool_separately_and_series_start_at_first_order():
    history = pl.concat([
        random_history(n_series=10, n_weeks=50),
        random_history(n_series=10, n_weeks=50, seed=2).with_columns(
            level=pl.lit("customer_product"), customer_id=pl.lit("C1")
        ),
        weekly_history({"LATE": [0.0] * 45 + [3.0] * 5}),
    ])
    out = bl.run_baselines(history, [MONDAY + timedelta(weeks=40)], 2, "weekly", models=["naive"])
    assert out.group_by("level").len().sort("level")["len"].to_list() == [20, 20]
    assert "LATE" not in out["product_id"].to_list()


def test_oracle_rows():
    weeks = [MONDAY + timedelta(weeks=i) for i in range(6)]
    truth = pl.DataFrame(
        {"product_id": ["A"] * 6, "week_start": weeks, "expected_qty": [1.0] * 6,
         "p10": [0.5] * 6, "p50": [float(i) for i in range(6)], "p90": [9.0] * 6}
    )
    out = oracle_forecasts(truth, [weeks[1], weeks[3]], 3, "weekly")
    assert dict(out.schema) == bl.FORECAST_SCHEMA
    # origin week 3 only reaches weeks 4 and 5: horizon 3 has no truth
    assert out.select("origin_date", "horizon", "p50").rows() == [
        (weeks[1], 1, 2.0), (weeks[1], 2, 3.0), (weeks[1], 3, 4.0), (weeks[3], 1, 4.0), (weeks[3], 2, 5.0)
    ]
    assert set(out["model_id"]) == {"oracle"} and set(out["customer_id"]) == {"ALL"}
    monthly = truth.select("product_id", month_start=pl.Series([date(2024, m, 1) for m in range(1, 7)]),
                           p10="p10", p50="p50", p90="p90")
    assert oracle_forecasts(monthly, [date(2024, 2, 1)], 2, "monthly")["target_start"].to_list() == [
        date(2024, 3, 1), date(2024, 4, 1)
    ]


def test_off_grid_dates_and_origins_are_refused():
    history = weekly_history({"A": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="Monday"):
        bl.run_baselines(history, [MONDAY + timedelta(days=1)], 1, "weekly")
    with pytest.raises(ValueError, match="within the history"):
        bl.run_baselines(history, [MONDAY + timedelta(weeks=5)], 1, "weekly")

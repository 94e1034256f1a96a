"""Statistical members and their combination with LightGBM: leak-free, and a plain average."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

pytest.importorskip("statsforecast")

from dsop_assets.forecast.combine import combine  # noqa: E402
from dsop_assets.forecast.config import monthly_config  # noqa: E402
from dsop_assets.forecast.members import dense_series, fit_members, member_forecasts  # noqa: E402

CONFIG = monthly_config(stat_members=("auto_theta",), horizons=(1, 2, 3))


def _targets(n_periods: int = 40, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in ("A", "B"):
        season = 20 + 8 * np.sin(np.arange(n_periods) * 2 * np.pi / 12)
        y = np.round(season + rng.normal(0, 2, n_periods))
        y[5] = 0  # a month without orders: no target row, a zero in the dense series
        rows += [("product", p, "ALL", 24000 + t, float(v)) for t, v in enumerate(y) if v != 0]
    return pl.DataFrame(rows, schema=["level", "product_id", "customer_id", "target_period", "actual_qty"],
                        orient="row")


def test_dense_series_fills_zero_periods():
    series = dense_series(_targets(), 24010)
    assert series[("product", "A", "ALL")].size == 11 and series[("product", "A", "ALL")][5] == 0.0


def test_members_are_leak_free_and_combined_by_plain_average():
    targets = _targets()
    origin = 24030
    fitted = fit_members(targets, origin, CONFIG)
    base = member_forecasts(fitted, targets, origin, CONFIG)
    assert base.height == 2 * 3 and set(base["member"]) == {"auto_theta"}
    # Later actuals (after the origin) change neither the fit nor the forecast.
    later = targets.with_columns(
        actual_qty=pl.when(pl.col("target_period") > origin).then(pl.col("actual_qty") * 10).otherwise(pl.col("actual_qty")))
    assert member_forecasts(fit_members(later, origin, CONFIG), later, origin, CONFIG).equals(base)
    with pytest.raises(ValueError, match="after this origin"):
        member_forecasts(fitted, targets, origin - 1, CONFIG)
    # A later origin runs the fitted model forward over the longer history.
    assert member_forecasts(fitted, targets, origin + 2, CONFIG)["origin_period"].unique().to_list() == [origin + 2]
    lgbm = base.select("level", "product_id", "customer_id", "origin_period", "horizon").with_columns(
        p10=pl.lit(10.0), p50=pl.lit(20.0), p90=pl.lit(30.0))
    out = combine(lgbm, base).sort("product_id", "horizon").join(
        base, on=["level", "product_id", "customer_id", "origin_period", "horizon"], suffix="_m")
    assert (out["n_members"] == 1).all() and set(out["member_set"]) == {"all"}
    assert out["p50"].to_list() == pytest.approx(((20.0 + out["p50_m"]) / 2).to_list())
    assert out["p50_lgbm"].to_list() == [20.0] * 6 and out["p50_auto_theta"].to_list() == out["p50_m"].to_list()


def test_member_set_is_chosen_on_past_forecasts_known_at_the_origin():
    from datetime import date, timedelta

    from dsop_assets.forecast.combine import choose_member_sets

    config = monthly_config(horizons=(1, 2))
    types = pl.DataFrame({"level": "product", "product_id": [f"P{i}" for i in range(60)], "customer_id": "ALL",
                          "series_type": "long"})
    origins = [date(2024, m, 1) for m in range(1, 7)]
    past = types.drop("series_type").join(pl.DataFrame({"origin_date": origins}), how="cross").join(
        pl.DataFrame({"horizon": [1, 2]}), how="cross").with_columns(
        target_start=pl.col("origin_date").dt.offset_by(pl.format("{}mo", pl.col("horizon"))),
        # the statistical members are right (100), LightGBM is 40 % off
        p50_lgbm=pl.lit(140.0), p50_auto_ets=pl.lit(100.0), p50_auto_theta=pl.lit(100.0))
    actual = past.select("level", "product_id", "customer_id", "target_start").unique().with_columns(
        actual_qty=pl.lit(100.0))
    choice = choose_member_sets(past, actual, date(2024, 7, 31), types, config)
    assert set(choice.filter(pl.col("series_type") == "long")["member_set"]) == {"stats"}
    assert set(choice.filter(pl.col("series_type") == "short")["member_set"]) == {"all"}  # no history: default
    # Only targets known at the origin count: as of 2024-02-29 nothing past is complete enough.
    early = choose_member_sets(past, actual, date(2024, 2, 29) - timedelta(days=0), types, config)
    assert set(early["member_set"]) == {"all"}


def _mixed_past(lgbm_on_small: float, stats_on_small: float = 1.0):
    """One large series (P0, ~10,000 a month) where LightGBM is exact and ETS + Theta run 30 % high, and 59
    small ones (~10 a month) where LightGBM and ETS + Theta are ``lgbm_on_small`` and ``stats_on_small``
    times the actual.
    Every series alternates +-10 % month to month, so each has a naive scale (a tenth of its level)."""
    from datetime import date

    ids = [f"P{i}" for i in range(60)]
    months = [date(2023 + (k // 12), k % 12 + 1, 1) for k in range(19)]  # 2023-01 .. 2024-07
    targets = pl.DataFrame({"level": "product", "product_id": ids, "customer_id": "ALL"}).join(
        pl.DataFrame({"target_start": months, "k": list(range(len(months)))}), how="cross").with_columns(
        actual_qty=pl.when(pl.col("product_id") == "P0").then(10_000.0).otherwise(10.0)
        * (1 + 0.1 * (2 * (pl.col("k") % 2) - 1))).drop("k")
    origins = [date(2024, m, 1) for m in range(1, 7)]
    past = targets.select("level", "product_id", "customer_id").unique().join(
        pl.DataFrame({"origin_date": origins}), how="cross").join(pl.DataFrame({"horizon": [1, 2]}), how="cross").with_columns(
        target_start=pl.col("origin_date").dt.offset_by(pl.format("{}mo", pl.col("horizon")))).join(
        targets, on=["level", "product_id", "customer_id", "target_start"]).with_columns(
        p50_lgbm=pl.when(pl.col("product_id") == "P0").then(pl.col("actual_qty"))
        .otherwise(pl.col("actual_qty") * lgbm_on_small),
        p50_auto_ets=pl.when(pl.col("product_id") == "P0").then(pl.col("actual_qty") * 1.3)
        .otherwise(pl.col("actual_qty") * stats_on_small),
    ).with_columns(p50_auto_theta=pl.col("p50_auto_ets")).drop("actual_qty")
    types = pl.DataFrame({"level": "product", "product_id": ids, "customer_id": "ALL", "series_type": "long"})
    return past, targets, types


def test_member_set_switches_only_when_clearly_better_by_volume_and_no_worse_per_series():
    """WAPE is the large series' view: there LightGBM is exact and the all-member average 20 % high, so by
    volume LightGBM alone is clearly better (error 0 + 59 small series' misses against ~10,000 x 0.2).
    Per series (errors over each series' naive scale) the 59 small ones decide: where LightGBM misses them by
    half and the members are exact, it is worse and the default stays; where every member misses them by
    the same 10 %, it is no worse and serves; exact everywhere, it serves."""
    from datetime import date

    from dsop_assets.forecast.combine import choose_member_sets

    config = monthly_config(horizons=(1, 2))
    past, targets, types = _mixed_past(lgbm_on_small=1.5)
    choice = choose_member_sets(past, targets, date(2024, 7, 31), types, config)
    assert set(choice.filter(pl.col("series_type") == "long")["member_set"]) == {"all"}
    for lgbm_on_small, stats_on_small in ((1.1, 1.1), (1.0, 1.0)):
        past, targets, types = _mixed_past(lgbm_on_small, stats_on_small)
        choice = choose_member_sets(past, targets, date(2024, 7, 31), types, config)
        assert set(choice.filter(pl.col("series_type") == "long")["member_set"]) == {"lgbm"}


def test_member_quantiles_are_clipped_at_zero_before_averaging():
    """A Gaussian member interval below zero (AutoTheta's P10 of a small, noisy series) is no quantile of
    demand: averaged in unclipped, it dragged LightGBM's positive P10 (4) to zero; clipped, the combined
    P10 is the mean of 4 and 0."""
    keys = {"level": ["product"], "product_id": ["A"], "customer_id": ["ALL"], "origin_period": [10], "horizon": [1]}
    lgbm = pl.DataFrame({**keys, "p10": [4.0], "p50": [10.0], "p90": [16.0]}).cast({"origin_period": pl.Int32, "horizon": pl.Int32})
    theta = pl.DataFrame({**keys, "member": ["auto_theta"], "p10": [-6.0], "p50": [10.0], "p90": [26.0]})
    out = combine(lgbm, theta)
    assert out["p10"].to_list() == [2.0] and out["p50"].to_list() == [10.0] and out["p90"].to_list() == [21.0]


def test_upper_width_leans_halfway_on_the_band_member():
    """Series A: LightGBM 4 / 10 / 16 and AutoETS 2 / 10 / 14 average to 3 / 10 / 15 (5 above the P50);
    ETS's own upper width is 4, so the P90 is 10 + 4.5 = 14.5, and the P10 stays the average's 3.
    Series B has no ETS forecast (too short): it keeps LightGBM's band. Without ``band_member`` the
    averaged band stands."""
    keys = {"level": ["product"] * 2, "product_id": ["A", "B"], "customer_id": ["ALL"] * 2, "origin_period": [10] * 2,
            "horizon": [1] * 2}
    lgbm = pl.DataFrame({**keys, "p10": [4.0, 4.0], "p50": [10.0, 10.0], "p90": [16.0, 16.0]}).cast(
        {"origin_period": pl.Int32, "horizon": pl.Int32})
    ets = pl.DataFrame({"level": ["product"], "product_id": ["A"], "customer_id": ["ALL"], "origin_period": [10],
                        "horizon": [1], "member": ["auto_ets"], "p10": [2.0], "p50": [10.0], "p90": [14.0]})
    leaning = combine(lgbm, ets, band_member="auto_ets").sort("product_id")
    assert leaning["p10"].to_list() == [3.0, 4.0] and leaning["p50"].to_list() == [10.0, 10.0]
    assert leaning["p90"].to_list() == [14.5, 16.0]
    plain = combine(lgbm, ets).sort("product_id")
    assert plain["p10"].to_list() == [3.0, 4.0] and plain["p90"].to_list() == [15.0, 16.0]


def test_weekly_choice_needs_only_the_configured_members():
    """Weekly runs LightGBM + AutoTheta: past rows have no AutoETS P50, which had left every weekly
    choice at the default; with only the configured members required, a clearly better set is chosen."""
    from datetime import date

    from dsop_assets.forecast.combine import choose_member_sets
    from dsop_assets.forecast.config import weekly_config

    config = weekly_config(horizons=(1, 2))
    types = pl.DataFrame({"level": "product", "product_id": [f"P{i}" for i in range(60)], "customer_id": "ALL",
                          "series_type": "long"})
    origins = [date(2024, 1, 1 + 7 * k) for k in range(4)]
    past = types.drop("series_type").join(pl.DataFrame({"origin_date": origins}), how="cross").join(
        pl.DataFrame({"horizon": [1, 2]}), how="cross").with_columns(
        target_start=pl.col("origin_date").dt.offset_by(pl.format("{}w", pl.col("horizon"))),
        p50_lgbm=pl.lit(100.0), p50_auto_ets=pl.lit(None, pl.Float64), p50_auto_theta=pl.lit(160.0))
    actual = past.select("level", "product_id", "customer_id", "target_start").unique().with_columns(
        actual_qty=pl.lit(100.0))
    choice = choose_member_sets(past, actual, date(2024, 2, 4), types, config)
    assert set(choice.filter(pl.col("series_type") == "long")["member_set"]) == {"lgbm"}

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
    assert (out["n_members"] == 2).all()
    assert out["p50"].to_list() == pytest.approx(((20.0 + out["p50_m"]) / 2).to_list())

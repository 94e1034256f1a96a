from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.forecast import peers
from dsop_assets.forecast.baselines import FORECAST_SCHEMA

pytestmark = pytest.mark.skipif(not peers.is_available(), reason="statsforecast is not installed")

WEEKS = [date(2023, 1, 2) + timedelta(weeks=i) for i in range(60)]


def history() -> pl.DataFrame:
    rng = np.random.default_rng(4)
    frames = []
    for i, rate in enumerate([6.0, 2.0, 0.4, 12.0]):
        qty = rng.poisson(rate, len(WEEKS)).astype(float)
        qty[0] = 1.0
        frames.append(pl.DataFrame({"level": "product", "product_id": f"P{i}", "customer_id": "ALL",
                                    "period_start": WEEKS, "qty": qty}))
    frames.append(frames[0].with_columns(level=pl.lit("customer_product"), customer_id=pl.lit("C1")))
    return pl.concat(frames)


@pytest.fixture(scope="module")
def forecasts() -> pl.DataFrame:
    return peers.run_peers(history(), WEEKS[50:53], 4, "weekly", refit_every=2)


def test_peers_give_non_crossing_product_level_bands(forecasts):
    assert dict(forecasts.schema) == FORECAST_SCHEMA
    assert set(forecasts["level"]) == {"product"}  # product level only
    assert forecasts.group_by("model_id").len().sort("model_id").rows() == [
        ("auto_ets", 4 * 3 * 4), ("auto_theta", 4 * 3 * 4), ("croston_optimized", 4 * 3 * 4)
    ]
    assert (forecasts["p10"] >= 0).all()
    assert (forecasts["p10"] <= forecasts["p50"]).all() and (forecasts["p50"] <= forecasts["p90"]).all()
    assert (forecasts["p90"] > forecasts["p10"]).any()


def test_croston_optimized_point_equals_a_fit_at_that_origin(forecasts):
    """One fitted run serves every origin; check it against a fresh fit on data <= the origin."""
    from statsforecast import StatsForecast
    from statsforecast.models import CrostonOptimized

    origin = WEEKS[51]
    cut = history().filter((pl.col("level") == "product") & (pl.col("period_start") <= origin))
    direct = StatsForecast(models=[CrostonOptimized()], freq="1w", n_jobs=1).forecast(
        df=cut.select(unique_id="product_id", ds="period_start", y="qty"), h=1
    )
    ours = forecasts.filter(
        (pl.col("model_id") == "croston_optimized") & (pl.col("origin_date") == origin) & (pl.col("horizon") == 1)
    )
    joined = ours.join(direct.rename({"unique_id": "product_id"}), on="product_id")
    assert joined.height == 4
    np.testing.assert_allclose(joined["p50"], joined["CrostonOptimized"])


def test_auto_ets_is_leak_free():
    origin = WEEKS[50]
    base = peers.run_peers(history(), [origin], 3, "weekly", models=["auto_ets"])
    changed = history().with_columns(
        qty=pl.when(pl.col("period_start") > origin).then(pl.col("qty") + 50).otherwise(pl.col("qty"))
    )
    again = peers.run_peers(changed, [origin], 3, "weekly", models=["auto_ets"])
    assert base.drop("created_at").equals(again.drop("created_at"))

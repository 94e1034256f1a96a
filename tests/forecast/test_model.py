"""Quantile forecasts: ordered non-negative bands, fallbacks, determinism, no training on the future."""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl
import pytest

from dsop_assets.forecast import forecasting
from dsop_assets.forecast.config import monthly_config, weekly_config
from dsop_assets.forecast.features import build_monthly_features, build_targets, build_weekly_features
from dsop_assets.forecast.forecasting import OUTPUT_COLUMNS, forecast
from dsop_assets.forecast.model import feature_importance, model_from_strings, model_strings, predict, training_set
from tests.forecast.test_features import synthetic_erp, weekly_origins

CONFIG = weekly_config(n_estimators=15, max_train_rows=4_000, horizons=tuple(range(1, 9)), min_data_in_leaf=20,
                       stat_members=())  # the LightGBM path; members: test_members.py
STAMP = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def weekly():
    data = synthetic_erp(seed=3)
    feats = build_weekly_features(**data, origins=weekly_origins(60))
    origin = int(feats["origin_period"].max())
    as_of = feats.filter(pl.col("origin_period") == origin)["as_of"][0]
    return data, feats, build_targets(data["orders"], "weekly", as_of), origin


def _run(weekly, config=CONFIG, **kw):
    _, feats, targets, origin = weekly
    return forecast(feats.filter(pl.col("origin_period") < origin), targets, feats.filter(pl.col("origin_period") == origin),
                    config, created_at=STAMP, **kw)


def test_bands_ordered_non_negative_and_complete(weekly):
    out, model = _run(weekly)
    assert out.columns == OUTPUT_COLUMNS
    assert out.filter((pl.col("p10") > pl.col("p50")) | (pl.col("p50") > pl.col("p90")) | (pl.col("p10") < 0)).is_empty()
    series = out.select("level", "product_id", "customer_id").unique().height
    assert out.height == series * len(CONFIG.horizons)
    assert (out["target_start"] - out["origin_date"]).dt.total_days().to_list() == (out["horizon"] * 7).to_list()
    assert set(out["model_id"]) <= {"lgbm_quantile", "moving_average", "inactive_zero"} and "lgbm_quantile" in set(out["model_id"])
    assert {"model", "product_share"} <= set(out["method"])
    imp = feature_importance(model)
    assert imp.columns == ["model_id", "model_version", "level", "quantile", "horizon", "feature", "importance"]
    assert imp["importance"].sum() > 0


def test_short_history_uses_the_moving_average(weekly):
    out, _ = _run(weekly)
    young = out.filter(pl.col("product_id") == "P0", pl.col("level") == "product")  # P0 is 40 days old
    assert young.height and set(young["model_id"]) == {"moving_average"} and set(young["method"]) == {"short_history"}


def test_model_failure_falls_back_for_every_series(weekly, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(forecasting, "train", broken)
    out, model = _run(weekly)
    assert model is None and out.height
    assert set(out["model_id"]) == {"moving_average"}
    assert out.filter((pl.col("p10") > pl.col("p50")) | (pl.col("p50") > pl.col("p90"))).is_empty()


def test_a_level_too_short_to_train_takes_the_moving_average_and_the_others_keep_the_model(weekly, caplog):
    # Leaves too large for the product level's few rows: it trains no booster (as on tiny data), while
    # the customer x product level, with many more rows, does.
    _, feats, _, _ = weekly
    pairs = feats.filter(pl.col("level") == "customer_product").height
    config = weekly_config(n_estimators=15, max_train_rows=4_000, horizons=tuple(range(1, 9)),
                           min_data_in_leaf=pairs, stat_members=())
    with caplog.at_level("INFO", logger=forecasting.__name__):
        out, model = _run(weekly, config)
    assert "product" not in model.features and "customer_product" in model.features
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # before: a traceback, every level to the MA
    products = out.filter(pl.col("level") == "product")
    assert products.height and set(products["model_id"]) <= {"moving_average", "inactive_zero"}
    assert "lgbm_quantile" in set(out.filter(pl.col("level") == "customer_product")["model_id"])


def test_deterministic_and_storable(weekly):
    first, model = _run(weekly)
    second, again = _run(weekly)
    assert first.equals(second)
    strings = model_strings(model)
    assert strings.equals(model_strings(again))
    rebuilt = model_from_strings(strings, CONFIG, model.cutoff_period)
    rows = weekly[1].filter(pl.col("origin_period") == weekly[3], pl.col("periods_since_first") >= 13)
    assert predict(rebuilt, rows).equals(predict(model, rows))


def test_training_never_sees_a_target_after_the_origin(weekly):
    _, feats, targets, origin = weekly
    cut = origin - 10
    train_rows = training_set(feats, targets, cut, "product", CONFIG)
    assert train_rows.height and train_rows["target_period"].max() <= cut
    # a model trained later may not forecast an earlier origin
    _, model = _run(weekly)
    with pytest.raises(ValueError, match="after this origin"):
        predict(model, feats.filter(pl.col("origin_period") == cut))


def test_monthly_forecast_runs():
    data = synthetic_erp(seed=5)
    months = [m for y in (2023, 2024) for m in [__import__("datetime").date(y, k, 1) for k in range(1, 13)]][:19]
    feats = build_monthly_features(**data, months=months)
    origin = int(feats["origin_period"].max())
    targets = build_targets(data["orders"], "monthly", feats["as_of"].max())
    config = monthly_config(n_estimators=10, min_data_in_leaf=10, min_history_periods=4)
    out, _ = forecast(feats.filter(pl.col("origin_period") < origin), targets, feats.filter(pl.col("origin_period") == origin), config, created_at=STAMP)
    assert sorted(out["horizon"].unique()) == [1, 2, 3, 4, 5, 6]
    assert "lgbm_quantile" in set(out["model_id"])
    assert (out["target_start"].dt.day() == 1).all() and out.filter(pl.col("p10") > pl.col("p90")).is_empty()


def test_a_monthly_backfill_serves_each_origin_what_its_own_scheduled_run_would():
    # A scheduled monthly run trains at its origin; a backfill that reused an older model for the next
    # origins had served them worse forecasts than the schedule would have (docs/history, "A backfill trains at
    # every month").
    data = synthetic_erp(seed=5)
    months = [date(y, k, 1) for y in (2023, 2024) for k in range(1, 13)][:20]
    feats = build_monthly_features(**data, months=months)
    last = int(feats["origin_period"].max())
    targets = build_targets(data["orders"], "monthly", feats["as_of"].max())
    config = monthly_config(n_estimators=10, min_data_in_leaf=10, min_history_periods=4, stat_members=(),
                            calibration_min_rows=20, choose_bias_factor=False, market_driver=None)
    backfill, models = forecasting.forecast_many(feats, targets, [last - 2, last - 1, last], config,
                                                 created_at=STAMP, warmup=0)
    assert len(models) == 3  # one LightGBM per origin
    earlier = backfill.filter(pl.col("origin_date") < pl.col("origin_date").max())
    alone, _ = forecasting.forecast_many(feats, targets, [last], config, created_at=STAMP, past_forecasts=earlier,
                                         warmup=0)
    key = ["level", "product_id", "customer_id", "horizon"]
    served = backfill.filter(pl.col("origin_date") == pl.col("origin_date").max()).sort(key)
    assert served.height and served.select(*key, "model_id", "p10", "p50", "p90").equals(
        alone.sort(key).select(*key, "model_id", "p10", "p50", "p90"))


def test_a_backfill_warms_its_calibration_on_earlier_origins(weekly):
    _, feats, targets, origin = weekly
    config = weekly_config(n_estimators=15, max_train_rows=4_000, horizons=(1, 2, 3), min_data_in_leaf=20,
                           calibration_min_rows=20, stat_members=())
    # Stored forecasts cover two of the four origins before the first requested one: only the other two
    # are forecast again, and neither an origin after the first nor one outside the store is added.
    stored = feats.filter(pl.col("origin_period").is_in([origin - 2, origin - 1])).select("origin_date")
    assert forecasting.warmup_origins(feats, [origin], stored, config, 4) == [origin - 4, origin - 3]
    assert forecasting.warmup_origins(feats, [origin], None, config, 0) == []
    first = int(feats["origin_period"].min())
    assert forecasting.warmup_origins(feats, [first + 1], None, config, 4) == [first]
    cold, _ = forecasting.forecast_many(feats, targets, [origin], config, created_at=STAMP, warmup=0)
    warm, _ = forecasting.forecast_many(feats, targets, [origin], config, created_at=STAMP, warmup=4)
    assert warm["origin_date"].n_unique() == 1 and warm.height == cold.height  # warm-up rows are not served
    modelled = pl.col("model_id") == "lgbm_quantile"
    assert set(cold.filter(modelled)["bias_scale"]) == {1.0}  # a cold first origin runs uncalibrated
    assert set(warm.filter(modelled)["bias_scale"]) != {1.0}


def test_year_growth_compares_the_year_to_the_origin_with_the_year_before():
    from dsop_assets.forecast.model import with_year_growth

    config = monthly_config()
    keys = {"level": "product", "product_id": "P1", "customer_id": "ALL"}
    # 10 a month in periods 100-111 (period 105 without orders), 20 a month in 112-123; period 124 is after the origin.
    months = [p for p in range(100, 125) if p != 105]
    targets = pl.DataFrame({**{k: [v] * len(months) for k, v in keys.items()}, "target_period": months,
                            "actual_qty": [10.0 if p < 112 else 20.0 if p < 124 else 1e6 for p in months]})
    frame = pl.DataFrame({**{k: [v] * 3 for k, v in keys.items()}, "origin_period": [123, 123, 120],
                          "periods_since_first": [24, 24, 21], "mean_12": [20.0, 20.0, 17.5]})
    out = with_year_growth(frame, targets.with_columns(pl.col("target_period").cast(pl.Int32)), config)
    import math

    assert out["year_growth"][0] == pytest.approx(math.log(21.0) - math.log(1 + 110.0 / 12))  # 11 months of 10
    assert out["year_growth"][1] == out["year_growth"][0]
    assert out["year_growth"][2] is None  # less than two years of history


def test_external_columns_enter_the_model_only_where_configured(weekly):
    # Monthly leaves them out (noise on real series, see monthly_config); weekly keeps them. The store
    # keeps them either way: the market line reads its driver from there.
    from dsop_assets.forecast.model import train

    _, feats, targets, origin = weekly
    externals = [c for c in feats.columns if c.startswith("ext_")]
    assert externals
    used = {flag: train(feats.filter(pl.col("origin_period") < origin), targets, origin,
                        weekly_config(**{**_small(), "model_externals": flag})).features
            for flag in (True, False)}
    assert all(set(externals) & set(names) for names in used[True].values())
    assert not any(set(externals) & set(names) for names in used[False].values())
    assert monthly_config().model_externals is False and weekly_config().model_externals is True


def _small() -> dict:
    return dict(n_estimators=5, max_train_rows=2_000, horizons=(1, 2), min_data_in_leaf=20, stat_members=())

"""Moving-average forecast with empirical bands: the safety net under the quantile model.

Used for series with too little history and, on any model failure, for every series. The point is
the mean of the last ``ma_window`` periods (a feature already in the store); the bands come from
how that same moving average erred in the past: the 10/90 % quantiles of actual / MA over past
(origin, horizon) pairs whose target was known at the current origin, pooled per level and
horizon (per series would be too noisy for intermittent pairs). Pooling ratios, not differences,
lets big and small series share one band shape.

Young series (fewer than ``min_history_periods`` since their first order, the ones this fallback
serves) start from the mean of their last ``YOUNG_WINDOW`` periods since the first order instead:
``mean_<w>`` counts the periods before a launch as zeros and lags a ramp-up (on the demo's backtest
year it was a third of what young products then ordered; 68-84 % low, they alone made 4-9 points of
the whole monthly P50 bias); and they take the ratios of past young series when there are enough.
The middle ratio is sum(actual) / sum(point), so the P50 tracks volume like the model's calibrated
one; the median ratio over many intermittent series is ~0.5.
"""

from __future__ import annotations

import polars as pl

from .calibration import BIAS_BOUNDS
from .config import ForecastConfig
from .features_panel import SERIES_KEYS

# Fewer past ratios than this for a (level, horizon) and the configured default band is used.
_MIN_RATIOS = 30
_MAX_HISTORY_ROWS = 200_000
# Periods a young series' point averages over (since its first order): past young demo products
# (monthly WAPE 0.36 vs 0.43 for mean_6; weekly 0.56 vs 0.55 for mean_8, bias -5 % vs -12 %).
YOUNG_WINDOW = 3


def ma_column(config: ForecastConfig) -> str:
    column = f"mean_{config.ma_window}"
    if config.ma_window not in config.spec.mean_windows:
        raise ValueError(f"ma_window {config.ma_window} is not one of the feature store windows {config.spec.mean_windows}")
    return column


def fallback_point(config: ForecastConfig) -> pl.Expr:
    """``_ma``: mean_<w> for a series with enough history, else the mean of its last periods since
    its first order (at most ``YOUNG_WINDOW``)."""
    since = pl.col("periods_since_first").fill_null(YOUNG_WINDOW).clip(1, YOUNG_WINDOW)
    recent = pl.sum_horizontal(pl.col(f"lag_{k}").fill_null(0.0) for k in range(1, YOUNG_WINDOW + 1)) / since
    return pl.when(_young(config)).then(recent).otherwise(pl.col(ma_column(config))).alias("_ma")


def _young(config: ForecastConfig) -> pl.Expr:
    return (pl.col("periods_since_first").fill_null(config.min_history_periods) < config.min_history_periods).alias("young")


def band_ratios(features_history: pl.DataFrame, targets_history: pl.DataFrame, origin_period: int, config: ForecastConfig) -> pl.DataFrame:
    """Per (level, horizon, young): the 10/90 % quantiles of actual / MA and sum(actual) / sum(MA) as the
    middle; young = True over the past young series only, young = False over every past series, from
    targets known at ``origin_period``."""
    past = features_history.filter(
        pl.col("origin_period") < origin_period,
        pl.col("origin_period") >= origin_period - config.train_origins - max(config.horizons),
    ).select(*SERIES_KEYS, "origin_period", fallback_point(config), _young(config)).filter(pl.col("_ma") > 0)
    if past.height > _MAX_HISTORY_ROWS:
        past = past.sample(_MAX_HISTORY_ROWS, seed=config.seed)
    horizons = pl.DataFrame({"horizon": list(config.horizons)}, schema={"horizon": pl.Int32})
    pairs = (
        past.join(horizons, how="cross")
        .with_columns(target_period=pl.col("origin_period") + pl.col("horizon"))
        .filter(pl.col("target_period") <= origin_period)  # only targets known by as_of
        .join(targets_history.select(*SERIES_KEYS, "target_period", "actual_qty"), on=[*SERIES_KEYS, "target_period"], how="left")
        .with_columns(ratio=pl.col("actual_qty").fill_null(0.0) / pl.col("_ma"))
    )
    low, mid, high = config.quantiles
    stats = [
        pl.len().alias("n"),
        pl.col("ratio").quantile(low, "linear").alias("r_low"),
        # Volume-tracking point (see the module docstring), bounded like the model's bias factor.
        (pl.col("actual_qty").fill_null(0.0).sum() / pl.col("_ma").sum()).clip(*BIAS_BOUNDS).alias("r_mid"),
        pl.col("ratio").quantile(high, "linear").alias("r_high"),
    ]
    everyone = pairs.group_by("level", "horizon").agg(stats).with_columns(young=pl.lit(False))
    young = pairs.filter(pl.col("young")).group_by("level", "horizon").agg(stats).with_columns(young=pl.lit(True))
    return pl.concat([everyone, young], how="vertical_relaxed")


def moving_average_forecast(
    rows: pl.DataFrame,
    features_history: pl.DataFrame,
    targets_history: pl.DataFrame,
    config: ForecastConfig,
) -> pl.DataFrame:
    """One row per (series in ``rows``, horizon): keys, origin_period, horizon, p10, p50, p90."""
    out_schema = {**{k: pl.String for k in SERIES_KEYS}, "origin_period": pl.Int32, "horizon": pl.Int32, "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64}
    if rows.is_empty():
        return pl.DataFrame(schema=out_schema)
    origin_period = int(rows["origin_period"].max())
    ratios = band_ratios(features_history, targets_history, origin_period, config)
    # A young series takes the young series' ratios when there are enough of them, else everyone's.
    pooled = ratios.filter(~pl.col("young")).drop("young")
    default_low, default_high = config.default_band
    usable = pl.col("n") >= _MIN_RATIOS
    horizons = pl.DataFrame({"horizon": list(config.horizons)}, schema={"horizon": pl.Int32})
    ma = pl.col("_ma").fill_null(0.0)
    young = ratios.filter(pl.col("young") & (pl.col("n") >= _MIN_RATIOS)).drop("young")
    out = (
        rows.select(*SERIES_KEYS, "origin_period", fallback_point(config), _young(config))
        .join(horizons, how="cross")
        .join(pooled, on=["level", "horizon"], how="left")
        .join(young, on=["level", "horizon"], how="left", suffix="_young")
        .with_columns(
            *(pl.when(pl.col("young") & pl.col("n_young").is_not_null()).then(pl.col(f"{c}_young")).otherwise(pl.col(c)).alias(c)
              for c in ("r_low", "r_mid", "r_high", "n")))
        .with_columns(
            p10=ma * pl.when(usable).then(pl.col("r_low")).otherwise(default_low),
            p50=ma * pl.when(usable).then(pl.col("r_mid")).otherwise(1.0),
            p90=ma * pl.when(usable).then(pl.col("r_high")).otherwise(default_high),
        )
    )
    return out.select(list(out_schema)).cast(out_schema)

"""Moving-average forecast with empirical bands: the safety net under the quantile model.

Used for series with too little history and, on any model failure, for every series. The point is
the mean of the last ``ma_window`` periods (a feature already in the store); the bands come from
how that same moving average erred in the past: the 10/50/90 % quantiles of actual / MA over past
(origin, horizon) pairs whose target was known at the current origin, pooled per level and
horizon (per series would be too noisy for intermittent pairs). Pooling ratios, not differences,
lets big and small series share one band shape.
"""

from __future__ import annotations

import polars as pl

from .config import ForecastConfig
from .features_panel import SERIES_KEYS

# Fewer past ratios than this for a (level, horizon) and the configured default band is used.
_MIN_RATIOS = 30
_MAX_HISTORY_ROWS = 200_000


def ma_column(config: ForecastConfig) -> str:
    column = f"mean_{config.ma_window}"
    if config.ma_window not in config.spec.mean_windows:
        raise ValueError(f"ma_window {config.ma_window} is not one of the feature store windows {config.spec.mean_windows}")
    return column


def band_ratios(features_history: pl.DataFrame, targets_history: pl.DataFrame, origin_period: int, config: ForecastConfig) -> pl.DataFrame:
    """Quantiles of actual / MA per (level, horizon), from targets known at ``origin_period``."""
    ma = ma_column(config)
    past = features_history.filter(
        pl.col("origin_period") < origin_period,
        pl.col("origin_period") >= origin_period - config.train_origins - max(config.horizons),
        pl.col(ma) > 0,
    ).select(*SERIES_KEYS, "origin_period", ma)
    if past.height > _MAX_HISTORY_ROWS:
        past = past.sample(_MAX_HISTORY_ROWS, seed=config.seed)
    horizons = pl.DataFrame({"horizon": list(config.horizons)}, schema={"horizon": pl.Int32})
    pairs = (
        past.join(horizons, how="cross")
        .with_columns(target_period=pl.col("origin_period") + pl.col("horizon"))
        .filter(pl.col("target_period") <= origin_period)  # only targets known by as_of
        .join(targets_history.select(*SERIES_KEYS, "target_period", "actual_qty"), on=[*SERIES_KEYS, "target_period"], how="left")
        .with_columns(ratio=pl.col("actual_qty").fill_null(0.0) / pl.col(ma))
    )
    low, mid, high = config.quantiles
    return pairs.group_by("level", "horizon").agg(
        pl.len().alias("n"),
        pl.col("ratio").quantile(low, "linear").alias("r_low"),
        pl.col("ratio").quantile(mid, "linear").alias("r_mid"),
        pl.col("ratio").quantile(high, "linear").alias("r_high"),
    )


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
    default_low, default_high = config.default_band
    usable = pl.col("n") >= _MIN_RATIOS
    horizons = pl.DataFrame({"horizon": list(config.horizons)}, schema={"horizon": pl.Int32})
    ma = pl.col(ma_column(config)).fill_null(0.0)
    out = (
        rows.select(*SERIES_KEYS, "origin_period", ma_column(config))
        .join(horizons, how="cross")
        .join(ratios, on=["level", "horizon"], how="left")
        .with_columns(
            p10=ma * pl.when(usable).then(pl.col("r_low")).otherwise(default_low),
            p50=ma * pl.when(usable).then(pl.col("r_mid")).otherwise(1.0),
            p90=ma * pl.when(usable).then(pl.col("r_high")).otherwise(default_high),
        )
    )
    return out.select(list(out_schema)).cast(out_schema)

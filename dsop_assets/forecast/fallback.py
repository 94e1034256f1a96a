"""Moving-average forecast with empirical bands: the safety net under the quantile model.

Used for series with too little history and, on any model failure, for every series. The point is
the mean of the last ``ma_window`` periods (a feature already in the store); the bands come from
how that same moving average erred in the past: the 10/90 % quantiles of actual / MA over past
(origin, horizon) pairs whose target was known at the current origin, pooled per level and
horizon (per series would be too noisy for intermittent pairs). Pooling ratios, not differences,
lets big and small series share one band shape.

Young series (fewer than ``min_history_periods`` since their first order, the ones this fallback
serves) start from the mean of their last ``YOUNG_WINDOWS`` periods since the first order instead:
``mean_<w>`` counts the periods before a launch as zeros and lags a ramp-up (on the demo's backtest
year it was a third of what young products then ordered; 68-84 % low, they alone made 4-9 points of
the whole monthly P50 bias); and they take the ratios of past young series when there are enough.
The middle ratio is sum(actual) / sum(point), so the P50 tracks volume like the model's calibrated
one; the median ratio over many intermittent series is ~0.5.

A launch ramps: the ratios of past young series are taken per age (months since the first order,
``age_bucket``), pooled over ages only when an age has too few. And only series that really started
inside the history count as young there: a series whose first order falls in the history's first
period (``censored``) may be years old - every product of an export is "one period old" at its first
origin - so it neither teaches the launch ratios nor takes them. On the demo, those censored series
were 5/6 of the "young" ratios (ratio ~1), while real launches then ordered 2.7-4x their first
month's rate and 1.5-2x their first two months' mean; the served young rows ran 34-70 % low.
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
# (monthly WAPE 0.36 vs 0.43 for mean_6). Weekly 8 (about two months), not 3: three weeks of an
# intermittent launch are often all quiet, and then P10 = P50 = P90 = 0 while it orders again (weekly
# demo backtest, SPL ratio to AutoTheta at 1 / 2 / 4 weeks 0.946 / 0.950 / 0.954 vs 0.947 / 0.952 / 0.956
# with 3; 13 weeks, the monthly 3 months: 0.946 / 0.950 / 0.955). Each must be a lag run 1..w or one of
# the spec's mean windows.
YOUNG_WINDOWS = {"weekly": 8, "monthly": 3}
# A launch's ratio legitimately exceeds the model's bias bounds (a first, partial month is a fraction
# of the ramped rate); these bounds only stop a handful of odd launches from running away.
YOUNG_RATIO_BOUNDS = (0.5, 5.0)
# The least share of a first period counted as exposure: a launch on a period's last day would
# otherwise turn one day's orders into a whole period's rate (a tenfold scale-up at most).
_MIN_EXPOSURE = 0.1


def ma_column(config: ForecastConfig) -> str:
    column = f"mean_{config.ma_window}"
    if config.ma_window not in config.spec.mean_windows:
        raise ValueError(f"ma_window {config.ma_window} is not one of the feature store windows {config.spec.mean_windows}")
    return column


def fallback_point(config: ForecastConfig, columns: list[str] | None = None, start: int | None = None) -> pl.Expr:
    """``_ma``: mean_<w> for a series with enough history, else its rate per period over its last
    periods since its first order (at most ``YOUNG_WINDOWS[cadence]``).

    The first period of a launch is partial: a product launched on the 26th has five days of orders
    in its first month, and dividing them by a whole month made its point a sixth of its rate (demo:
    the first-month launches then ordered 12-33x their point). Where the product master's launch date
    gives the share of that first period since launch (``age_since_launch`` in ``columns``), the
    first period counts only that share (at least ``_MIN_EXPOSURE``); a launch date before the first
    order (the product sold elsewhere first) counts it whole.

    The window's sum is the lags 1..w where the store has them all, else the window mean times the
    periods it averaged (``mean_<w>`` averages over at most the periods since the history's first
    period, ``start``: the panel starts there)."""
    window = YOUNG_WINDOWS[config.cadence]
    psf = pl.col("periods_since_first").fill_null(window)
    since = psf.clip(1, window)
    exposure = since
    if columns is not None and "age_since_launch" in columns:
        first = (pl.col("age_since_launch") - (psf - 1)).clip(_MIN_EXPOSURE, 1.0).fill_null(1.0)
        exposure = pl.when(psf <= window).then(since - 1 + first).otherwise(since)
    if set(range(1, window + 1)) <= set(config.spec.lags):
        total = pl.sum_horizontal(pl.col(f"lag_{k}").fill_null(0.0) for k in range(1, window + 1))
    else:
        averaged = (pl.col("origin_period") - start + 1).clip(1, window) if start is not None else pl.lit(window)
        total = pl.col(f"mean_{window}").fill_null(0.0) * averaged
    recent = total / exposure
    return pl.when(_young(config)).then(recent).otherwise(pl.col(ma_column(config))).alias("_ma")


def _young(config: ForecastConfig) -> pl.Expr:
    return (pl.col("periods_since_first").fill_null(config.min_history_periods) < config.min_history_periods).alias("young")


def history_start(*frames: pl.DataFrame) -> int | None:
    """The first period with an order in the feature store's history: the earliest first period of
    any series (``origin_period - periods_since_first + 1``)."""
    starts = [f.select((pl.col("origin_period") - pl.col("periods_since_first") + 1).min()).item()
              for f in frames if f.height and "periods_since_first" in f.columns]
    starts = [s for s in starts if s is not None]
    return int(min(starts)) if starts else None


def _launch(config: ForecastConfig, start: int | None) -> list[pl.Expr]:
    """``young``: a series that started inside the history (not censored) and is younger than
    ``min_history_periods``; ``age_bucket``: its months since the first order (1 = the first month)."""
    first = pl.col("origin_period") - pl.col("periods_since_first") + 1
    censored = first <= start if start is not None else pl.lit(False)
    months = (pl.col("periods_since_first").fill_null(1.0) * 12 / config.spec.periods_per_year).ceil().cast(pl.Int32)
    return [(_young(config) & ~censored.fill_null(True)).alias("young"), months.alias("age_bucket")]


def band_ratios(features_history: pl.DataFrame, targets_history: pl.DataFrame, origin_period: int, config: ForecastConfig,
                start: int | None = None) -> pl.DataFrame:
    """Per (level, horizon, young, age_bucket): the 10/90 % quantiles of actual / MA and sum(actual) /
    sum(MA) as the middle, from targets known at ``origin_period``; young = False over every past
    series (age_bucket null), young = True over the past launches (see ``_launch``; ``start``: the
    history's first period), once per age (age_bucket) and once pooled over ages (age_bucket null)."""
    start = history_start(features_history) if start is None else start
    past = features_history.filter(
        pl.col("origin_period") < origin_period,
        pl.col("origin_period") >= origin_period - config.train_origins - max(config.horizons),
    ).select(*SERIES_KEYS, "origin_period", fallback_point(config, features_history.columns, start), *_launch(config, start)).filter(pl.col("_ma") > 0)
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

    def stats(bounds: tuple[float, float]) -> list[pl.Expr]:
        return [
            pl.len().alias("n"),
            pl.col("ratio").quantile(low, "linear").alias("r_low"),
            # Volume-tracking point (see the module docstring), bounded.
            (pl.col("actual_qty").fill_null(0.0).sum() / pl.col("_ma").sum()).clip(*bounds).alias("r_mid"),
            pl.col("ratio").quantile(high, "linear").alias("r_high"),
        ]
    no_age = pl.lit(None, pl.Int32).alias("age_bucket")
    everyone = pairs.group_by("level", "horizon").agg(stats(BIAS_BOUNDS)).with_columns(young=pl.lit(False), age_bucket=no_age)
    launches = pairs.filter(pl.col("young"))
    young = launches.group_by("level", "horizon").agg(stats(YOUNG_RATIO_BOUNDS)).with_columns(young=pl.lit(True), age_bucket=no_age)
    by_age = launches.group_by("level", "horizon", "age_bucket").agg(stats(YOUNG_RATIO_BOUNDS)).with_columns(young=pl.lit(True))
    return pl.concat([everyone, young, by_age], how="diagonal_relaxed")


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
    start = history_start(features_history, rows)
    ratios = band_ratios(features_history, targets_history, origin_period, config, start)
    # A launch takes the past launches' ratios of its age when there are enough of them, else those
    # of every past launch, else everyone's; a censored series (age unknown) everyone's.
    pooled = ratios.filter(~pl.col("young")).drop("young", "age_bucket")
    default_low, default_high = config.default_band
    usable = pl.col("n") >= _MIN_RATIOS
    horizons = pl.DataFrame({"horizon": list(config.horizons)}, schema={"horizon": pl.Int32})
    ma = pl.col("_ma").fill_null(0.0)
    enough = ratios.filter(pl.col("young") & (pl.col("n") >= _MIN_RATIOS)).drop("young")
    young = enough.filter(pl.col("age_bucket").is_null()).drop("age_bucket")
    by_age = enough.filter(pl.col("age_bucket").is_not_null())
    ratio_cols = ("r_low", "r_mid", "r_high", "n")
    out = (
        rows.select(*SERIES_KEYS, "origin_period", fallback_point(config, rows.columns, start), *_launch(config, start))
        .join(horizons, how="cross")
        .join(pooled, on=["level", "horizon"], how="left")
        .join(young, on=["level", "horizon"], how="left", suffix="_young")
        .join(by_age.rename({c: f"{c}_age" for c in ratio_cols}), on=["level", "horizon", "age_bucket"], how="left")
        .with_columns(
            *(pl.when(pl.col("young") & pl.col("n_age").is_not_null()).then(pl.col(f"{c}_age"))
              .when(pl.col("young") & pl.col("n_young").is_not_null()).then(pl.col(f"{c}_young")).otherwise(pl.col(c)).alias(c)
              for c in ratio_cols))
        .with_columns(
            p10=ma * pl.when(usable).then(pl.col("r_low")).otherwise(default_low),
            p50=ma * pl.when(usable).then(pl.col("r_mid")).otherwise(1.0),
            p90=ma * pl.when(usable).then(pl.col("r_high")).otherwise(default_high),
        )
    )
    return out.select(list(out_schema)).cast(out_schema)

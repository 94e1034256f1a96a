"""Split-conformal widening of the quantile bands, fitted on the model's own past forecasts.

LightGBM's P10/P90 are fitted in-sample on log1p targets and come out too narrow, the more so the
further out the horizon (monthly h6 covered ~56 % instead of 80 %). At each origin we look at past
forecasts whose target period had ended by this origin's as_of, ask by how much each raw band would
have had to be scaled around its P50 to contain the actual (``k_i``), and use the conformal
quantile of those scales per (level, horizon). Only targets known at as_of enter, so a backtest of
the calibrated forecast is as leak-free as the raw one.

Only ``lgbm_quantile`` rows are scaled: moving-average rows already take their bands from their
own past errors (``fallback.band_ratios``), so widening them again with the model's k would
double-correct. They carry ``band_scale`` = 1.

Raw bands of stored forecasts are recovered from ``band_scale``. Where a scaled P10 was clipped at
zero the recovered lower width is too small, which can only over-state that row's ``k_i`` for an
actual below P50; such rows are rare at product level and the bias is towards wider bands.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl

from .config import MODEL_LGBM, ForecastConfig
from .features_calendar import period_end, period_index
from .features_panel import SERIES_KEYS

# Stands in for "no finite scale covers this actual" (zero-width side); far above any k bound.
_UNCOVERABLE = 1e9
PAST_COLUMNS = [*SERIES_KEYS, "model_id", "origin_date", "target_start", "horizon", "p10", "p50", "p90", "band_scale"]


def past_scores(past: pl.DataFrame, targets: pl.DataFrame, as_of: date, config: ForecastConfig) -> pl.DataFrame:
    """``k_i`` per past model row whose target ended by ``as_of``: columns level, horizon, k."""
    if past is None or past.is_empty():
        return pl.DataFrame(schema={"level": pl.String, "horizon": pl.Int64, "k": pl.Float64})
    cadence = config.cadence
    earliest = pl.select(period_index(pl.lit(as_of), cadence)).item() - config.calibration_origins
    rows = past.filter(
        pl.col("model_id") == MODEL_LGBM,
        pl.col("origin_date") < as_of,
        period_end(period_index(pl.col("target_start"), cadence), cadence) <= as_of,
        period_index(pl.col("origin_date"), cadence) >= earliest,
    )
    # Re-filtered here so a caller passing later actuals cannot leak them into this origin.
    known = targets.filter(pl.col("target_start") <= as_of).select(*SERIES_KEYS, "target_start", "actual_qty")
    scale = pl.col("band_scale").fill_null(1.0)
    lower = (pl.col("p50") - pl.col("p10")) / scale
    upper = (pl.col("p90") - pl.col("p50")) / scale
    y, p50 = pl.col("actual_qty"), pl.col("p50")
    k = (
        pl.when(y < p50).then(pl.when(lower > 0).then((p50 - y) / lower).otherwise(_UNCOVERABLE))
        .when(y > p50).then(pl.when(upper > 0).then((y - p50) / upper).otherwise(_UNCOVERABLE))
        .otherwise(0.0)
    )
    return (
        rows.with_columns(pl.col("target_start").cast(pl.Date))
        .join(known, on=[*SERIES_KEYS, "target_start"], how="left")
        .with_columns(pl.col("actual_qty").fill_null(0.0))  # absent target row = no demand
        .select("level", pl.col("horizon").cast(pl.Int64), k.alias("k"))
    )


def band_scales(scores: pl.DataFrame, levels: list[str], config: ForecastConfig) -> pl.DataFrame:
    """k per (level, horizon): conformal quantile of ``k_i``, pooling neighbouring horizons when thin."""
    out = []
    for level in levels:
        by_h = {h: s["k"].to_numpy() for (h,), s in scores.filter(pl.col("level") == level).group_by("horizon")}
        for h in config.horizons:
            out.append((level, h, _scale_for(by_h, h, config)))
    return pl.DataFrame(out, schema={"level": pl.String, "horizon": pl.Int64, "band_scale": pl.Float64}, orient="row")


def _scale_for(by_h: dict, horizon: int, config: ForecastConfig) -> float:
    # Widen symmetrically around the horizon: neighbours' errors are the closest stand-in.
    pooled, width = by_h.get(horizon, np.empty(0)), 0
    span = max(config.horizons) - min(config.horizons)
    while len(pooled) < config.calibration_min_rows and width < span:
        width += 1
        pooled = np.concatenate([by_h[h] for h in range(horizon - width, horizon + width + 1) if h in by_h] or [np.empty(0)])
    n = len(pooled)
    if n < config.calibration_min_rows:
        return 1.0
    # Finite-sample split-conformal level: guarantees >= target coverage under exchangeability.
    q = min(1.0, math.ceil((n + 1) * config.calibration_coverage) / n)
    k = float(np.quantile(pooled, q, method="higher"))
    lo, hi = config.calibration_bounds
    return min(max(k, lo), hi)


def calibrate(out: pl.DataFrame, scales: pl.DataFrame) -> pl.DataFrame:
    """Scale the model rows' bands around P50 by their (level, horizon) k; others get k = 1."""
    k = pl.when(pl.col("model_id") == MODEL_LGBM).then(pl.col("_k").fill_null(1.0)).otherwise(1.0)
    return (
        out.join(scales.rename({"band_scale": "_k"}).with_columns(pl.col("horizon").cast(out.schema["horizon"])),
                 on=["level", "horizon"], how="left")
        .with_columns(k.alias("band_scale"))
        .with_columns(
            p10=(pl.col("p50") - pl.col("band_scale") * (pl.col("p50") - pl.col("p10"))).clip(lower_bound=0.0),
            p90=pl.col("p50") + pl.col("band_scale") * (pl.col("p90") - pl.col("p50")),
        )
        .drop("_k")
    )


def calibrate_origin(
    out: pl.DataFrame, past: pl.DataFrame | None, targets: pl.DataFrame, as_of: date, config: ForecastConfig
) -> pl.DataFrame:
    if not config.calibrate_bands:
        return out.with_columns(band_scale=pl.lit(1.0))
    scores = past_scores(past, targets, as_of, config)
    return calibrate(out, band_scales(scores, out["level"].unique().sort().to_list(), config))


__all__ = ["PAST_COLUMNS", "band_scales", "calibrate", "calibrate_origin", "past_scores"]

"""Recent-volume recalibration of the young series' forecasts (``method`` ``short_history``).

A young series' point is its recent rate times the volume ratio of past launches of the same age
(``fallback.py``), learned over the whole training window (two years monthly): a ratio of a cohort
that launched into a different market. On the demo's upswing the served launch rows ran 2x low at
6 months (-6.4 points of the whole monthly P50 bias) while the window's ratios said launches shrink
after month 4. The model rows already correct their level on their own latest past forecasts
(``calibration.py``); the young rows get the same kind of factor: per (level, horizon) sum(actual) /
sum(raw P50) over their own past forecasts of the calibration window (``calibration_origins``) whose
target is known at ``as_of``, bounded by ``BIAS_BOUNDS``, 1 when fewer than ``MIN_ROWS`` rows. The
whole window, not the model's latest ``bias_origins``: a dozen launches an origin are too few (monthly
demo: over the latest 3 origins the factor overshot, SPL at 1 month 0.3355 vs 0.3339). At the longest
horizons the window holds one origin's launches, fewer than ``MIN_ROWS``: they take the level's factor
over every horizon. It multiplies P10, P50 and P90 and is recorded in ``bias_scale`` (the raw point
stays recoverable, so each factor is learned on raw forecasts, never on corrected ones). Leak-free
like the model's calibration: only past rows whose target ended by ``as_of``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from .calibration import BIAS_BOUNDS
from .config import MODEL_MA, ForecastConfig
from .features_calendar import period_end, period_index
from .features_panel import SERIES_KEYS

YOUNG_METHOD = "short_history"
# Fewer past young rows than this (after pooling every horizon) and the factor stays 1: a handful of
# launches is too few to say the whole cohort runs high or low.
MIN_ROWS = 30


def young_bias(past: pl.DataFrame | None, targets: pl.DataFrame, as_of: date, config: ForecastConfig) -> pl.DataFrame:
    """level, horizon, young_bias: the factor per (level, horizon); a horizon with fewer than
    ``MIN_ROWS`` rows takes the factor over every horizon of its level."""
    schema = {"level": pl.String, "horizon": pl.Int64, "young_bias": pl.Float64}
    if past is None or past.is_empty() or "method" not in past.columns:
        return pl.DataFrame(schema=schema)
    cadence = config.cadence
    now = pl.select(period_index(pl.lit(as_of), cadence)).item()
    rows = past.filter(
        pl.col("model_id") == MODEL_MA, pl.col("method") == YOUNG_METHOD, pl.col("origin_date") < as_of,
        period_end(period_index(pl.col("target_start"), cadence), cadence) <= as_of,
        period_index(pl.col("origin_date"), cadence) >= now - config.calibration_origins,
    )
    known = targets.filter(pl.col("target_start") <= as_of).select(*SERIES_KEYS, "target_start", "actual_qty")
    rows = (rows.with_columns(pl.col("target_start").cast(pl.Date), pl.col("horizon").cast(pl.Int64),
                              raw=pl.col("p50") / pl.col("bias_scale").fill_null(1.0))
            .join(known, on=[*SERIES_KEYS, "target_start"], how="left")
            .with_columns(pl.col("actual_qty").fill_null(0.0)))
    out = []
    for (level,), part in rows.group_by("level"):
        pooled = _ratio(part)
        for h in config.horizons:
            r = _ratio(part.filter(pl.col("horizon") == h))
            r = pooled if r is None else r
            if r is not None:
                out.append((level, h, min(max(r, BIAS_BOUNDS[0]), BIAS_BOUNDS[1])))
    return pl.DataFrame(out, schema=schema, orient="row")


def _ratio(rows: pl.DataFrame) -> float | None:
    raw = rows["raw"].sum()
    return rows["actual_qty"].sum() / raw if rows.height >= MIN_ROWS and raw > 0 else None


def recalibrate_young(out: pl.DataFrame, past: pl.DataFrame | None, targets: pl.DataFrame, as_of: date,
                      config: ForecastConfig) -> pl.DataFrame:
    """``out`` with its young rows' P10/P50/P90 (and ``mean``, ``p10_unclipped``) times their factor,
    recorded in ``bias_scale``; every other row unchanged."""
    factors = young_bias(past, targets, as_of, config)
    if factors.is_empty():
        return out
    young = (pl.col("model_id") == MODEL_MA) & (pl.col("method") == YOUNG_METHOD)
    joined = out.join(factors.with_columns(pl.col("horizon").cast(out.schema["horizon"])), on=["level", "horizon"],
                      how="left")
    factor = pl.when(young).then(pl.col("young_bias").fill_null(1.0)).otherwise(1.0)
    scaled = [c for c in ("p10", "p50", "p90", "mean", "p10_unclipped") if c in out.columns]
    return joined.with_columns(*(pl.col(c) * factor for c in scaled),
                               bias_scale=pl.col("bias_scale") * factor).drop("young_bias")


__all__ = ["recalibrate_young", "young_bias"]

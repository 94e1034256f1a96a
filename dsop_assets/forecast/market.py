"""The market's level from a leading indicator: a top-down check on the summed product forecast.

Every member of the product forecast is univariate at heart (LightGBM's trees cannot extrapolate a
driver beyond the range they were trained on, and the statistical members see only the series), so
in a cycle upswing the whole forecast runs low at the long horizons, and in a downswing high: on the
demo's upswing the summed monthly P50 ran 7-10 % low at 3-6 months, as did every statsforecast peer.
Chip demand follows the semiconductor cycle, which the market prices before the orders arrive (the
SOX index leads). So per horizon h a one-regressor least-squares line, fitted at each origin on the
history known then,

    log(total demand in month m + h / mean total of months m-2..m) = a + b * log1p(driver growth at m),

gives a market total for the origin's h-ahead month. The summed product forecast is moved to it (one
factor for every product row of that horizon, bounded like the bias factor) only when both hold:

* the line is clear: |t| of its slope >= ``MIN_T`` on at least ``MIN_POINTS`` months;
* the line's market totals beat dsop's own summed forecast (before this factor: ``market_scale``
  records it) out of sample over the origins of the calibration window, in mean squared log error.

The second gate is what keeps an indicator that is unrelated to a company's orders (or a cycle the
line has stopped tracking) from moving anything: the line must have won on this data, recently.
Leak-free: the line at origin t uses months whose h-ahead target ended by t's as_of and the driver as
the feature store knew it at each month's as_of; the gate uses past forecasts whose targets ended by
as_of. Customer x product rows follow their product through the reconciliation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from .calibration import BIAS_BOUNDS
from .config import LEVEL_PRODUCT, ForecastConfig
from .features_calendar import period_end, period_index

# Fewer months than this on the line, or a slope this unclear, and the forecast is left alone.
MIN_POINTS = 12
MIN_T = 2.0
# Past (origin, horizon) totals both the line and dsop forecast, needed to judge the line.
MIN_JUDGED = 3
_SCALED = ("p10", "p50", "p90", "mean", "p10_unclipped")


@dataclass(frozen=True)
class MarketHistory:
    """Driver (log1p of its growth) per origin period and total product demand per period."""

    driver: dict[int, float]
    total: dict[int, float]

    def base(self, t: int) -> float | None:
        values = [self.total.get(p, 0.0) for p in (t - 2, t - 1, t)]
        return float(np.mean(values)) if min(values) > 0 else None

    def line(self, t: int, h: int) -> tuple[float, float, int] | None:
        """(market total for period t + h, |t| of the slope, months fitted) from months m with
        m + h <= t, or None without a driver value at t or enough months."""
        if t not in self.driver or (base := self.base(t)) is None:
            return None
        xs, ys = [], []
        for m, x in sorted(self.driver.items()):
            b = self.base(m)
            if m + h <= t and b is not None and self.total.get(m + h, 0.0) > 0:
                xs.append(x)
                ys.append(np.log(self.total[m + h] / b))
        if len(xs) < MIN_POINTS:
            return None
        x, y = np.asarray(xs), np.asarray(ys)
        spread = float(((x - x.mean()) ** 2).sum())
        if spread <= 0:
            return None
        slope = float(((x - x.mean()) * (y - y.mean())).sum() / spread)
        intercept = float(y.mean() - slope * x.mean())
        resid = y - intercept - slope * x
        se = np.sqrt(float(resid @ resid) / (len(x) - 2) / spread)
        t_stat = abs(slope) / se if se > 0 else np.inf
        return base * float(np.exp(intercept + slope * self.driver[t])), float(t_stat), len(x)


def market_history(features: pl.DataFrame, targets: pl.DataFrame, driver: str) -> MarketHistory:
    """``features``: feature-store rows (any levels, the driver column as known at each origin);
    ``targets``: ``build_targets`` rows known at the current as_of."""
    drivers: dict[int, float] = {}
    if driver in features.columns:
        known = pl.col(driver).is_not_null() & pl.col(driver).is_not_nan() & (pl.col(driver) > -1)
        per_origin = (features.filter(known)
                      .group_by("origin_period").agg(pl.col(driver).first()))
        drivers = {int(p): float(np.log1p(v)) for p, v in per_origin.iter_rows()}
    totals = _exact_sums(targets.filter(pl.col("level") == LEVEL_PRODUCT), "target_period", pl.col("actual_qty"))
    return MarketHistory(dict(sorted(drivers.items())), {int(p): v for p, v in totals.items()})


def market_factors(out: pl.DataFrame, history: MarketHistory, past: pl.DataFrame | None, origin: int, as_of: date,
                   config: ForecastConfig) -> pl.DataFrame:
    """level, horizon, market_scale: the factor for this origin's product rows (1 where a gate fails)."""
    products = out.filter(pl.col("level") == LEVEL_PRODUCT)
    summed = _exact_sums(products, "horizon", pl.col("p50"))
    wins = _line_wins(history, past, origin, as_of, config)
    rows = []
    for h in config.horizons:
        factor = 1.0
        fitted = history.line(origin, h)
        total = summed.get(h, 0.0)
        if wins and fitted is not None and fitted[1] >= MIN_T and total > 0:
            factor = min(max(fitted[0] / total, BIAS_BOUNDS[0]), BIAS_BOUNDS[1])
        rows.append((LEVEL_PRODUCT, h, factor))
    return pl.DataFrame(rows, schema={"level": pl.String, "horizon": pl.Int64, "market_scale": pl.Float64}, orient="row")


def _line_wins(history: MarketHistory, past: pl.DataFrame | None, origin: int, as_of: date,
               config: ForecastConfig) -> bool:
    """Whether the line's totals beat dsop's own summed product P50 (before the market factor) over
    the calibration window's past origins whose targets ended by ``as_of``."""
    if past is None or past.is_empty():
        return False
    cadence = config.cadence
    scale = pl.col("market_scale").fill_null(1.0) if "market_scale" in past.columns else pl.lit(1.0)
    judged = (
        past.filter(pl.col("level") == LEVEL_PRODUCT, pl.col("origin_date") < as_of,
                    period_end(period_index(pl.col("target_start"), cadence), cadence) <= as_of,
                    period_index(pl.col("origin_date"), cadence) >= origin - config.calibration_origins)
        .group_by(period_index(pl.col("origin_date"), cadence).alias("o"), pl.col("horizon").cast(pl.Int64))
        .agg((pl.col("p50") / scale).alias("dsop"))
        .sort("o", "horizon")
    )
    own, line = [], []
    for o, h, values in judged.iter_rows():
        dsop = math.fsum(values)
        actual = history.total.get(int(o) + int(h), 0.0)
        fitted = history.line(int(o), int(h))
        if actual > 0 and dsop > 0 and fitted is not None:
            own.append(np.log(dsop / actual) ** 2)
            line.append(np.log(fitted[0] / actual) ** 2)
    return len(own) >= MIN_JUDGED and float(np.mean(line)) < float(np.mean(own))


def _exact_sums(frame: pl.DataFrame, key: str, value: pl.Expr) -> dict:
    """key -> the correctly rounded sum of ``value``: a parallel group sum adds in an order that varies
    from run to run, and one factor per horizon would carry that last bit to every row it scales."""
    grouped = frame.group_by(key).agg(value.alias("_v"))
    return {k: math.fsum(v) for k, v in grouped.sort(key).iter_rows()}


def apply_market(out: pl.DataFrame, features: pl.DataFrame, targets: pl.DataFrame, past: pl.DataFrame | None,
                 origin: int, as_of: date, config: ForecastConfig) -> pl.DataFrame:
    """``out`` with ``market_scale`` (1 on every row the factor does not touch) and its product rows'
    P10/P50/P90, ``mean`` and ``p10_unclipped`` times the factor, also folded into ``bias_scale`` so
    the raw forecast stays recoverable for the calibrations."""
    if config.market_driver is None:
        return out.with_columns(market_scale=pl.lit(1.0))
    history = market_history(features, targets.filter(pl.col("target_start") <= as_of), config.market_driver)
    factors = market_factors(out, history, past, origin, as_of, config)
    joined = out.join(factors.with_columns(pl.col("horizon").cast(out.schema["horizon"])), on=["level", "horizon"],
                      how="left").with_columns(pl.col("market_scale").fill_null(1.0))
    scaled = [c for c in _SCALED if c in out.columns]
    return joined.with_columns(*(pl.col(c) * pl.col("market_scale") for c in scaled),
                               bias_scale=pl.col("bias_scale") * pl.col("market_scale"))


__all__ = ["MarketHistory", "apply_market", "market_factors", "market_history"]

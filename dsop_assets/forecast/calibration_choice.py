"""Whether the volume bias factor serves an origin, chosen by replaying both on the recent past.

The calibration (``calibration.py``) multiplies the model's point by a volume factor fitted on its
recent errors. Where the point is systematically low that is what makes it track volume: the demo's
LightGBM median of log demand ran 18-30 % under the summed demand, and the factor brings the P50 bias
within a few percent. Where the point is already unbiased, the factor only adds the noise of the last
three origins' errors: on real monthly series of 4.5-9 years (tourism, cut to an ERP export's length)
it worsened MASE by 5 % and the P50 bias from -1.5 to -3.3 %.

So each origin replays both on the latest ``choice_origins`` origins: for each of those origins the
scales (factor and band sides, or band sides alone around the raw point) are fitted as that origin
would have fitted them, from forecasts and actuals known at its as_of, applied to its raw forecasts and
scored against the actuals known now with the scorecard's own loss: pinball over P10 / P50 / P90, each
series divided by its naive one-period change known at that origin (SPL, product level). Whichever
replays better serves (on enough rows; a tie keeps the factor).

Until the night of 2026-12-04 each series' pinball was divided by its level instead. A factor of 0.98
then looked harmless on smooth series, whose month-to-month changes are a fraction of a percent of their
level, and cost them most: on M3's 52 monthly "other" series (not looked at before) the factor served at
one of three scored origins took dsop's MASE from 1.064 to 1.186, behind AutoETS (1.169). Judged by SPL,
the choice leaves it out there. Demo seeds 7 and 41, tourism and M3's other categories: the same
figures; seed 23 and tourism's 120 long series moved by noise, both ways (docs/history, "Round of 2026-12-04,
night").
Leak-free, and reproducible from ``forecast_result``: the raw forecasts are recovered from the stored
scales as the calibration itself does; ``bias_scale`` shows the outcome (1, or the market factor alone,
on model rows when the factor was left out).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl

from .calibration import band_scales, past_scores
from .config import LEVEL_PRODUCT, ForecastConfig
from .features_calendar import period_end, period_index
from .features_panel import SERIES_KEYS
from .metrics import naive_scale

MIN_CHOICE_ROWS = 200
QUANTILES = (0.1, 0.5, 0.9)
log = logging.getLogger(__name__)


def choose_bias_factor(past: pl.DataFrame | None, targets: pl.DataFrame, as_of: date, config: ForecastConfig,
                       memo: dict | None = None) -> tuple[ForecastConfig, dict[str, float]]:
    """(the config that serves this origin, replayed loss with and without the factor). ``memo`` caches
    the scales fitted at a past origin (they depend only on that origin's past)."""
    if not config.choose_bias_factor or past is None or past.is_empty():
        return config, {}
    judged = past_scores(past, targets, as_of, replace(config, calibration_origins=config.choice_origins))
    judged = judged.filter(pl.col("level") == LEVEL_PRODUCT)
    if judged.height < MIN_CHOICE_ROWS:
        return config, {}
    judged = judged.join(naive_scales_known_at(targets, as_of, config.cadence), on=["product_id", "origin_date"],
                         how="left")
    candidates = {"factor": replace(config, bias_factor=True), "no_factor": replace(config, bias_factor=False)}
    memo = {} if memo is None else memo
    losses = {}
    for name, cand in candidates.items():
        total = 0.0
        for (origin_date,), rows in judged.group_by("origin_date", maintain_order=True):
            key = (name, origin_date)
            if key not in memo:
                origin_as_of = pl.select(period_end(period_index(pl.lit(origin_date), config.cadence),
                                                    config.cadence)).item()
                memo[key] = band_scales(past_scores(past, targets, origin_as_of, cand), [LEVEL_PRODUCT], cand)
            total += _replayed_loss(rows, memo[key])
        losses[name] = total
    # The even choice. Until 2026-12-04 leaving the factor out had to replay 3 % better (the factor as the
    # default, a biased point being the costlier failure); the even choice was better on every set where the
    # two differed: 166 real series cut to 4.5-9 years MASE 0.545 -> 0.535, the 120 long ones 0.845 -> 0.840,
    # the 80 others equal; demo seed 23 SPL ratio at 3 / 6 months 1.043 / 1.059 -> 1.000 / 0.986 (P50 bias
    # +10.9 / +25.5 -> +5.3 / +12.4 %), seed 41's 6-month bias -17.8 -> -2.9 %, seed 7's -10.0 -> -7.1 %. The
    # factor needing a 3 % edge instead lost on seed 7.
    best = "no_factor" if losses["no_factor"] < losses["factor"] else "factor"
    log.info("as_of %s: volume factor %s (replayed loss: %s)", as_of, "left out" if best == "no_factor" else "served",
             {k: round(v, 2) for k, v in losses.items()})
    return candidates[best], losses


def naive_scales_known_at(targets: pl.DataFrame, as_of: date, cadence: str) -> pl.DataFrame:
    """product_id, origin_date -> _scale: the scorecard's own scale (``metrics.naive_scale``: each series'
    mean one-period change from its first order through that origin), so the replay's loss is the SPL the
    forecast is judged by. Known at each origin, so leak-free."""
    history = targets.filter(pl.col("level") == LEVEL_PRODUCT, pl.col("target_start") <= as_of).select(
        *SERIES_KEYS, period_start=pl.col("target_start").cast(pl.Date), qty="actual_qty", cadence=pl.lit(cadence))
    if history.is_empty():
        return pl.DataFrame(schema={"product_id": pl.String, "origin_date": pl.Date, "_scale": pl.Float64})
    scales = naive_scale(history, through=as_of)
    return scales.filter(pl.col("scale") > 0).select("product_id", pl.col("origin_date").cast(pl.Date),
                                                     _scale="scale")


def _replayed_loss(rows: pl.DataFrame, scales: pl.DataFrame) -> float:
    """Scaled pinball of ``rows`` (one origin's ``past_scores`` rows) calibrated with ``scales``, as
    ``calibration.calibrate`` would have served them (market factor included)."""
    s = rows.join(scales.with_columns(pl.col("horizon").cast(pl.Int64)), on=["level", "horizon"], how="left")
    bias = pl.when(pl.col("top")).then(pl.col("bias_scale")).otherwise(pl.col("bias_scale_small")).fill_null(1.0)
    low = pl.when(pl.col("floor")).then(pl.col("band_scale_low_floor")).otherwise(pl.col("band_scale_low_open"))
    upper = pl.when(pl.col("top")).then(pl.col("band_scale")).otherwise(pl.col("band_scale_small"))
    factor = bias * pl.col("market")
    s = s.with_columns(_p50=pl.col("raw_p50") * factor).with_columns(
        _p10=(pl.col("_p50") - low.fill_null(1.0) * factor * pl.col("raw_lower")).clip(lower_bound=0.0),
        _p90=pl.col("_p50") + upper.fill_null(1.0) * factor * pl.col("raw_upper"),
    ).filter(pl.col("_scale").is_not_null())
    total = pl.lit(0.0)
    for q, column in zip(QUANTILES, ("_p10", "_p50", "_p90")):
        d = pl.col("y") - pl.col(column)
        total = total + pl.max_horizontal(q * d, (q - 1) * d)
    return float(np.nan_to_num(s.select((total / pl.col("_scale")).sum()).item() or 0.0))


__all__ = ["choose_bias_factor"]

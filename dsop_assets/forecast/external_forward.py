"""Drivers forecast forward over their publication gap, from what was known at each as_of.

A monthly indicator is published weeks after its month ends (the demo's PMI about a month, industrial
production and trade statistics six weeks): at a month-end as_of its latest known value is one or two
months old, so "the latest value" and its growth describe the market as it was, not as it is. Each
series whose observations are at least ``MIN_STEP_DAYS`` apart is therefore run forward with
statsforecast's AutoETS (non-seasonal; on logs when every value is positive) over the latest
``FIT_POINTS`` values known at that as_of, one step per period that has started by the as_of without a published value
(``periods_missing``), at most ``MAX_STEPS``. The forecast rows join the point-in-time table the
features are computed from, so the level is the nowcast and each growth compares it with the known
value a window before it. Daily market prices are a day old at worst and are left as they are.

Leak-free: each (as_of, series) fit sees only vintages with known_at <= as_of. Deterministic (AutoETS
has no random state); fits are cached by the known values, so weekly as_ofs between two publications
share one fit. AutoETS, not AutoARIMA: on 24 points the ARIMA order search took 93 ms a fit, 10 s of CPU
for the seed monthly store's 108 fits (the feature stores are part of every history load), ETS 2 ms.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import numpy as np
import polars as pl

MIN_STEP_DAYS = 7  # daily series are current to within days: no forecast
MAX_STEPS = 6
# The fit sees the latest this-many known values: enough for AutoETS's trend, and a window that moves
# only when a value is published, so weekly as_ofs between two releases share one fit.
FIT_POINTS = 24
MIN_POINTS = 8  # fewer known values than this: no forecast, the latest value stands (no model worth fitting)
# Rows added by the forecast carry this in ``forecast_steps`` (0 = a published value).
STEP_COLUMN = "forecast_steps"


def _months(step_days: float) -> int:
    return int(round(step_days / 30.44))


def next_dates(last: date, step_days: float, k: int) -> list[date]:
    """The k observation dates after ``last``: calendar months for monthly / quarterly series (same
    day of the month as the last one), whole steps of days otherwise."""
    months = _months(step_days)
    if months >= 1:
        out = []
        for i in range(1, k + 1):
            m = last.month - 1 + months * i
            out.append(date(last.year + m // 12, m % 12 + 1, min(last.day, 28)))
        return out
    step = max(1, int(round(step_days)))
    return [last + timedelta(days=step * i) for i in range(1, k + 1)]


def periods_missing(last: date, step_days: float, as_of: date) -> int:
    """Periods after the latest observation that have started by ``as_of`` (their value is not known)."""
    k = 0
    for d in next_dates(last, step_days, MAX_STEPS):
        if d > as_of:
            break
        k += 1
    return k


def nowcast_path(values: np.ndarray, steps: int) -> np.ndarray:
    """AutoETS's mean path ``steps`` ahead of ``values`` (on logs when all are positive); the last
    value repeated when the model cannot be fitted."""
    from statsforecast.models import AutoETS

    logged = bool(np.all(values > 0))
    y = np.log(values) if logged else values.astype(float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = np.asarray(AutoETS(season_length=1).forecast(y=y, h=steps)["mean"], dtype=float)
        if not np.all(np.isfinite(path)):
            raise ValueError("non-finite forecast")
    except Exception:  # a degenerate series (constant, too short for any order): hold the last value
        path = np.repeat(y[-1], steps)
    return np.exp(path) if logged else path


def forward_fill(pit: pl.DataFrame, min_step_days: int = MIN_STEP_DAYS) -> pl.DataFrame:
    """``pit`` (as_of, name, observation_date, value: the values known at each as_of) plus, per
    (as_of, series) behind its as_of, the forecast rows for the missing periods; ``forecast_steps``
    is 0 on published rows and 1, 2, ... on forecast ones."""
    pit = pit.with_columns(pl.lit(0, pl.Int32).alias(STEP_COLUMN))
    if pit.is_empty():
        return pit
    cache: dict[tuple, np.ndarray] = {}
    added = []
    for (as_of, name), part in pit.group_by("as_of", "name", maintain_order=True):
        part = part.sort("observation_date")
        dates = part["observation_date"].to_list()
        if len(dates) < 2:
            continue
        step = float(np.median(np.diff(np.array(dates, dtype="datetime64[D]")).astype(float)))
        if step < min_step_days:
            continue
        k = periods_missing(dates[-1], step, as_of)
        if k == 0:
            continue
        values = part["value"].to_numpy()[-FIT_POINTS:]
        if len(values) < MIN_POINTS:
            continue
        key = (name, dates[-1], values.tobytes())
        if key not in cache or len(cache[key]) < k:
            cache[key] = nowcast_path(values, max(k, 3))
        path = cache[key][:k]
        added.append(pl.DataFrame({
            "as_of": [as_of] * k, "name": [name] * k, "observation_date": next_dates(dates[-1], step, k),
            "value": path.astype(float), STEP_COLUMN: list(range(1, k + 1)),
        }, schema={"as_of": pit.schema["as_of"], "name": pl.String, "observation_date": pl.Date, "value": pl.Float64,
                   STEP_COLUMN: pl.Int32}))
    if not added:
        return pit
    return pl.concat([pit.select("as_of", "name", "observation_date", "value", STEP_COLUMN), *added]).sort(
        "as_of", "name", "observation_date")


__all__ = ["forward_fill", "periods_missing", "next_dates", "nowcast_path", "STEP_COLUMN"]

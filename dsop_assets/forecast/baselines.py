"""Baseline forecasters (naive, seasonal naive, moving average, Croston-SBA, TSB) with empirical bands.

Each baseline is a point forecast evaluated at *every* period of a dense series x period matrix,
not only at the requested origins: that gives the baseline's own past errors at any origin, and
the P10/P90 band is the point plus quantiles of those errors (per horizon, pooled over the series
of one level, each error divided by its series' level at the time it was made). Only forecasts
whose target is <= the origin enter an origin's band, so bands are leak-free by construction.
P50 is the point forecast itself, so every baseline keeps its textbook definition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl

from .config import ForecastConfig, monthly_config, weekly_config

SERIES_KEYS = ["level", "product_id", "customer_id"]
FORECAST_SCHEMA = {
    "model_id": pl.String, "model_version": pl.String, "cadence": pl.String, "level": pl.String,
    "product_id": pl.String, "customer_id": pl.String, "origin_date": pl.Date,
    "target_start": pl.Date, "horizon": pl.Int64, "p10": pl.Float64, "p50": pl.Float64,
    "p90": pl.Float64, "created_at": pl.Datetime("us", "UTC"),
}
BASELINE_MODELS = ("naive", "seasonal_naive", "moving_average", "croston_sba", "tsb")
SEASON = {"weekly": 52, "monthly": 12}
MA_WINDOW = {"weekly": weekly_config().ma_window, "monthly": monthly_config().ma_window}  # 8 / 6
# Forecast times pooled into one band: a year of weekly errors adapts to regime changes; monthly
# needs two years to have enough errors per horizon.
BAND_WINDOW = {"weekly": 52, "monthly": 24}
MIN_ERRORS = 30  # fewer pooled errors than this and the horizon borrows the previous horizon's band
BAND_QUANTILES = (0.1, 0.9)
# Multiplicative band when no horizon has errors yet; the fallback's own choice, so both agree.
DEFAULT_BAND = ForecastConfig().default_band
CROSTON_ALPHA = 0.1
TSB_ALPHA, TSB_BETA = 0.1, 0.1
MODEL_VERSIONS = {
    "naive": "1", "seasonal_naive": "1:m={m}", "moving_average": "1:w={w}",
    "croston_sba": f"1:a={CROSTON_ALPHA}", "tsb": f"1:a={TSB_ALPHA},b={TSB_BETA}",
}


def period_index_expr(col: str, cadence: str) -> pl.Expr:
    """Integer period number: weeks since the Monday 1970-01-05, or months since 1970-01."""
    d = pl.col(col)
    if cadence == "weekly":
        return (d.cast(pl.Int64) - 4) // 7
    return (d.dt.year().cast(pl.Int64) - 1970) * 12 + d.dt.month().cast(pl.Int64) - 1


def check_grid(frame: pl.DataFrame, col: str, cadence: str) -> None:
    if cadence not in SEASON:
        raise ValueError(f"cadence must be 'weekly' or 'monthly', not {cadence!r}")
    d = pl.col(col)
    off_grid = (d.dt.weekday() != 1) if cadence == "weekly" else (d.dt.day() != 1)
    bad = frame.filter(off_grid)
    if bad.height:
        kind = "ISO-week Mondays" if cadence == "weekly" else "first days of months"
        raise ValueError(f"{col} must hold {kind}; e.g. {bad[col][0]}")


def period_dates(index: np.ndarray, cadence: str) -> pl.Series:
    index = np.asarray(index, dtype=np.int64)
    if cadence == "weekly":
        days = (index * 7 + 4).astype("datetime64[D]")
    else:
        days = index.astype("datetime64[M]").astype("datetime64[D]")
    return pl.Series(days, dtype=pl.Date)


@dataclass(frozen=True)
class Panel:
    """Series x period matrix of one cadence; NaN before each series' first non-zero period."""

    cadence: str
    keys: pl.DataFrame  # level, product_id, customer_id; row i describes series i
    y: np.ndarray  # [S, T]
    start: np.ndarray  # [S] column of the first non-zero period
    t0: int  # period index of column 0

    def columns(self, dates: Sequence[date] | pl.Series) -> np.ndarray:
        frame = pl.DataFrame({"d": pl.Series(dates, dtype=pl.Date)})
        check_grid(frame, "d", self.cadence)
        cols = frame.select(period_index_expr("d", self.cadence))["d"].to_numpy() - self.t0
        if cols.size and (cols.min() < 0 or cols.max() >= self.y.shape[1]):
            raise ValueError("every origin must lie within the history's periods")
        return cols

    def level_rows(self) -> list[np.ndarray]:
        levels = self.keys["level"].to_numpy()
        return [np.flatnonzero(levels == lv) for lv in np.unique(levels)]


def build_panel(history: pl.DataFrame, cadence: str, up_to: date | None = None) -> Panel:
    """Dense matrix from the history frame; all-zero series are dropped, gaps after the start are 0.

    ``up_to``: the day the history is complete to. The panel then runs through the last period complete
    by that day, not only through the last period with demand: months or weeks without a single order
    at the end of an export are zero demand, and origins may lie in them."""
    if "cadence" in history.columns:
        history = history.filter(pl.col("cadence") == cadence)
    check_grid(history, "period_start", cadence)
    frame = history.select(*SERIES_KEYS, "qty", t=period_index_expr("period_start", cadence))
    starts = frame.filter(pl.col("qty") > 0).group_by(SERIES_KEYS).agg(start=pl.col("t").min())
    if not starts.height:
        raise ValueError(f"the {cadence} history has no non-zero demand to forecast from")
    keys = starts.sort(SERIES_KEYS).with_row_index("sid")
    frame = frame.join(keys, on=SERIES_KEYS).filter(pl.col("t") >= pl.col("start"))
    t0, t1 = int(frame["t"].min()), int(frame["t"].max())
    if up_to is not None:
        t1 = max(t1, _last_complete_period(up_to, cadence))
    y = np.full((keys.height, t1 - t0 + 1), np.nan)
    y[frame["sid"].to_numpy(), frame["t"].to_numpy() - t0] = frame["qty"].to_numpy()
    start = keys["start"].to_numpy() - t0
    y[(np.arange(y.shape[1]) >= start[:, None]) & np.isnan(y)] = 0.0
    return Panel(cadence, keys.select(SERIES_KEYS), y, start, t0)


def _last_complete_period(up_to: date, cadence: str) -> int:
    """``period_index_expr`` of the last period that ended by ``up_to``: the one before the period
    holding the next day (whether or not that day starts it)."""
    following = pl.DataFrame({"d": [up_to + timedelta(days=1)]})
    return int(following.select(period_index_expr("d", cadence))["d"][0]) - 1


def trailing_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` periods since the series' start, up to and including t: the
    series level that scales band errors (a new series is not diluted by its pre-launch zeros)."""
    observed = ~np.isnan(y)
    total = np.cumsum(np.where(observed, y, 0.0), axis=1)
    count = np.cumsum(observed, axis=1, dtype=float)
    total[:, window:] -= total[:, :-window].copy()
    count[:, window:] -= count[:, :-window].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(observed, total / count, np.nan)


def moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` periods / window, periods before a series' first order counting as
    zeros: the fallback's ``mean_<window>`` feature (a rolling mean over the dense panel that starts
    at the data's first period), so the baseline and the production fallback share one P50."""
    total = np.cumsum(np.nan_to_num(y), axis=1)
    total[:, window:] -= total[:, :-window].copy()
    return np.where(np.isnan(y), np.nan, total / np.minimum(np.arange(1, y.shape[1] + 1), window))


def seasonal_naive(y: np.ndarray, h: int, season: int) -> np.ndarray:
    """Value of the same period a season before the target; naive where that precedes the series."""
    back = season * -(-h // season) - h  # target t+h minus whole seasons, relative to t
    lagged = np.full_like(y, np.nan)
    if back < y.shape[1]:
        lagged[:, back:] = y[:, : y.shape[1] - back]
    return np.where(np.isnan(lagged), y, lagged)


def croston_sba(y: np.ndarray, alpha: float = CROSTON_ALPHA) -> np.ndarray:
    """Croston with the Syntetos-Boylan correction: (1 - alpha/2) * size / interval.

    State starts at the series' first (non-zero) period with size = that demand and interval = 1;
    both are smoothed with ``alpha`` at each later non-zero demand, the interval with the number of
    periods since the previous demand.
    """
    size, interval, since = (np.full(y.shape[0], np.nan) for _ in range(3))
    out = np.full_like(y, np.nan)
    for t in range(y.shape[1]):
        v = y[:, t]
        new = np.isnan(size) & ~np.isnan(v)
        since = np.where(new, 0.0, since + 1)
        hit = ~new & (v > 0)
        size = np.where(new, v, np.where(hit, size + alpha * (v - size), size))
        interval = np.where(new, 1.0, np.where(hit, interval + alpha * (since - interval), interval))
        since = np.where(hit, 0.0, since)
        out[:, t] = (1 - alpha / 2) * size / interval
    return out


def tsb(y: np.ndarray, alpha: float = TSB_ALPHA, beta: float = TSB_BETA) -> np.ndarray:
    """Teunter-Syntetos-Babai: demand probability (smoothed every period with ``beta``) x size
    (smoothed at non-zero demands with ``alpha``); starts at probability 1 and the first demand."""
    size, prob = np.full(y.shape[0], np.nan), np.full(y.shape[0], np.nan)
    out = np.full_like(y, np.nan)
    for t in range(y.shape[1]):
        v = y[:, t]
        new = np.isnan(size) & ~np.isnan(v)
        hit = ~new & (v > 0)
        prob = np.where(new, 1.0, prob + beta * ((v > 0) - prob))
        size = np.where(new, v, np.where(hit, size + alpha * (v - size), size))
        out[:, t] = prob * size
    return out


def point_function(model: str, y: np.ndarray, cadence: str) -> Callable[[int], np.ndarray]:
    """Horizon -> [S, T] matrix whose column t is the forecast made at t for t + h."""
    if model == "naive":
        return lambda h: y
    if model == "seasonal_naive":
        return lambda h: seasonal_naive(y, h, SEASON[cadence])
    flat = {
        "moving_average": lambda: moving_average(y, MA_WINDOW[cadence]),
        "croston_sba": lambda: croston_sba(y),
        "tsb": lambda: tsb(y),
    }
    if model not in flat:
        raise ValueError(f"unknown baseline {model!r}; choose from {BASELINE_MODELS}")
    point = flat[model]()
    return lambda h: point


def _quantiles_of_sorted(values: np.ndarray) -> np.ndarray:
    """``np.quantile(values, BAND_QUANTILES)`` (linear method) of an already sorted array."""
    pos = np.asarray(BAND_QUANTILES) * (values.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, values.size - 1)
    return values[lo] + (pos - lo) * (values[hi] - values[lo])


def _pooled_quantiles(err: np.ndarray, cols: np.ndarray, h: int, window: int) -> np.ndarray:
    """[K, 2] error quantiles per origin from forecasts made in (o-h-window, o-h]; NaN if too few.

    Consecutive origins share all but one column of their windows, so one sorted window slides
    along: drop the leaving column's values, insert the entering one. Exact, and ~3x faster than a
    fresh quantile of ~150k pooled errors per origin.
    """
    out = np.full((cols.size, len(BAND_QUANTILES)), np.nan)
    column: dict[int, np.ndarray] = {}

    def sorted_column(c: int) -> np.ndarray:
        if c not in column:
            v = err[:, c]
            column[c] = np.sort(v[np.isfinite(v)])
        return column[c]

    pool, cur_lo, cur_hi = np.empty(0), 0, 0
    for k in np.argsort(cols, kind="stable"):
        hi = int(cols[k]) - h + 1
        lo = max(0, hi - window)
        if hi <= 0:
            continue
        if lo >= cur_hi:  # no overlap with the current window: start afresh
            pool, cur_lo, cur_hi = np.empty(0), lo, lo
        for c in range(cur_lo, lo):
            gone = sorted_column(c)
            first = np.searchsorted(pool, gone, "left")
            first += np.arange(gone.size) - np.searchsorted(gone, gone, "left")  # repeated values
            pool = np.delete(pool, first)
        if hi - cur_hi > 1:
            pool = np.sort(np.concatenate([pool, *map(sorted_column, range(cur_hi, hi))]))
        elif hi > cur_hi:
            new = sorted_column(cur_hi)
            pool = np.insert(pool, np.searchsorted(pool, new), new)
        cur_lo, cur_hi = lo, hi
        if pool.size >= MIN_ERRORS:
            out[k] = _quantiles_of_sorted(pool)
    return out


def empirical_bands(
    y: np.ndarray,
    points: Callable[[int], np.ndarray],
    scale: np.ndarray,
    cols: np.ndarray,
    horizons: Sequence[int],
    window: int,
    groups: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P10, P50, P90 as [K origins, H horizons, S series]; NaN where a series has not started.

    ``scale`` [S, T] is each series' level known at t; errors are pooled within each row group.
    """
    n_t = y.shape[1]
    shape = (cols.size, len(horizons), y.shape[0])
    p50, q_lo, q_hi = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    for j, h in enumerate(horizons):
        point = points(h)
        p50[:, j] = point[:, cols].T
        made = max(n_t - h, 0)  # forecast times whose target lies inside the history
        with np.errstate(invalid="ignore", divide="ignore"):
            err = (y[:, h : h + made] - point[:, :made]) / scale[:, :made]
        for rows in groups:
            q = _pooled_quantiles(err[rows], cols, h, window)
            q_lo[:, j, rows], q_hi[:, j, rows] = q[:, :1], q[:, 1:]
    for j in range(1, len(horizons)):  # horizons beyond the errors seen so far reuse the last band
        gap = np.isnan(q_lo[:, j])
        q_lo[:, j][gap], q_hi[:, j][gap] = q_lo[:, j - 1][gap], q_hi[:, j - 1][gap]
    level = np.broadcast_to(scale[:, cols].T[:, None, :], shape)
    lo = np.where(np.isnan(q_lo), (DEFAULT_BAND[0] - 1) * p50, q_lo * level)
    hi = np.where(np.isnan(q_hi), (DEFAULT_BAND[1] - 1) * p50, q_hi * level)
    p10 = np.minimum(np.maximum(p50 + lo, 0.0), p50)
    p90 = np.maximum(p50 + hi, p50)
    return p10, p50, p90


def forecast_frame(
    panel: Panel, cols: np.ndarray, horizons: Sequence[int], bands: tuple[np.ndarray, ...],
    model_id: str, model_version: str, created_at: datetime | None = None,
) -> pl.DataFrame:
    """``forecast_result`` rows for every finite P50 in the [K, H, S] band arrays."""
    p10, p50, p90 = bands
    k, j, s = np.nonzero(np.isfinite(p50))
    hs = np.asarray(horizons, dtype=np.int64)
    origin = panel.t0 + cols[k]
    return pl.DataFrame(
        {
            "model_id": pl.repeat(model_id, k.size, eager=True, dtype=pl.String),
            "model_version": pl.repeat(model_version, k.size, eager=True, dtype=pl.String),
            "cadence": pl.repeat(panel.cadence, k.size, eager=True, dtype=pl.String),
            **panel.keys.select(pl.all().gather(s)).to_dict(),
            "origin_date": period_dates(origin, panel.cadence),
            "target_start": period_dates(origin + hs[j], panel.cadence),
            "horizon": hs[j],
            "p10": p10[k, j, s], "p50": p50[k, j, s], "p90": p90[k, j, s],
        }
    ).with_columns(created_at=pl.lit(created_at or datetime.now(timezone.utc), FORECAST_SCHEMA["created_at"]))


def horizon_list(horizons: int | Sequence[int]) -> list[int]:
    hs = list(range(1, horizons + 1)) if isinstance(horizons, int) else sorted(set(horizons))
    if not hs or hs[0] < 1:
        raise ValueError("horizons must be positive")
    return hs


def run_baselines(
    history: pl.DataFrame,
    origins: Sequence[date] | pl.Series,
    horizons: int | Sequence[int],
    cadence: str,
    models: Sequence[str] = BASELINE_MODELS,
    created_at: datetime | None = None,
    up_to: date | None = None,
) -> pl.DataFrame:
    """Forecast rows of every baseline for every series started by each origin, horizons 1..H
    (``up_to``: the day the history is complete to, see ``build_panel``)."""
    hs = horizon_list(horizons)
    panel = build_panel(history, cadence, up_to)
    cols = panel.columns(origins)
    scale = trailing_mean(panel.y, SEASON[cadence])
    groups = panel.level_rows()
    frames = []
    for model in models:
        points = point_function(model, panel.y, cadence)
        bands = empirical_bands(panel.y, points, scale, cols, hs, BAND_WINDOW[cadence], groups)
        version = MODEL_VERSIONS[model].format(m=SEASON[cadence], w=MA_WINDOW[cadence])
        frames.append(forecast_frame(panel, cols, hs, bands, model, version, created_at))
    return pl.concat(frames) if frames else pl.DataFrame(schema=FORECAST_SCHEMA)

"""Reference forecasts to score against: statsforecast peers (AutoETS, CrostonOptimized) and the
demo generator's oracle, as ``forecast_result`` rows.

Product level only: AutoETS model selection costs ~40 ms per weekly series (~140 ms for a seasonal
monthly one), so even with periodic refits ~300 products x 26 origins take over a minute; the
~3000 customer x product series would take ten times that for little extra insight.

statsforecast is an optional dependency; ``is_available()`` says whether it is installed and
nothing is imported until a peer runs. The oracle needs nothing beyond Polars.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from datetime import date, datetime, timezone

import numpy as np
import polars as pl

from .baselines import (
    BAND_WINDOW, FORECAST_SCHEMA, SEASON, Panel, build_panel, check_grid, empirical_bands,
    forecast_frame, horizon_list, period_dates, period_index_expr, trailing_mean,
)
from .config import ALL_CUSTOMERS, LEVEL_PRODUCT

PEER_MODELS = ("auto_ets", "auto_theta", "croston_optimized")
# ETS seasonality is limited to 24 periods (as in R's forecast::ets), so weekly ETS is non-seasonal.
ETS_SEASON = {"weekly": 1, "monthly": 12}
# Theta deseasonalises by classical decomposition (after a seasonality test), so a year of weeks is fine.
THETA_SEASON = {"weekly": 52, "monthly": 12}
# AutoETS raises "tiny datasets" below 7 observations; such series get no AutoETS rows.
MIN_ETS_PERIODS = 8
# Model selection is the slow part (~40 ms a weekly series, ~140 ms a seasonal monthly one), so it
# is redone every few origins, like the LightGBM model's reuse; ``refit_every=1`` refits always.
ETS_REFIT_EVERY = {"weekly": 4, "monthly": 3}
# AutoTheta with a 52-week season is the slowest peer (its decomposition test and fits); weekly it is
# re-selected every quarter and run forward in between.
THETA_REFIT_EVERY = {"weekly": 13, "monthly": 3}


def is_available() -> bool:
    return importlib.util.find_spec("statsforecast") is not None


def _long(panel: Panel, last_col: int, min_periods: int = 1) -> pl.DataFrame:
    """statsforecast's long frame (unique_id = series row, ds = column) of periods <= last_col."""
    y = panel.y[:, : last_col + 1]
    long_enough = np.isfinite(y).sum(axis=1) >= min_periods
    s, t = np.nonzero(np.isfinite(y) & long_enough[:, None])
    return pl.DataFrame({"unique_id": s, "ds": t, "y": y[s, t]})


def _auto_ets(panel: Panel, cols: np.ndarray, hs: list[int], refit_every: int,
              model_name: str = "auto_ets") -> tuple[np.ndarray, ...]:
    """AutoETS (or AutoTheta) selected and estimated every ``refit_every``-th origin (in date order) through
    StatsForecast; in between, each series' fitted model is run forward over the longer history
    (states updated, parameters kept). Still leak-free: a fit only saw data up to its own origin."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    shape = (cols.size, len(hs), panel.y.shape[0])
    p10, p50, p90 = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    idx = np.asarray(hs) - 1
    if model_name == "auto_ets":
        model, column = AutoETS(season_length=ETS_SEASON[panel.cadence]), "AutoETS"
    else:
        model, column = AutoTheta(season_length=THETA_SEASON[panel.cadence]), "AutoTheta"
    sf = StatsForecast(models=[model], freq=1, n_jobs=1)
    fitted: dict[int, object] = {}
    for n, k in enumerate(np.argsort(cols, kind="stable")):
        o = int(cols[k])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if n % refit_every == 0:
                df = _long(panel, o, MIN_ETS_PERIODS)
                if not df.height:
                    continue
                fc = sf.fit(df=df).predict(h=max(hs), level=[80])
                fitted = dict(zip(sf.uids.to_list(), sf.fitted_[:, 0]))
                s, h = fc["unique_id"].to_numpy(), fc["ds"].to_numpy() - o
                keep = np.isin(h, hs)
                s, j = s[keep], np.searchsorted(hs, h[keep])
                lo, mid, hi = (fc[c].to_numpy()[keep] for c in (f"{column}-lo-80", column, f"{column}-hi-80"))
            else:
                s, j, lo, mid, hi = _forward(panel, fitted, o, max(hs), idx)
        # Demand is non-negative; clipping keeps P10 <= P50 <= P90 because ETS bands are symmetric.
        p10[k, j, s], p50[k, j, s], p90[k, j, s] = (np.maximum(v, 0.0) for v in (lo, mid, hi))
    return p10, p50, p90


def _forward(panel: Panel, fitted: dict, o: int, h: int, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    parts = []
    for sid, model in fitted.items():
        y = panel.y[sid, panel.start[sid] : o + 1]
        res = model.forward(y=y, h=h, level=[80])
        bands = (res[c][idx] for c in ("lo-80", "mean", "hi-80"))
        parts.append((np.full(idx.size, sid), np.arange(idx.size), *bands))
    if not parts:
        return tuple(np.empty(0, dtype=t) for t in (int, int, float, float, float))
    return tuple(np.concatenate(col) for col in zip(*parts))


def _croston_optimized(panel: Panel, cols: np.ndarray, hs: list[int]) -> tuple[np.ndarray, ...]:
    """Point forecasts at every period from one call, then the baselines' empirical bands.

    statsforecast's in-sample "fitted" values of CrostonOptimized refit the smoothing constants on
    each prefix, so fitted[t + 1] is exactly the forecast a fit at origin t would make; one run on
    the history up to the last origin therefore serves every origin and every past error.
    """
    from statsforecast import StatsForecast
    from statsforecast.models import CrostonOptimized

    last = int(cols.max())
    sf = StatsForecast(models=[CrostonOptimized()], freq=1, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "fitted values ... very expensive": wanted
        fc = sf.forecast(df=_long(panel, last), h=1, fitted=True)
    fitted = sf.forecast_fitted_values()
    point = np.full((panel.y.shape[0], last + 1), np.nan)
    ahead = fitted["ds"].to_numpy() >= 1
    point[fitted["unique_id"].to_numpy()[ahead], fitted["ds"].to_numpy()[ahead] - 1] = (
        fitted["CrostonOptimized"].to_numpy()[ahead]
    )
    point[fc["unique_id"].to_numpy(), last] = fc["CrostonOptimized"].to_numpy()
    y = panel.y[:, : last + 1]
    scale = trailing_mean(y, SEASON[panel.cadence])
    groups = [np.arange(y.shape[0])]
    return empirical_bands(y, lambda h: point, scale, cols, hs, BAND_WINDOW[panel.cadence], groups)


def run_peers(
    history: pl.DataFrame,
    origins: Sequence[date] | pl.Series,
    horizons: int | Sequence[int],
    cadence: str,
    models: Sequence[str] = PEER_MODELS,
    created_at: datetime | None = None,
    refit_every: int | None = None,
    up_to: date | None = None,
) -> pl.DataFrame:
    """Peer forecast rows for product-level series; raises ImportError without statsforecast.

    ``refit_every`` (default ETS_REFIT_EVERY[cadence]) = 1 re-selects AutoETS at every origin;
    ``up_to``: the day the history is complete to (``baselines.build_panel``).
    """
    if not is_available():
        raise ImportError("statsforecast is not installed; check peers.is_available() first")
    import statsforecast

    product = history.filter(pl.col("level") == LEVEL_PRODUCT)
    if not product.height:
        return pl.DataFrame(schema=FORECAST_SCHEMA)
    hs = horizon_list(horizons)
    panel = build_panel(product, cadence, up_to)
    cols = panel.columns(origins)
    frames = []
    for model in models:
        if model not in PEER_MODELS:
            raise ValueError(f"unknown peer {model!r}; choose from {PEER_MODELS}")
        version = f"statsforecast-{statsforecast.__version__}"
        if model == "auto_ets":
            version += f":m={ETS_SEASON[cadence]}"
        if model == "auto_theta":
            version += f":m={THETA_SEASON[cadence]}"
        if model in ("auto_ets", "auto_theta"):
            every = refit_every or (ETS_REFIT_EVERY if model == "auto_ets" else THETA_REFIT_EVERY)[cadence]
            bands = _auto_ets(panel, cols, hs, every, model)
        else:
            bands = _croston_optimized(panel, cols, hs)
        frames.append(forecast_frame(panel, cols, hs, bands, model, version, created_at))
    return pl.concat(frames) if frames else pl.DataFrame(schema=FORECAST_SCHEMA)


def oracle_forecasts(
    truth: pl.DataFrame,
    origins: Sequence[date] | pl.Series,
    horizons: int | Sequence[int],
    cadence: str,
    created_at: datetime | None = None,
) -> pl.DataFrame:
    """The generator's true quantiles as product-level forecast rows (model_id 'oracle').

    ``truth`` has product_id, week_start or month_start, expected_qty, p10, p50, p90; a target
    the truth does not cover gets no row.
    """
    date_col = "week_start" if cadence == "weekly" else "month_start"
    grid = pl.DataFrame({"origin_date": pl.Series(origins, dtype=pl.Date)}).join(
        pl.DataFrame({"horizon": pl.Series(horizon_list(horizons), dtype=pl.Int64)}), how="cross"
    )
    check_grid(grid, "origin_date", cadence)
    target = period_index_expr("origin_date", cadence) + pl.col("horizon")
    grid = grid.with_columns(t=target)
    grid = grid.with_columns(target_start=period_dates(grid["t"].to_numpy(), cadence))
    rows = truth.select("product_id", pl.col(date_col).alias("target_start"), "p10", "p50", "p90")
    return (
        grid.join(rows, on="target_start")
        .with_columns(
            model_id=pl.lit("oracle"), model_version=pl.lit("1"),
            cadence=pl.lit(cadence), level=pl.lit(LEVEL_PRODUCT), customer_id=pl.lit(ALL_CUSTOMERS),
            created_at=pl.lit(created_at or datetime.now(timezone.utc)),
        )
        .select(list(FORECAST_SCHEMA))
        .cast(FORECAST_SCHEMA)
        .sort("product_id", "origin_date", "horizon")
    )

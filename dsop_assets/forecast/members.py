"""Statistical ensemble members: statsforecast's AutoETS and AutoTheta per product series.

On long, smooth, seasonal series (the real monthly data the project is judged on) these classical
models beat a pooled LightGBM; on the demo's driver-rich, noisy series LightGBM wins. The forecast
combines them (``combine.py``), so each kind of series gets the member that suits it.

Model selection and estimation are the slow part (~0.1-0.4 s a monthly series), so members are
fitted when the LightGBM model is trained and, at the later origins that reuse it, each series'
fitted model is run forward over the longer history (states updated, parameters kept) - the same
trade the peers in ``peers.py`` make. Leak-free: a fit only saw targets known at its own origin,
and a forward step only the history up to the current origin.

Series need ``MIN_PERIODS`` periods since their first order; seasonal models need two full seasons
(else the member is fitted non-seasonal).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .config import LEVEL_PRODUCT, ForecastConfig
from .features_panel import SERIES_KEYS

MIN_PERIODS = 8  # AutoETS refuses "tiny datasets" below 7 observations
MEMBER_COLUMNS = [*SERIES_KEYS, "origin_period", "horizon", "member", "p10", "p50", "p90"]


@dataclass
class FittedMembers:
    cutoff_period: int
    models: dict[str, dict[tuple[str, str, str], object]] = field(default_factory=dict)  # member -> key -> model


def dense_series(targets: pl.DataFrame, through_period: int) -> dict[tuple[str, str, str], np.ndarray]:
    """Product-level demand per series from its first non-zero period through ``through_period``,
    zeros where ``targets`` (which holds only periods with orders) has no row."""
    rows = targets.filter((pl.col("level") == LEVEL_PRODUCT) & (pl.col("target_period") <= through_period)
                          & (pl.col("actual_qty") != 0))
    out = {}
    for key, part in rows.group_by(SERIES_KEYS):
        t = part["target_period"].to_numpy()
        first = int(t.min())
        y = np.zeros(through_period - first + 1)
        np.add.at(y, t - first, part["actual_qty"].to_numpy())
        out[tuple(key)] = y
    return dict(sorted(out.items()))


def _models(name: str, season: int):
    from statsforecast.models import AutoETS, AutoTheta

    if name == "auto_ets":  # ETS seasonality is limited to 24 periods (as in R's forecast::ets): weekly is non-seasonal
        return AutoETS(season_length=season if season <= 24 else 1)
    if name == "auto_theta":
        return AutoTheta(season_length=season)
    raise ValueError(f"unknown statistical member {name!r}; choose auto_ets or auto_theta")


def fit_members(targets: pl.DataFrame, origin_period: int, config: ForecastConfig) -> FittedMembers:
    """Select and fit every member on each product series' history up to ``origin_period``."""
    from statsforecast import StatsForecast

    fitted = FittedMembers(origin_period, {m: {} for m in config.stat_members})
    series = {k: y for k, y in dense_series(targets, origin_period).items() if y.size >= MIN_PERIODS}
    season = config.spec.periods_per_year if config.member_season else 1
    groups: dict[int, list] = {}
    for key, y in series.items():
        groups.setdefault(season if season > 1 and y.size >= 2 * season + 2 else 1, []).append(key)
    for m in config.stat_members:
        for s, keys in groups.items():
            uid = np.repeat(np.arange(len(keys)), [series[k].size for k in keys])
            ds = np.concatenate([np.arange(series[k].size) for k in keys])
            frame = pl.DataFrame({"unique_id": uid, "ds": ds, "y": np.concatenate([series[k] for k in keys])})
            sf = StatsForecast(models=[_models(m, s)], freq=1, n_jobs=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sf.fit(df=frame)
            for i, u in enumerate(sf.uids.to_list()):
                fitted.models[m][keys[int(u)]] = sf.fitted_[i, 0]
    return fitted


def member_forecasts(fitted: FittedMembers, targets: pl.DataFrame, origin_period: int, config: ForecastConfig) -> pl.DataFrame:
    """Every member's P10/P50/P90 (80 % interval and mean) per fitted series at ``origin_period``."""
    if origin_period < fitted.cutoff_period:
        raise ValueError("statistical members were fitted on targets after this origin's as_of")
    series = dense_series(targets, origin_period)
    h = max(config.horizons)
    rows: list[tuple] = []
    for member, models in fitted.models.items():
        for key, model in models.items():
            y = series.get(key)
            if y is None:
                continue
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    res = model.forward(y=y, h=h, level=[80])
                except Exception:  # a model that cannot run forward on this history serves nothing
                    continue
            mean, lo, hi = res["mean"], res["lo-80"], res["hi-80"]
            for horizon in config.horizons:
                rows.append((*key, origin_period, horizon, member, float(lo[horizon - 1]), float(mean[horizon - 1]),
                             float(hi[horizon - 1])))
    schema = {**{k: pl.String for k in SERIES_KEYS}, "origin_period": pl.Int32, "horizon": pl.Int32,
              "member": pl.String, "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64}
    out = pl.DataFrame(rows, schema=schema, orient="row")
    return out.filter(pl.all_horizontal(pl.col("p10", "p50", "p90").is_finite())).sort(
        "member", *SERIES_KEYS, "horizon")


__all__ = ["MEMBER_COLUMNS", "FittedMembers", "dense_series", "fit_members", "member_forecasts"]

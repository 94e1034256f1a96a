"""Combining LightGBM with the statistical members into one forecast per series.

Equal weights per quantile (the mean of the members' P10s, P50s and P90s: quantile averaging).
Forecast combination with equal weights is the robust default of the forecasting literature (M3/M4:
the simple average of ETS, Theta and ARIMA beats each of them): it needs no weight estimation, so
early origins are as well served as late ones. The bands of the combination are calibrated
afterwards, per side (``calibration.py``), like LightGBM's alone.
"""

from __future__ import annotations

import polars as pl

from .features_panel import SERIES_KEYS

MODEL_ENSEMBLE = "dsop_ensemble"


def combine(model_rows: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """``model_rows`` (keys, origin_period, horizon, p10, p50, p90) averaged with every member row of
    the same series and horizon; adds ``n_members`` (1 = LightGBM alone)."""
    keys = [*SERIES_KEYS, "origin_period", "horizon"]
    if members.is_empty():
        return model_rows.with_columns(n_members=pl.lit(1, pl.Int32))
    stacked = pl.concat([
        model_rows.select(*keys, "p10", "p50", "p90"),
        members.select(*keys, "p10", "p50", "p90").cast({"origin_period": model_rows.schema["origin_period"],
                                                         "horizon": model_rows.schema["horizon"]}),
    ])
    combined = stacked.group_by(keys).agg(
        pl.col("p10", "p50", "p90").mean(), n_members=pl.len().cast(pl.Int32))
    return model_rows.select(keys).join(combined, on=keys, how="left")

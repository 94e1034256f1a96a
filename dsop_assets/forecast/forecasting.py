"""The forecast for one origin: which series the quantile model serves, and the safety nets.

Per origin each series gets exactly one source, recorded in ``method``:

* ``model``: LightGBM quantiles (products with enough history; dense customer x product pairs);
* ``product_share``: sparse pairs (fewer than ``min_nonzero_periods`` non-zero periods in the last
  year) get their product's forecast times the customer's share of that product over the year.
  A pair that orders a few times a year has no learnable pattern of its own, while its product's
  series is dense; the bands are scaled the same way, which keeps them ordered;
* ``short_history``: the moving average, for series younger than ``min_history_periods``;
* ``model_error``: the moving average for every series, when training or prediction raised;
* ``inactive``: zero for series with past orders that the feature store left out (a year without
  orders, or past end-of-life at the origin).

``model_id`` names the model that produced the numbers (``product_share`` rows inherit their
product's), ``model_version`` hashes the configuration and the training cutoff. The model's bands
are then widened by a split-conformal scale fitted on its own past forecasts (``calibration.py``);
``band_scale`` records it, so the raw band stays recoverable for later calibrations.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone

import polars as pl

from .calibration import PAST_COLUMNS, SCALE_COLUMNS, calibrate_origin
from .calibration_choice import choose_bias_factor
from .config import LEVEL_CUSTOMER_PRODUCT, LEVEL_PRODUCT, MODEL_LGBM, MODEL_MA, ForecastConfig
from .fallback import moving_average_forecast
from .fallback_bias import recalibrate_young
from .market import apply_market
from .features_calendar import period_end, period_index, period_start
from .features_panel import SERIES_KEYS
from .combine import MEMBER_P50, MODEL_ENSEMBLE, candidate_weights, choose_member_sets, combine, series_types
from .members import FittedMembers, fit_members, member_forecasts
from .model import TrainedModel, eligible_for_model, predict, train

log = logging.getLogger(__name__)
MODEL_INACTIVE = "inactive_zero"

OUTPUT_COLUMNS = [
    "model_id", "model_version", "cadence", "level", "product_id", "customer_id", "origin_date", "as_of",
    "target_start", "horizon", "p10", "p50", "p90", "mean", "p10_unclipped", "band_scale", "band_scale_low", "bias_scale",
    "market_scale", "method",
    "member_set", *MEMBER_P50, "created_at",
]


def forecast(
    features_history: pl.DataFrame,
    targets_history: pl.DataFrame,
    origin_features: pl.DataFrame,
    config: ForecastConfig,
    model: TrainedModel | None = None,
    created_at: datetime | None = None,
    past_forecasts: pl.DataFrame | None = None,
    members: FittedMembers | None = None,
    calibration_memo: dict | None = None,
) -> tuple[pl.DataFrame, TrainedModel | None]:
    """Forecast every series of one origin; returns (rows in ``OUTPUT_COLUMNS``, model used).

    ``features_history``: feature-store rows of past origins (rows at or after this origin are
    ignored); ``targets_history``: ``build_targets`` through at least this origin's as_of; pass
    ``model`` to reuse one trained at an earlier origin; ``past_forecasts``: this cadence's earlier
    outputs (``PAST_COLUMNS``), from which only rows with a target known at as_of calibrate the bands.
    """
    origins = origin_features["origin_period"].unique()
    if origins.len() != 1:
        raise ValueError(f"origin_features must hold one origin, got {origins.len()}")
    origin = int(origins[0])
    created_at = created_at or datetime.now(timezone.utc)
    ma_version = hashlib.sha1(f"{MODEL_MA}|{config.fingerprint()}|{origin}".encode()).hexdigest()[:12]
    modelled = origin_features.filter(eligible_for_model(origin_features, config))
    short = origin_features.filter(~eligible_for_model(origin_features, config))
    sparse = short.filter(
        (pl.col("level") == LEVEL_CUSTOMER_PRODUCT) & (pl.col("periods_since_first") >= config.min_history_periods)
    )
    # Young pairs are sparse too, but their share is unstable: they take the moving average.
    short = short.join(sparse.select(SERIES_KEYS), on=SERIES_KEYS, how="anti")
    parts = []
    try:
        model = model if model is not None else train(features_history, targets_history, origin, config)
        # A level with too little history to train (tiny data, a young level) is the moving average's
        # like any short series: said once, not a traceback per origin that also sent every level there.
        untrained = modelled.filter(~pl.col("level").is_in(list(model.features)))
        if untrained.height:
            log.info("origin %s: too little history to train level(s) %s; they take the moving average",
                     origin, sorted(untrained["level"].unique().to_list()))
            short = pl.concat([short, untrained], how="diagonal_relaxed")
            modelled = modelled.filter(pl.col("level").is_in(list(model.features)))
        if modelled.is_empty():  # no level trained: every series is the moving average's
            model = None
        else:
            model_rows = predict(model, modelled, targets_history)
            model.members = members
            model_rows = (_with_members(model, model_rows, modelled, targets_history, past_forecasts, origin, config)
                          if config.stat_members else model_rows.with_columns(n_members=pl.lit(0, pl.Int32)))
            parts.append(_tag(model_rows, MODEL_LGBM, model.version, "model").with_columns(
                model_id=pl.when(pl.col("n_members") > 0).then(pl.lit(MODEL_ENSEMBLE)).otherwise(pl.col("model_id"))
            ).drop("n_members"))
    except Exception:
        log.exception("quantile model failed at origin %s; every series falls back to the moving average", origin)
        model = None
        short = origin_features.join(sparse.select(SERIES_KEYS), on=SERIES_KEYS, how="anti")
        parts.append(_tag(moving_average_forecast(short, features_history, targets_history, config), MODEL_MA, ma_version, "model_error"))
        short = short.clear()
    if short.height:
        parts.append(_tag(moving_average_forecast(short, features_history, targets_history, config), MODEL_MA, ma_version, "short_history"))
    done = pl.concat(parts, how="diagonal_relaxed")
    parts.append(_disaggregate(sparse, done, config))
    remaining = sparse.join(parts[-1].select(SERIES_KEYS).unique(), on=SERIES_KEYS, how="anti")
    if remaining.height:  # a sparse pair whose product has no forecast: moving average
        parts.append(_tag(moving_average_forecast(remaining, features_history, targets_history, config), MODEL_MA, ma_version, "short_history"))
    as_of = pl.select(period_end(pl.lit(origin), config.cadence)).item()
    parts.append(_inactive(origin_features, targets_history, origin, as_of, config, ma_version))
    out = _finish(pl.concat(parts, how="diagonal_relaxed"), config, created_at)
    calibrated, _ = choose_bias_factor(past_forecasts, targets_history, as_of, config, calibration_memo)
    out = calibrate_origin(out, past_forecasts, targets_history, as_of, calibrated)
    if config.calibrate_bands and config.young_bias:
        out = recalibrate_young(out, past_forecasts, targets_history, as_of, config)
    out = apply_market(out, _driver_rows(features_history, origin_features, config), targets_history, past_forecasts,
                       origin, as_of, config)
    # Expected demand for planning (``mean``): the volume-tracking point (see calibration.py).
    return out.select(OUTPUT_COLUMNS), model


def _driver_rows(history: pl.DataFrame, origin_features: pl.DataFrame, config: ForecastConfig) -> pl.DataFrame:
    """origin_period and the market driver (when configured and present) of every origin to this one."""
    columns = ["origin_period", *([config.market_driver] if config.market_driver in origin_features.columns else [])]
    return pl.concat([history.select(columns), origin_features.select(columns)], how="vertical_relaxed")


def _with_members(model: TrainedModel, rows: pl.DataFrame, features: pl.DataFrame, targets: pl.DataFrame,
                  past: pl.DataFrame | None, origin: int, config: ForecastConfig) -> pl.DataFrame:
    """LightGBM rows combined with the statistical members' forecasts, by the member set chosen on
    past forecasts per series type and horizon (``combine.py``)."""
    try:
        if model.members is None:
            model.members = fit_members(targets, origin, config)
        extra = member_forecasts(model.members, targets, origin, config)
    except Exception:
        log.exception("statistical members failed at origin %s; LightGBM serves alone", origin)
        return rows.with_columns(n_members=pl.lit(0, pl.Int32))
    as_of = pl.select(period_end(pl.lit(origin), config.cadence)).item()
    types = series_types(features, config)
    return combine(rows, extra, choose_member_sets(past, targets, as_of, types, config), types,
                   candidate_weights(config.stat_members), band_member=config.band_member)


def _inactive(origin_features: pl.DataFrame, targets: pl.DataFrame, origin: int, as_of, config: ForecastConfig,
              version: str) -> pl.DataFrame:
    """Zero demand for every series with orders before as_of that the feature store left out at this
    origin (no order or open order for a year, or past its end-of-life date): a planner sees an explicit
    0 for a discontinued product instead of no row, and the scorecard scores these rows for dsop too,
    as it does for every peer that forecasts them."""
    known = targets.filter(pl.col("target_start") <= as_of).select(SERIES_KEYS).unique()
    dead = known.join(origin_features.select(SERIES_KEYS).unique(), on=SERIES_KEYS, how="anti")
    horizons = pl.DataFrame({"horizon": list(config.horizons)}, schema={"horizon": pl.Int32})
    return _tag(dead.join(horizons, how="cross").with_columns(
        origin_period=pl.lit(origin, pl.Int32), p10=pl.lit(0.0), p50=pl.lit(0.0), p90=pl.lit(0.0)),
        MODEL_INACTIVE, version, "inactive")


def _tag(frame: pl.DataFrame, model_id: str, version: str, method: str) -> pl.DataFrame:
    return frame.with_columns(model_id=pl.lit(model_id), model_version=pl.lit(version), method=pl.lit(method))


def _disaggregate(sparse: pl.DataFrame, done: pl.DataFrame, config: ForecastConfig) -> pl.DataFrame:
    share = f"cust_share_{config.spec.long_window}"
    products = done.filter(pl.col("level") == LEVEL_PRODUCT).drop("level", "customer_id")
    return (
        sparse.select(*SERIES_KEYS, pl.col(share).fill_null(0.0).alias("_share"))
        .join(products, on="product_id", how="inner")
        .with_columns(pl.col("p10", "p50", "p90") * pl.col("_share"), method=pl.lit("product_share"),
                      **{c: pl.lit(None, pl.Float64) for c in MEMBER_P50 if c in done.columns})
        .select(done.columns)
    )


def _finish(out: pl.DataFrame, config: ForecastConfig, created_at: datetime) -> pl.DataFrame:
    cadence = config.cadence
    bands = pl.concat_list("p10", "p50", "p90").list.eval(pl.element().clip(lower_bound=0.0).sort())
    for c in ("member_set", *MEMBER_P50):  # rows no member served (fallbacks, weekly) carry nulls
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, pl.String if c == "member_set" else pl.Float64).alias(c))
    return (
        out.with_columns(bands.alias("_b"))
        .with_columns(p10=pl.col("_b").list.get(0), p50=pl.col("_b").list.get(1), p90=pl.col("_b").list.get(2))
        .with_columns(
            cadence=pl.lit(cadence),
            origin_date=period_start(pl.col("origin_period"), cadence),
            as_of=period_end(pl.col("origin_period"), cadence),
            target_start=period_start(pl.col("origin_period") + pl.col("horizon"), cadence),
            created_at=pl.lit(created_at, pl.Datetime("us", "UTC")),
        )
        .select(c for c in OUTPUT_COLUMNS if c not in (*SCALE_COLUMNS, "market_scale", "mean", "p10_unclipped"))
        .sort("level", "product_id", "customer_id", "horizon")
    )


def forecast_many(
    features: pl.DataFrame,
    targets: pl.DataFrame,
    origin_periods: list[int],
    config: ForecastConfig,
    created_at: datetime | None = None,
    past_forecasts: pl.DataFrame | None = None,
    warmup: int | None = None,
) -> tuple[pl.DataFrame, list[TrainedModel]]:
    """Backtest helper: one forecast per origin, retraining every ``reuse_periods`` origins.

    Each origin sees features and targets only up to its own as_of; a reused model was trained at
    an earlier origin, so it knows even less. Band calibration sees ``past_forecasts`` (stored
    outputs of earlier origins) plus this run's own earlier origins, so a backfill calibrates
    as it goes, exactly as week-by-week production runs would have. Origins missing from that history
    just before the first one are forecast first and not returned (``warmup_origins``; ``warmup``
    overrides ``config.calibration_warmup``).
    """
    outputs, models, model, members, memo = [], [], None, None, {}
    past = [_past_shape(past_forecasts)] if past_forecasts is not None and past_forecasts.height else []
    served = set(origin_periods)
    warm = warmup_origins(features, sorted(served), past_forecasts, config,
                          config.calibration_warmup if warmup is None else warmup)
    for origin in sorted(served | set(warm)):
        if model is not None and origin - model.cutoff_period >= config.reuse_periods:
            model = None
        if members is not None and origin - members.cutoff_period >= config.member_refit_periods:
            members = None
        as_of = pl.select(period_end(pl.lit(origin), config.cadence)).item()
        rows = features.filter(pl.col("origin_period") == origin)
        if rows.is_empty():
            continue
        out, used = forecast(
            features.filter(pl.col("origin_period") < origin),
            targets.filter(pl.col("target_start") <= as_of),
            rows, config, model=model, created_at=created_at,
            past_forecasts=pl.concat(past, how="vertical_relaxed") if past else None,
            members=members, calibration_memo=memo,
        )
        if used is not None:
            members = used.members
        if used is not None and used is not model:
            models.append(used)
        model = used
        if origin in served:
            outputs.append(out)
        past.append(_past_shape(out))
    return pl.concat(outputs), models


def warmup_origins(features: pl.DataFrame, origins: list[int], past_forecasts: pl.DataFrame | None,
                   config: ForecastConfig, warmup: int) -> list[int]:
    """The ``warmup`` origins before the first requested one that neither the stored forecasts nor
    this request cover, and that the feature store holds: forecast only to seed the calibration.

    Without them the first origins of a backfill would run uncalibrated: bias factor 1 (a P50 that
    is a median on log scale, 7-18 % low on the demo's months) and raw bands. The longest horizon
    first gets a past error ``max(horizons)`` origins later, so ``warmup`` >= that gives every
    horizon its own scores from the first served origin on. Leak-free: they are earlier origins,
    each seeing only its own past. A weekly production run (past stored) adds none.
    """
    if warmup <= 0 or not origins:
        return []
    wanted = set(range(origins[0] - warmup, origins[0])) - set(origins)
    if past_forecasts is not None and past_forecasts.height:
        stored = past_forecasts.select(period_index(pl.col("origin_date").cast(pl.Date), config.cadence)).to_series()
        wanted -= set(stored.unique().to_list())
    available = set(features["origin_period"].unique().to_list())
    return sorted(wanted & available)


def _past_shape(frame: pl.DataFrame) -> pl.DataFrame:
    for c in SCALE_COLUMNS:  # rows written before a scale existed hold that side raw
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(1.0).alias(c))
    for c in ("p10_unclipped", *MEMBER_P50):
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Float64).alias(c))
    if "market_scale" not in frame.columns:  # rows written before the market factor existed
        frame = frame.with_columns(market_scale=pl.lit(1.0))
    if "method" not in frame.columns:
        frame = frame.with_columns(method=pl.lit(None, pl.String))
    floats = ("p10_unclipped", *SCALE_COLUMNS, "market_scale", *MEMBER_P50)
    return frame.select(
        *(pl.col(c) for c in PAST_COLUMNS if c not in ("origin_date", "target_start", "horizon", *floats)),
        pl.col("origin_date").cast(pl.Date), pl.col("target_start").cast(pl.Date),
        pl.col("horizon").cast(pl.Int64), *(pl.col(c).cast(pl.Float64) for c in floats),
    )


__all__ = ["OUTPUT_COLUMNS", "forecast", "forecast_many"]

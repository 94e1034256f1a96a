"""Real-data check of the monthly forecaster against statsforecast's AutoETS and AutoTheta.

``python -m dsop_jobs.tools.forecast_real /work/shared/data/tourism_monthly.csv`` turns every
series (columns series_id, split, t, value) into one product's monthly orders, runs dsop's monthly
path (feature store -> ``forecast_many``: LightGBM, statistical members, calibration) over rolling
origins, runs AutoETS and AutoTheta (season 12, re-selected at every scored origin) on the same
origins, and scores all of them with the project's scorer (dense grid, one-step naive scale), beside
the naive and seasonal naive rules on the same origins and dsop's own members as points (``member_*``).

Every series is aligned so its last training month is the same calendar month; scored origins are
the last training month and every ``--step`` months after it while six months of test data remain.
dsop also forecasts the ``--warmup`` months before, unscored, so its calibration has past errors
as it would in production.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings
from datetime import date
from pathlib import Path

import polars as pl

from dsop_assets.forecast.config import LEVEL_PRODUCT, monthly_config
from dsop_assets.forecast.features import build_monthly_features, build_targets
from dsop_assets.forecast.forecasting import forecast_many
from dsop_assets.forecast.metrics import score_forecasts

LAST_TRAIN = date(2024, 12, 1)
PEERS = ("auto_ets", "auto_theta")


def orders_from_series(frame: pl.DataFrame) -> pl.DataFrame:
    """One order per series and month on the month's first day; the last train month is LAST_TRAIN."""
    n_train = frame.filter(pl.col("split") == "train").group_by("series_id").agg(n=pl.col("t").max())
    last = LAST_TRAIN.year * 12 + LAST_TRAIN.month - 1
    return (
        frame.join(n_train, on="series_id")
        .with_columns(m=last - pl.col("n") + pl.col("t"))
        .select(
            order_date=pl.date(pl.col("m") // 12, pl.col("m") % 12 + 1, 1),
            customer_id=pl.lit("C1"),
            product_id=pl.col("series_id").cast(pl.String),
            order_qty=pl.col("value").cast(pl.Float64),
        )
        .filter(pl.col("order_qty") != 0)
    )


def shorten(frame: pl.DataFrame, lo: int, hi: int) -> pl.DataFrame:
    """Each series' training part cut to its latest n months, n spread over [lo, hi] by the series' position
    (deterministic), test part kept; ``t`` renumbered from 1. Tourism's series are long (median 306 months);
    this checks the path on the 4-9-year histories an ERP export usually has."""
    ids = frame["series_id"].unique(maintain_order=True)
    keep = pl.DataFrame({"series_id": ids, "n_keep": [lo + (i * 7) % (hi - lo + 1) for i in range(ids.len())]})
    last = frame.filter(pl.col("split") == "train").group_by("series_id").agg(pl.col("t").max())
    cut = last.join(keep, on="series_id").select("series_id", cut=(pl.col("t") - pl.col("n_keep")).clip(lower_bound=0))
    return (frame.join(cut, on="series_id", how="left", maintain_order="left")
            .filter(pl.col("t") > pl.col("cut")).with_columns(pl.col("t") - pl.col("cut")).drop("cut"))


def selected_series(path: str, series: int = 0, skip: int = 0, train_months: str | None = None) -> pl.DataFrame:
    """The file's series after ``--skip`` K, the first ``--series`` N of them (0 = all), each cut to
    ``--train-months`` LO:HI training months (``shorten``) when given."""
    raw = pl.read_csv(path)
    if series or skip:
        keep = raw["series_id"].unique(maintain_order=True)[skip:]
        keep = keep[:series] if series else keep
        raw = raw.filter(pl.col("series_id").is_in(keep.implode()))
    if train_months:
        lo, hi = (int(x) for x in train_months.split(":"))
        raw = shorten(raw, lo, hi)
    return raw


def _month(offset: int) -> date:
    m = LAST_TRAIN.year * 12 + LAST_TRAIN.month - 1 + offset
    return date(m // 12, m % 12 + 1, 1)


def run_dsop(orders: pl.DataFrame, origins: list[date], config) -> pl.DataFrame:
    """dsop's forecasts at ``origins``; the feature store also holds the training window before them,
    as the production store does."""
    products = orders.select("product_id").unique().with_columns(product_group=pl.lit("real"))
    first = origins[0].year * 12 + origins[0].month - 1 - config.train_origins - max(config.horizons)
    last = origins[-1].year * 12 + origins[-1].month - 1
    store_months = [date(m // 12, m % 12 + 1, 1) for m in range(first, last + 1)]
    features = build_monthly_features(orders, None, products, None, None, None, store_months)
    features = features.filter(pl.col("level") == LEVEL_PRODUCT)
    targets = build_targets(orders, "monthly", up_to=orders["order_date"].max())
    periods = [o.year * 12 + o.month - 1 for o in origins]
    result, _ = forecast_many(features, targets, periods, config, warmup=0)  # origins include --warmup
    return result.filter(pl.col("level") == LEVEL_PRODUCT).with_columns(model_id=pl.lit("dsop"))


def dense_months(frame: pl.DataFrame) -> pl.DataFrame:
    """unique_id, ds (month index), y with every month from each series' first to the latest, y 0 where
    the series had no order. statsforecast reads consecutive rows as consecutive periods: a month left out
    (a zero the ERP contract carries as no order) would shift the season and the horizon of everything after."""
    bounds = frame.group_by("unique_id").agg(first=pl.col("ds").min())
    grid = bounds.with_columns(ds=pl.int_ranges("first", frame["ds"].max() + 1)).explode("ds").drop("first")
    return (grid.join(frame, on=["unique_id", "ds"], how="left").with_columns(pl.col("y").fill_null(0.0))
            .sort("unique_id", "ds"))


def simple_rules(orders: pl.DataFrame, origins: list[date], horizon: int) -> pl.DataFrame:
    """The naive (last month's value) and seasonal naive (the same month a year before the target) point
    forecasts at ``origins``, on the dense months the peers see; P10 = P50 = P90 (a point rule has no band,
    so its SPL is its point's pinball on all three quantiles: compare their MASE)."""
    frame = _months(orders)
    rows = []
    for origin in origins:
        o = origin.year * 12 + origin.month - 1
        known = frame.filter(pl.col("ds") <= o)
        for h in range(1, horizon + 1):
            for name, source in (("naive", o), ("seasonal_naive", o + h - 12)):
                rows.append(known.filter(pl.col("ds") == source).select(
                    "unique_id", "y", model_id=pl.lit(name), origin_date=pl.lit(origin),
                    horizon=pl.lit(h, pl.Int64), ds=pl.lit(o + h, pl.Int64)))
    return pl.concat(rows).select(
        "model_id", cadence=pl.lit("monthly"), level=pl.lit(LEVEL_PRODUCT), product_id=pl.col("unique_id").cast(pl.String),
        customer_id=pl.lit("ALL"), origin_date="origin_date", horizon="horizon",
        target_start=pl.date(pl.col("ds") // 12, pl.col("ds") % 12 + 1, 1), p10="y", p50="y", p90="y")


MEMBER_P50 = ("p50_lgbm", "p50_auto_ets", "p50_auto_theta")


def member_points(dsop: pl.DataFrame) -> pl.DataFrame:
    """dsop's members as point forecasts (P10 = P90 = P50), from the medians its rows store: LightGBM,
    AutoETS and AutoTheta each alone (``member_<name>``) and their equal-weight average before any
    calibration (``member_average``, rows with all three). Compare their MASE: what the combination and
    the calibration add to the members."""
    present = [c for c in MEMBER_P50 if c in dsop.columns]
    parts = [dsop.filter(pl.col(c).is_not_null()).with_columns(model_id=pl.lit(f"member_{c[4:]}"), p50=pl.col(c))
             for c in present]
    if len(present) == len(MEMBER_P50):
        parts.append(dsop.filter(pl.all_horizontal(pl.col(present).is_not_null())).with_columns(
            model_id=pl.lit("member_average"), p50=pl.mean_horizontal(present)))
    if not parts:
        return dsop.clear()
    return pl.concat(parts).with_columns(p10=pl.col("p50"), p90=pl.col("p50"))


def _months(orders: pl.DataFrame) -> pl.DataFrame:
    return dense_months(orders.select(
        pl.col("product_id").alias("unique_id"),
        ds=(pl.col("order_date").dt.year().cast(pl.Int64) * 12 + pl.col("order_date").dt.month() - 1),
        y=pl.col("order_qty"),
    ))


def run_peers(orders: pl.DataFrame, origins: list[date], horizon: int) -> pl.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    frame = _months(orders)
    parts = []
    for origin in origins:
        o = origin.year * 12 + origin.month - 1
        sf = StatsForecast(models=[AutoETS(season_length=12), AutoTheta(season_length=12)], freq=1, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(df=frame.filter(pl.col("ds") <= o), h=horizon, level=[80])
        for model, name in (("AutoETS", "auto_ets"), ("AutoTheta", "auto_theta")):
            parts.append(fc.select(
                model_id=pl.lit(name), cadence=pl.lit("monthly"), level=pl.lit(LEVEL_PRODUCT),
                product_id=pl.col("unique_id").cast(pl.String), customer_id=pl.lit("ALL"),
                origin_date=pl.lit(origin), horizon=(pl.col("ds") - o).cast(pl.Int64),
                target_start=pl.date(pl.col("ds") // 12, pl.col("ds") % 12 + 1, 1),
                p10=pl.col(f"{model}-lo-80").clip(lower_bound=0), p50=pl.col(model).clip(lower_bound=0),
                p90=pl.col(f"{model}-hi-80").clip(lower_bound=0),
            ))
    return pl.concat(parts)


COLUMNS = ["model_id", "cadence", "level", "product_id", "customer_id", "origin_date", "target_start", "horizon",
           "p10", "p50", "p90"]


def cached_peers(orders: pl.DataFrame, scored: list[date], horizon: int, cache: str | None) -> pl.DataFrame:
    """The peers' forecasts at ``scored``, read from ``cache`` when it exists, else run (and stored there)."""
    if cache and Path(cache).exists():
        return pl.read_parquet(cache)
    peers = run_peers(orders, scored, horizon)
    if cache:
        peers.write_parquet(cache)
    return peers


def score_all(parts: list[pl.DataFrame], orders: pl.DataFrame, scored: list[date], horizon: int,
              test_months: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every model's rows at the scored origins through the last test month, scored with the project's
    scorer (dense grid): per (model, horizon), and the mean over horizons per model."""
    forecasts = pl.concat([p.select(COLUMNS) for p in parts], how="vertical_relaxed").with_columns(
        customer_id=pl.lit("ALL")).filter(pl.col("origin_date").is_in(scored) & (pl.col("horizon") <= horizon))
    history = orders.select(level=pl.lit(LEVEL_PRODUCT), product_id="product_id", customer_id=pl.lit("ALL"),
                            period_start="order_date", qty="order_qty")
    through = date.fromordinal(_month(test_months + 1).toordinal() - 1)  # the last test month's last day
    scores = score_forecasts(forecasts, history, history, ["model_id", "horizon"], through=through)
    table = scores.group_by("model_id").agg(
        pl.col("spl_mean").mean().alias("mean_h1_6_spl"), pl.col("mase").mean().alias("mean_h1_6_mase"),
        pl.col("smape").mean().alias("mean_h1_6_smape"), pl.col("bias").mean().alias("mean_bias"),
        pl.col("coverage").mean().alias("coverage"), pl.col("below_p10").mean(), pl.col("above_p90").mean(),
        pl.col("n").sum()).sort("mean_h1_6_spl")
    return scores, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--step", type=int, default=6, help="months between scored origins")
    parser.add_argument("--warmup", type=int, default=6, help="unscored dsop origins before the first scored one")
    parser.add_argument("--peers-cache", help="parquet file to reuse/store the peers' forecasts")
    parser.add_argument("--peers-only", action="store_true", help="only compute (and cache) the peers")
    parser.add_argument("--dsop-out", help="also write dsop's forecasts to this parquet file")
    parser.add_argument("--no-members", action="store_true", help="LightGBM alone (no statistical members)")
    parser.add_argument("--skip-peers", action="store_true", help="score dsop alone")
    parser.add_argument("--series", type=int, default=0, help="first N series only (0 = all)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first K series (before --series)")
    parser.add_argument("--train-months", help="LO:HI, cut each series' training part to LO..HI months")
    args = parser.parse_args(argv)
    raw = selected_series(args.path, args.series, args.skip, args.train_months)
    orders = orders_from_series(raw)
    test_months = int(raw.filter(pl.col("split") == "test").group_by("series_id").len()["len"].min())
    config = monthly_config(**({"stat_members": ()} if args.no_members else {}))
    h = max(config.horizons)
    scored = [_month(k) for k in range(0, test_months - h + 1, args.step)]
    dsop_origins = [_month(k) for k in range(-args.warmup, scored[-1].year * 12 + scored[-1].month
                                             - (LAST_TRAIN.year * 12 + LAST_TRAIN.month) + 1)]
    if args.peers_only:
        cached_peers(orders, scored, h, args.peers_cache)
        return 0
    began = time.perf_counter()
    dsop = run_dsop(orders, dsop_origins, config)
    dsop_seconds = time.perf_counter() - began
    if args.dsop_out:
        dsop.write_parquet(args.dsop_out)
    began = time.perf_counter()
    peers = dsop.clear() if args.skip_peers else cached_peers(orders, scored, h, args.peers_cache)
    peer_seconds = time.perf_counter() - began
    others = [] if args.skip_peers else [peers, simple_rules(orders, scored, h), member_points(dsop)]
    scores, table = score_all([dsop, *others], orders, scored, h, test_months)
    with pl.Config(tbl_rows=50, tbl_cols=20, float_precision=4, tbl_width_chars=200):
        print(f"{raw['series_id'].n_unique()} series, scored origins {[str(d) for d in scored]}, "
              f"dsop {dsop_seconds:.0f} s ({len(dsop_origins)} origins), peers {peer_seconds:.0f} s, "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(table)
        print(scores.pivot(on="model_id", index="horizon", values="spl_mean").sort("horizon"))
        print(scores.pivot(on="model_id", index="horizon", values="mase").sort("horizon"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

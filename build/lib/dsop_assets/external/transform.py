"""Pure functions over Polars frames: dating values, incremental windows, vintage upserts, FX filling.

A *vintage* is a value of one observation as published on ``known_at``. Rows are only ever added or
replaced by key (series, observation, known_at); a re-publication of an unchanged value is dropped, so
re-running a load never duplicates rows and the first release of every observation survives revisions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Sequence

import polars as pl

from dsop_resources.external.catalog import INDICATOR_FETCH_SCHEMA, TRADE_FETCH_SCHEMA

# The stored table: what every client returns, plus the vintage flag and the load time.
INDICATOR_SCHEMA = {
    **INDICATOR_FETCH_SCHEMA,
    "is_first_release": pl.Boolean,
    "loaded_at": pl.Datetime("us"),
}
EXCHANGE_RATE_SCHEMA = {
    "rate_date": pl.Date,
    "currency": pl.String,
    "krw_per_unit": pl.Float64,
    "source": pl.String,
    "provider": pl.String,
    "is_filled": pl.Boolean,
    "known_at": pl.Date,
}
# Trade rows are stored exactly as the clients return them.
TRADE_SCHEMA = TRADE_FETCH_SCHEMA


def source_family(source: pl.Expr) -> pl.Expr:
    """Synthetic rows and real rows (api, analyst_csv, ...) are never merged into one history."""
    return pl.when(source == "synthetic").then(pl.lit("synthetic")).otherwise(pl.lit("real"))


def mode_family(mode: str) -> str:
    return "synthetic" if mode == "synthetic" else "real"


def period_end(observation: pl.Expr, frequency: pl.Expr | str) -> pl.Expr:
    """Last day of the period an observation stands for (its date for daily data)."""
    frequency = pl.lit(frequency) if isinstance(frequency, str) else frequency
    return (
        pl.when(frequency == "M")
        .then(observation.dt.month_end())
        .when(frequency == "W")
        .then(observation + pl.duration(days=6))
        .otherwise(observation)
    )


def date_by_lag(
    frame: pl.DataFrame, obs_col: str, lag_days: pl.Expr, frequency: pl.Expr | str, today: date
) -> pl.DataFrame:
    """Fill a missing ``known_at`` with period end + publication lag (never after today).

    ``_exact`` remembers which rows carried a real publication date: only the others are re-dated
    when a later load sees their value change.
    """
    nominal = period_end(pl.col(obs_col), frequency) + pl.duration(days=lag_days)
    return frame.with_columns(
        _exact=pl.col("known_at").is_not_null(),
        known_at=pl.coalesce(pl.col("known_at"), pl.min_horizontal(nominal, pl.lit(today))),
    )


def fetch_since(
    existing: pl.DataFrame,
    group_cols: Sequence[str],
    obs_col: str,
    window_days: int | dict[tuple, int],
    default: date,
) -> dict[tuple, date]:
    """Per stored series: newest observation minus its revision window, never before ``default``.

    ``window_days`` is one number or a number per series key. Series with nothing stored are absent
    (callers start them at ``default``).
    """
    if existing.is_empty():
        return {}
    latest = existing.group_by(list(group_cols)).agg(pl.col(obs_col).max().alias("latest"))
    out = {}
    for row in latest.iter_rows(named=True):
        key = tuple(row[c] for c in group_cols)
        window = window_days.get(key, 0) if isinstance(window_days, dict) else window_days
        out[key] = max(default, row["latest"] - timedelta(days=window))
    return out


def _same(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return (a - b).abs() <= 1e-9 * pl.max_horizontal(pl.lit(1.0), a.abs())


def merge_vintages(
    existing: pl.DataFrame,
    incoming: pl.DataFrame,
    series_cols: Sequence[str],
    obs_col: str,
    value_col: str,
    today: date,
    loaded_at: datetime | None = None,
) -> pl.DataFrame:
    """Stored vintages plus newly fetched rows, keyed by (series, observation, known_at).

    ``incoming`` comes from ``date_by_lag`` (has ``_exact``). A changed value from a source without
    vintage dates becomes a new vintage dated today; an unchanged one adds nothing. Returns every row
    of the series involved, with ``is_first_release`` (and ``loaded_at`` if given) set.
    """
    series_cols = list(series_cols)
    obs_key = series_cols + [obs_col]
    key = obs_key + ["known_at"]
    incoming = incoming.filter(pl.col(value_col).is_not_null() & pl.col(value_col).is_not_nan())
    if loaded_at is not None:
        incoming = incoming.with_columns(loaded_at=pl.lit(loaded_at, dtype=pl.Datetime("us")))
    if existing.is_empty():
        existing = incoming.clear().drop("_exact")
    latest = (
        existing.sort("known_at")
        .group_by(obs_key)
        .agg(
            pl.col(value_col).last().alias("_prev_value"), pl.col("known_at").last().alias("_prev_known")
        )
    )
    exact = incoming.filter(pl.col("_exact"))
    undated = (
        incoming.filter(~pl.col("_exact"))
        .join(latest, on=obs_key, how="left")
        .filter(pl.col("_prev_value").is_null() | ~_same(pl.col(value_col), pl.col("_prev_value")))
        .with_columns(
            known_at=pl.when(pl.col("_prev_value").is_null())
            .then(pl.col("known_at"))
            .otherwise(pl.max_horizontal("known_at", pl.lit(today), "_prev_known"))
        )
        .drop("_prev_value", "_prev_known")
    )
    fresh = pl.concat([exact, undated], how="vertical_relaxed").drop("_exact")
    fresh = fresh.unique(subset=key, keep="last", maintain_order=True)
    kept = existing.drop("is_first_release", strict=False).join(fresh.select(key), on=key, how="anti")
    combined = pl.concat([kept, fresh], how="diagonal_relaxed").sort(key)
    previous = pl.col(value_col).shift(1).over(obs_key)
    combined = combined.filter(previous.is_null() | ~_same(pl.col(value_col), previous))
    return combined.with_columns(
        is_first_release=pl.col("known_at") == pl.col("known_at").min().over(obs_key)
    )


def fill_calendar_days(rates: pl.DataFrame, until: date | None = None) -> pl.DataFrame:
    """One row per calendar day and currency from its first quote to ``until`` (or its last quote).

    Weekends and holidays repeat the last quote with ``is_filled=true`` so SQL can equi-join on date.
    """
    if rates.is_empty():
        return pl.DataFrame(schema=EXCHANGE_RATE_SCHEMA)
    quotes = rates.drop("is_filled", strict=False).sort("currency", "rate_date")
    quotes = quotes.unique(subset=["currency", "rate_date"], keep="last", maintain_order=True)
    spans = quotes.group_by("currency").agg(
        pl.col("rate_date").min().alias("first"), pl.col("rate_date").max().alias("last")
    )
    if until is not None:
        spans = spans.with_columns(last=pl.max_horizontal("last", pl.lit(until)))
    calendar = spans.select(
        "currency", rate_date=pl.date_ranges("first", "last", interval="1d")
    ).explode("rate_date")
    filled = (
        calendar.join(quotes, on=["currency", "rate_date"], how="left")
        .sort("currency", "rate_date")
        .with_columns(is_filled=pl.col("krw_per_unit").is_null())
        .with_columns(
            pl.col(c).forward_fill().over("currency")
            for c in ("krw_per_unit", "source", "provider", "known_at")
        )
    )
    return filled.select([pl.col(c).cast(t) for c, t in EXCHANGE_RATE_SCHEMA.items()])


def merge_exchange_rates(
    existing: pl.DataFrame, fetched: pl.DataFrame, since: date | None, until: date | None
) -> pl.DataFrame:
    """Quotes stored before ``since`` plus the fetched ones (fetched win), filled to calendar days."""
    quotes = fetched.with_columns(is_filled=pl.lit(False))
    if not existing.is_empty():
        older = existing.filter(~pl.col("is_filled"))
        if since is not None:
            older = older.filter(pl.col("rate_date") < since)
        quotes = pl.concat([older.select(quotes.columns), quotes], how="vertical_relaxed")
    return fill_calendar_days(quotes, until)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not frame.columns:
        return pl.DataFrame(schema=schema)
    return frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()]
    )

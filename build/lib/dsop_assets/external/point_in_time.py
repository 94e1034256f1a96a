"""Leak-free views of the external tables: what a planner could have known on a given day.

For an as-of date ``t`` only rows with ``known_at <= t`` exist; among them each observation takes its
latest vintage. A forecast made at origin ``t`` that uses these values never sees a revision, or a
month's figure, that was published after ``t``.
"""

from __future__ import annotations

from datetime import date
from typing import Sequence

import polars as pl

SERIES_KEY = ["provider", "series_id"]


def _as_of_frame(as_of_dates: pl.Series | Sequence[date]) -> pl.DataFrame:
    series = as_of_dates if isinstance(as_of_dates, pl.Series) else pl.Series(list(as_of_dates))
    return pl.DataFrame({"as_of_date": series.cast(pl.Date)}).unique().sort("as_of_date")


def _vintages(indicators: pl.DataFrame) -> pl.DataFrame:
    return indicators.select(
        *SERIES_KEY, "observation_date", "known_at", pl.col("value").cast(pl.Float64)
    ).filter(pl.col("value").is_not_null() & pl.col("known_at").is_not_null())


def indicators_as_of(indicators: pl.DataFrame, as_of_dates: pl.Series | Sequence[date]) -> pl.DataFrame:
    """Per as-of date and series: the newest observation known by then, at its latest vintage by then.

    Columns: as_of_date, provider, series_id, observation_date, value, known_at. A series with nothing
    public yet on a date has no row for that date.
    """
    vintages = _vintages(indicators)
    dates = _as_of_frame(as_of_dates)
    if vintages.is_empty() or dates.is_empty():
        return pl.DataFrame(
            schema={
                "as_of_date": pl.Date,
                "provider": pl.String,
                "series_id": pl.String,
                "observation_date": pl.Date,
                "value": pl.Float64,
                "known_at": pl.Date,
            }
        )
    # The newest observation known at t is a running max over publication order.
    newest = (
        vintages.sort("known_at")
        .with_columns(newest_obs=pl.col("observation_date").cum_max().over(SERIES_KEY))
        .group_by(SERIES_KEY + ["known_at"])
        .agg(pl.col("newest_obs").max())
        .sort("known_at")
    )
    grid = dates.join(newest.select(SERIES_KEY).unique(), how="cross").sort("as_of_date")
    latest_obs = grid.join_asof(
        newest,
        left_on="as_of_date",
        right_on="known_at",
        by=SERIES_KEY,
        strategy="backward",
        check_sortedness=False,
    ).filter(pl.col("newest_obs").is_not_null())
    requests = latest_obs.select("as_of_date", *SERIES_KEY, observation_date=pl.col("newest_obs"))
    return _vintage_at(vintages, requests)


def _vintage_at(vintages: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """Value of each requested (series, observation) as of ``as_of_date``: latest vintage known by then."""
    by = SERIES_KEY + ["observation_date"]
    found = requests.sort("as_of_date").join_asof(
        vintages.sort("known_at"),
        left_on="as_of_date",
        right_on="known_at",
        by=by,
        strategy="backward",
        check_sortedness=False,
    )
    return (
        found.filter(pl.col("known_at").is_not_null())
        .select("as_of_date", *SERIES_KEY, "observation_date", "value", "known_at")
        .sort(SERIES_KEY + ["as_of_date"])
    )


def growth_as_of(
    indicators: pl.DataFrame,
    as_of_dates: pl.Series | Sequence[date],
    periods: dict[str, int] | None = None,
) -> pl.DataFrame:
    """``indicators_as_of`` plus growth of that value against N months earlier, both as known at t.

    ``periods`` maps output column to months back (default ``{"mom": 1, "yoy": 12}``). The base is the
    newest observation on or before the target month's date that was known at t, so daily series
    compare with the last trading day on or before it. Growth is ``value / base - 1`` (null if the
    base is missing or zero).
    """
    periods = periods or {"mom": 1, "yoy": 12}
    current = indicators_as_of(indicators, as_of_dates)
    vintages = _vintages(indicators)
    out = current
    for column, months in periods.items():
        targets = current.select(
            "as_of_date", *SERIES_KEY, target=pl.col("observation_date").dt.offset_by(f"-{months}mo")
        )
        base = _base_values(vintages, targets).rename({"value": f"_{column}_base"})
        out = (
            out.join(base, on=["as_of_date", *SERIES_KEY], how="left")
            .with_columns(
                pl.when(pl.col(f"_{column}_base").is_not_null() & (pl.col(f"_{column}_base") != 0))
                .then(pl.col("value") / pl.col(f"_{column}_base") - 1)
                .otherwise(None)
                .alias(column)
            )
            .drop(f"_{column}_base")
        )
    return out


def _base_values(vintages: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """Per (as_of, series): value of the newest observation <= target, as known at as_of."""
    candidates = (
        targets.join(vintages, on=SERIES_KEY, how="inner")
        .filter(
            (pl.col("known_at") <= pl.col("as_of_date"))
            & (pl.col("observation_date") <= pl.col("target"))
            & (pl.col("observation_date") > pl.col("target").dt.offset_by("-1mo"))
        )
        .sort("observation_date", "known_at")
    )
    return candidates.group_by(["as_of_date", *SERIES_KEY]).agg(pl.col("value").last())


def krw_rate_as_of(exchange_rate: pl.DataFrame, dates: pl.Series | Sequence[date]) -> pl.DataFrame:
    """KRW per one unit of each currency on each date, from the last quote known by that date.

    Columns: as_of_date, currency, krw_per_unit, rate_date (the quote used). Filled calendar rows are
    ignored so the answer never depends on how far the table was filled.
    """
    quotes = (
        exchange_rate.filter(
            ~pl.col("is_filled") if "is_filled" in exchange_rate.columns else pl.lit(True)
        )
        .with_columns(
            known_at=pl.coalesce("known_at", "rate_date")
            if "known_at" in exchange_rate.columns
            else pl.col("rate_date")
        )
        .select("currency", "rate_date", "known_at", "krw_per_unit")
    )
    # A quote counts once it is both dated and published on or before the as-of date.
    quotes = quotes.with_columns(usable_from=pl.max_horizontal("rate_date", "known_at")).sort(
        "usable_from"
    )
    grid = _as_of_frame(dates).join(quotes.select("currency").unique(), how="cross").sort("as_of_date")
    found = grid.join_asof(
        quotes,
        left_on="as_of_date",
        right_on="usable_from",
        by="currency",
        strategy="backward",
        check_sortedness=False,
    )
    return (
        found.filter(pl.col("krw_per_unit").is_not_null())
        .select("as_of_date", "currency", "krw_per_unit", "rate_date")
        .sort("currency", "as_of_date")
    )

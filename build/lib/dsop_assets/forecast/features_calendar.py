"""Integer period indices and calendar features for weekly (ISO week) and monthly cadences.

Every feature computation runs on an integer period index so lags are plain shifts and horizons
plain additions; dates come back only at the edges (origin_date, as_of, target_start).
"""

from __future__ import annotations

import polars as pl

from .config import Cadence

# 1970-01-01 was a Thursday; the first Monday is day 4, so ISO weeks are (days - 4) // 7.
_MONDAY_OFFSET = 4


def period_index(day: pl.Expr, cadence: Cadence) -> pl.Expr:
    if cadence == "weekly":
        return ((day.cast(pl.Date).cast(pl.Int32) - _MONDAY_OFFSET) // 7).cast(pl.Int32)
    return (day.dt.year().cast(pl.Int32) * 12 + day.dt.month().cast(pl.Int32) - 1).cast(pl.Int32)


def period_start(index: pl.Expr, cadence: Cadence) -> pl.Expr:
    if cadence == "weekly":
        return (index * 7 + _MONDAY_OFFSET).cast(pl.Int32).cast(pl.Date)
    return pl.date(index // 12, index % 12 + 1, 1)


def period_end(index: pl.Expr, cadence: Cadence) -> pl.Expr:
    """Last day of the period: the as_of of an origin made at the period's close."""
    if cadence == "weekly":
        return (index * 7 + _MONDAY_OFFSET + 6).cast(pl.Int32).cast(pl.Date)
    return period_start(index + 1, cadence).cast(pl.Int32).sub(1).cast(pl.Date)


def target_calendar(frame: pl.DataFrame, cadence: Cadence, column: str = "target_start") -> pl.DataFrame:
    """Seasonality of the period being forecast (not of the origin): ISO week, month, quarter end.

    A week counts as quarter-end when it contains the last day of a quarter; customers of these
    makers pull orders into quarter closes.
    """
    start = pl.col(column)
    if cadence == "weekly":
        end = start + pl.duration(days=6)
        quarter_end = (end.dt.month() != start.dt.month()) & start.dt.month().is_in([3, 6, 9, 12])
        return frame.with_columns(
            target_iso_week=start.dt.week().cast(pl.Int16),
            target_month=end.dt.month().cast(pl.Int16),
            target_quarter_end=quarter_end.cast(pl.Int8),
        )
    return frame.with_columns(
        target_month=start.dt.month().cast(pl.Int16),
        target_quarter_end=start.dt.month().is_in([3, 6, 9, 12]).cast(pl.Int8),
    )


def add_target_start(frame: pl.DataFrame, cadence: Cadence) -> pl.DataFrame:
    """target_start from origin_period + horizon (period indices)."""
    return frame.with_columns(
        target_period=pl.col("origin_period") + pl.col("horizon"),
    ).with_columns(target_start=period_start(pl.col("target_period"), cadence))

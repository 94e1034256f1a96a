"""The one place partition definitions live; every asset imports them from here.

ISO weeks start on Monday, so the weekly definition needs ``day_offset=1`` (Dagster's weeks start on
Sunday). Weekly keys are the Monday's date (``2024-01-01``); the ISO label ``2024-W01`` is derived in
SQL/Polars because Dagster rejects ``%G-W%V`` as a key format. Weeks do not nest in months, so monthly
tables are built from the daily grain, never from weekly tables.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

import dagster as dg

DEFAULT_HISTORY_START = "2023-01-02"


def history_start() -> date:
    """First day of history: ``DSOP_HISTORY_START`` (``dsop demo``/``dsop generate`` print the value
    their data needs; set it to your export's first day), else the older ``DSOP_PARTITIONS_START``.

    Rows dated before it are not dropped: the raw loaders quarantine them with a reason naming this
    setting, and warn with their count, so a too-late start is loud.
    """
    text = os.getenv("DSOP_HISTORY_START") or os.getenv("DSOP_PARTITIONS_START") or DEFAULT_HISTORY_START
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"DSOP_HISTORY_START must be a date YYYY-MM-DD, not {text!r}") from None


HISTORY_START = history_start()
# The Monday of the first day's ISO week, so week 1 is whole; months start on the 1st of its month.
PARTITIONS_START = (HISTORY_START - timedelta(days=HISTORY_START.weekday())).isoformat()
TIMEZONE = os.getenv("DSOP_TIMEZONE", "Asia/Seoul")

# end_offset=1 adds the period in progress, so an export's newest rows (this month's stock count,
# POs placed this week) have a partition to land in instead of waiting, unseen, until it closes.
# Schedules still target the period that just closed; forecasts use complete periods only.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=PARTITIONS_START, day_offset=1, timezone=TIMEZONE, end_offset=1
)
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=HISTORY_START.replace(day=1).isoformat(), timezone=TIMEZONE, end_offset=1
)
daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START.isoformat(), timezone=TIMEZONE, end_offset=1)

# A table's grain (ERP contract, SQL model config) to its partitions; None is unpartitioned.
PARTITIONS_BY_GRAIN = {"week": weekly_partitions, "month": monthly_partitions, None: None}


def grain_of(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    """The grain of one of the partitions above, any tier (the inverse of PARTITIONS_BY_GRAIN); any
    other partitioning is an error, not "unpartitioned"."""
    if partitions_def is None:
        return None
    found = tier_and_grain(partitions_def)
    if found is None:
        raise ValueError(f"no grain for {partitions_def}")
    return found[1]


def window_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """[start, end) of the partition or partition range being materialised, as dates.

    A single-run backfill hands an asset a whole range; every writer replaces exactly this window.
    """
    window = context.partition_time_window
    return window.start.date(), window.end.date()


def iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def parse_partition_key(key: str) -> date:
    """Strict ``YYYY-MM-DD`` (or ``YYYY-MM-DD-HH:MM``) key to a date; anything else raises."""
    return datetime.strptime(key[:10], "%Y-%m-%d").date()


def weeks_in(start: date, end: date) -> list[date]:
    """Mondays of the ISO weeks whose start lies in [start, end)."""
    first = week_start(start)
    if first < start:
        first += timedelta(days=7)
    return [first + timedelta(days=7 * i) for i in range(max(0, (end - first).days + 6) // 7)]


def months_in(start: date, end: date) -> list[date]:
    """First days of the months whose first day lies in [start, end)."""
    out: list[date] = []
    current = month_start(start) if start.day == 1 else _next_month(start)
    while current < end:
        out.append(current)
        current = _next_month(current)
    return out


def _next_month(day: date) -> date:
    return _add_months(day, 1)


def partition_range(grain: str, first: date, last: date) -> tuple[str, str] | None:
    """The first and last existing data-partition keys spanning the days [first, last] at a grain
    (clipped to the partitions), or None when none exists."""
    lo = week_start(first) if grain == "week" else month_start(first)
    hi = week_start(last) if grain == "week" else month_start(last)
    inside = [k for k in PARTITIONS_BY_GRAIN[grain].get_partition_keys() if lo.isoformat() <= k <= hi.isoformat()]
    return (inside[0], inside[-1]) if inside else None


# Forecasts (and the weekly risk grades) are kept for this many periods up to go-live: the backtest
# origins the forecast evaluation, the band calibration, the risk backtest and the decision replay read
# (26 replayed decision weeks, the last one before go-live's, need 27 weekly origins).
FORECAST_HISTORY_WEEKS = 27
FORECAST_HISTORY_MONTHS = 12


def go_live() -> date | None:
    """The first week dsop makes decisions for (``DSOP_GO_LIVE``, any day of that ISO week), or None.

    Data partitions start where the history starts; forecasts (and the weekly risk grades) only
    FORECAST_HISTORY_WEEKS/MONTHS before go-live, and plans, purchases and actions at go-live: nobody
    acts on a plan for 2023, and a partition that exists but is never built shows as missing in the
    UI for ever. Unset, every tier starts with the history (an existing deployment keeps its partitions).
    """
    text = os.getenv("DSOP_GO_LIVE", "").strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"DSOP_GO_LIVE must be a date YYYY-MM-DD, not {text!r}") from None
    if day < HISTORY_START:
        raise ValueError(f"DSOP_GO_LIVE={text} is before DSOP_HISTORY_START={HISTORY_START}: decisions "
                         "need history before them")
    return day


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def tier_starts(live: date | None) -> dict[tuple[str, str], date]:
    """First partition (a Monday or a 1st) per (tier, cadence) for a go-live day.

    The first monthly decision is for the last month that has closed when the go-live week closes."""
    first_week, first_month = date.fromisoformat(PARTITIONS_START), HISTORY_START.replace(day=1)
    if live is None:
        return {(tier, cadence): first_week if cadence == "week" else first_month
                for tier in ("data", "forecast", "decision") for cadence in ("week", "month")}
    live_week = max(week_start(live), first_week)
    live_month = max(_add_months(month_start(live_week + timedelta(days=7)), -1), first_month)
    return {
        ("data", "week"): first_week,
        ("data", "month"): first_month,
        ("forecast", "week"): max(first_week, live_week - timedelta(weeks=FORECAST_HISTORY_WEEKS - 1)),
        ("forecast", "month"): max(first_month, _add_months(live_month, 1 - FORECAST_HISTORY_MONTHS)),
        ("decision", "week"): live_week,
        ("decision", "month"): live_month,
    }


TIER_STARTS = tier_starts(go_live())


# Each tier's definitions are objects of their own, even when their start is the history's (no
# go-live): an asset's tier is the definition it declares (``tier_of``), and Dagster compares
# definitions by value, so equal ones still share a job.
forecast_weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=TIER_STARTS["forecast", "week"].isoformat(), day_offset=1, timezone=TIMEZONE, end_offset=1)
forecast_monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=TIER_STARTS["forecast", "month"].isoformat(), timezone=TIMEZONE, end_offset=1)
decision_weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=TIER_STARTS["decision", "week"].isoformat(), day_offset=1, timezone=TIMEZONE, end_offset=1)
decision_monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=TIER_STARTS["decision", "month"].isoformat(), timezone=TIMEZONE, end_offset=1)

# (tier, grain) -> partitions
TIER_PARTITIONS = {
    ("data", "week"): weekly_partitions, ("data", "month"): monthly_partitions,
    ("forecast", "week"): forecast_weekly_partitions, ("forecast", "month"): forecast_monthly_partitions,
    ("decision", "week"): decision_weekly_partitions, ("decision", "month"): decision_monthly_partitions,
}


def tier_and_grain(partitions_def: dg.PartitionsDefinition | None) -> tuple[str, str] | None:
    """(tier, grain) of one of the tiers' definitions, by identity (equal definitions of two tiers are
    still two tiers); None for any other partitioning (the network's months, static scenarios)."""
    return next((tg for tg, parts in TIER_PARTITIONS.items() if parts is partitions_def), None)

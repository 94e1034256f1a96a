"""Calendar of one generated data set: history window, simulation margins, weeks and months.

The simulation runs a warm-up before the history and a tail after it so that the first exported
weeks already ship orders placed earlier and the last weeks plan production for orders still open;
only the history window is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

SCALES = {
    # history weeks, finished goods, materials, customers, suppliers, lines, customers per product
    "tiny": dict(weeks=80, n_fg=12, n_mat=15, n_cust=10, n_sup=5, n_lines=3, pairs_per_fg=4.0),
    "seed": dict(weeks=156, n_fg=300, n_mat=400, n_cust=150, n_sup=60, n_lines=6, pairs_per_fg=2.6),
    "large": dict(weeks=156, n_fg=1500, n_mat=2000, n_cust=700, n_sup=150, n_lines=12, pairs_per_fg=5.2),
    # tiny ERP plus the supply-network inputs (network/): two years daily, 40 cities, 20 SKUs (issue #14)
    "network": dict(weeks=104, n_fg=12, n_mat=15, n_cust=10, n_sup=5, n_lines=3, pairs_per_fg=4.0, network="network"),
}
WARMUP_WEEKS = 10
TAIL_WEEKS = 12
EXTERNAL_LEAD_MONTHS = 13


@dataclass(frozen=True)
class Timeline:
    start: date  # first exported day, a Monday
    end: date  # last exported day, a Sunday
    sim_start: date  # first simulated day, a Monday
    n_weeks: int  # simulated weeks (warm-up + history + tail)
    warmup_weeks: int
    history_weeks: int
    ext_start: date  # first day of external indicators (a month start)

    @property
    def n_days(self) -> int:
        return self.n_weeks * 7

    @property
    def start_day(self) -> int:
        return (self.start - self.sim_start).days

    @property
    def end_day(self) -> int:
        return (self.end - self.sim_start).days

    def days(self) -> np.ndarray:
        return np.datetime64(self.sim_start, "D") + np.arange(self.n_days)

    def week_starts(self) -> np.ndarray:
        return np.datetime64(self.sim_start, "D") + 7 * np.arange(self.n_weeks)


def default_end_date(today: date | None = None) -> date:
    """Most recent Sunday strictly before today, so the last ISO week is complete."""
    day = (today or date.today()) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def build_timeline(scale: str, end_date: date) -> Timeline:
    if end_date.weekday() != 6:
        end_date = end_date - timedelta(days=(end_date.weekday() + 1) % 7)
    weeks = SCALES[scale]["weeks"]
    start = end_date - timedelta(days=7 * weeks - 1)
    sim_start = start - timedelta(days=7 * WARMUP_WEEKS)
    ext_start = add_months(start.replace(day=1), -EXTERNAL_LEAD_MONTHS)
    return Timeline(start, end_date, sim_start, WARMUP_WEEKS + weeks + TAIL_WEEKS, WARMUP_WEEKS, weeks, ext_start)


def add_months(day: date, months: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(y, m + 1, 1)


def month_index(days: np.ndarray, origin: date) -> np.ndarray:
    """Fractional months since ``origin`` (a month start): 0.5 is mid-month of the first month."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    first = m.astype("datetime64[D]")
    dim = ((m + 1).astype("datetime64[D]") - first).astype(np.int64)
    whole = (m - np.datetime64(origin, "M")).astype(np.int64)
    return whole + (d - first).astype(np.int64) / dim


def to_iso(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def business_days(first: date, last: date) -> np.ndarray:
    d = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    return d[np.is_busday(d)]


def month_starts(first: date, last: date) -> np.ndarray:
    return np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 1).astype("datetime64[D]")

"""The latent semiconductor cycle and the market variables derived from it.

One monthly latent path drives customer demand; indicators are read from the same path shifted
forward, so they lead demand by their economic lag and carry real signal for forecasters.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from .timeline import Timeline, add_months, month_index

FUTURE_MONTHS = 8  # indicators look this far ahead of the last simulated day


def latent_cycle(rng: np.random.Generator, tl: Timeline) -> np.ndarray:
    """Monthly log-demand cycle from ``tl.ext_start``: a 3-4 year wave plus persistent shocks."""
    last = add_months(date.fromordinal(tl.sim_start.toordinal() + tl.n_days), FUTURE_MONTHS)
    n = (last.year - tl.ext_start.year) * 12 + last.month - tl.ext_start.month + 1
    period = rng.uniform(38.0, 46.0)
    phase = rng.uniform(0, 2 * np.pi)
    k = np.arange(n)
    wave = 0.26 * np.sin(2 * np.pi * k / period + phase)
    shocks = rng.normal(0, 0.09, n)
    ar = np.zeros(n)
    for i in range(1, n):
        ar[i] = 0.8 * ar[i - 1] + shocks[i]
    return wave + ar


def cycle_at(cycle: np.ndarray, tl: Timeline, days: np.ndarray, lead_months: float = 0.0) -> np.ndarray:
    """Cycle value on given days, looking ``lead_months`` ahead (monthly values sit mid-month)."""
    x = month_index(days, tl.ext_start) + lead_months
    return np.interp(x, np.arange(len(cycle)) + 0.5, cycle)


def ou_path(rng: np.random.Generator, n: int, sigma: float, phi: float) -> np.ndarray:
    """Mean-reverting noise (started in its stationary law), so a price wanders yet keeps tracking its driver."""
    eps = rng.normal(0, sigma, n)
    out = np.empty(n)
    acc = eps[0] / np.sqrt(1 - phi**2)
    out[0] = acc
    for i in range(1, n):
        acc = phi * acc + eps[i]
        out[i] = acc
    return out


def years_since(days: np.ndarray, origin: date) -> np.ndarray:
    return (days.astype("datetime64[D]") - np.datetime64(origin, "D")).astype(np.int64) / 365.25


def fx_daily(rng: np.random.Generator, tl: Timeline, cycle: np.ndarray, days: np.ndarray) -> dict[str, np.ndarray]:
    """KRW per one unit of USD, JPY, EUR, CNY on ``days``; the won weakens in downturns."""
    c = cycle_at(cycle, tl, days)
    usd = 1330.0 * np.exp(ou_path(rng, len(days), 0.004, 0.997) - 0.12 * c)
    usdjpy = 145.0 * np.exp(ou_path(rng, len(days), 0.005, 0.996))
    eurusd = 1.09 * np.exp(ou_path(rng, len(days), 0.004, 0.996))
    usdcny = 7.15 * np.exp(ou_path(rng, len(days), 0.002, 0.996))
    return {"USD": usd, "JPY": usd / usdjpy, "EUR": usd * eurusd, "CNY": usd / usdcny}

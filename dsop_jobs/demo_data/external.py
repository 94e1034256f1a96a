"""External indicator files (``<out>/external/``), published as of ``end_date`` with real release lags.

Monthly macro series get a first release and, for some months, a later revision, so consumers must
pick the vintage known at forecast time; market series lead the latent cycle by a few months.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .cycle import cycle_at, ou_path, years_since
from .timeline import Timeline, business_days, month_starts, to_iso

# provider, series_id, name, unit, frequency, publication lag (days after month end or after the day),
# revision sd as a share of the level (0 = never revised)
SERIES = [
    ("fred", "FEDFUNDS", "Federal funds effective rate", "percent", "M", 1, 0.0),
    ("fred", "INDPRO", "US industrial production index", "index 2017=100", "M", 16, 0.004),
    ("fred", "CPIAUCSL", "US CPI all urban consumers", "index 1982-84=100", "M", 12, 0.0008),
    ("fred", "PPIACO", "US PPI all commodities", "index 1982=100", "M", 14, 0.003),
    ("fred", "PCOPPUSDM", "Global copper price", "USD per metric ton", "M", 10, 0.002),
    ("eia", "RWTC", "WTI crude oil spot price", "USD per barrel", "D", 1, 0.0),
    ("ecos", "722Y001", "Bank of Korea base rate", "percent", "M", 1, 0.0),
    ("ecos", "901Y009", "Korea consumer price index", "index 2020=100", "M", 2, 0.0),
    ("ecos", "404Y014", "Korea producer price index", "index 2020=100", "M", 20, 0.002),
    ("ecos", "901Y033", "Korea manufacturing production index", "index 2020=100", "M", 30, 0.006),
    ("market", "SOX", "PHLX semiconductor index", "index", "D", 1, 0.0),
    ("market", "DRAM_SPOT", "DRAM spot price DDR4 8Gb", "USD", "D", 1, 0.0),
    ("market", "NAND_SPOT", "NAND spot price 512Gb TLC", "USD", "D", 1, 0.0),
    ("market", "WAFER_ASP", "Silicon wafer average selling price", "USD per wafer", "M", 5, 0.0),
    ("market", "BDI", "Baltic dry index", "index", "D", 1, 0.0),
    ("market", "CAIXIN_PMI", "Caixin China manufacturing PMI", "index", "M", 1, 0.0),
]


def _step_rate(rng: np.random.Generator, n: int, start: float, lo: float, hi: float) -> np.ndarray:
    """Policy rates move in quarter-point steps every few months."""
    moves = rng.choice([-0.25, 0.0, 0.0, 0.0, 0.0, 0.25], n) * (rng.random(n) < 0.5)
    return np.clip(start + np.cumsum(moves), lo, hi)


def _monthly_values(rng, tl, cycle, months: np.ndarray) -> dict[str, np.ndarray]:
    n = len(months)
    mid = months + 14
    c0 = cycle_at(cycle, tl, mid)
    yrs = years_since(mid, tl.ext_start)
    noise = lambda s, phi=0.7: ou_path(rng, n, s, phi)  # noqa: E731
    season = np.sin(2 * np.pi * (months.astype("datetime64[M]").astype(int) % 12) / 12)
    return {
        "FEDFUNDS": _step_rate(rng, n, 5.33, 0.1, 5.5),
        "INDPRO": 102.5 * np.exp(0.03 * c0 + 0.004 * yrs + noise(0.004)),
        "CPIAUCSL": 304.0 * np.exp(0.027 * yrs + noise(0.001, 0.5)),
        "PPIACO": 255.0 * np.exp(0.1 * c0 + 0.01 * yrs + noise(0.01)),
        "PCOPPUSDM": 8700.0 * np.exp(0.25 * cycle_at(cycle, tl, mid, 1.0) + noise(0.03, 0.85)),
        "722Y001": _step_rate(rng, n, 3.5, 1.5, 3.75),
        "901Y009": 111.0 * np.exp(0.024 * yrs + noise(0.0015, 0.5)),
        "404Y014": 119.0 * np.exp(0.08 * c0 + 0.012 * yrs + noise(0.006)),
        "901Y033": 112.0 * np.exp(0.25 * c0 + 0.03 * season + noise(0.015, 0.3)),
        "WAFER_ASP": 1150.0 * np.exp(0.35 * cycle_at(cycle, tl, mid, 1.0) + noise(0.01, 0.9)),
        "CAIXIN_PMI": 50.0 + 7.0 * cycle_at(cycle, tl, mid, 2.0) + rng.normal(0, 0.5, n),
    }


def _daily_values(rng, tl, cycle, days: np.ndarray) -> dict[str, np.ndarray]:
    n = len(days)
    yrs = years_since(days, tl.ext_start)
    return {
        "RWTC": 76.0 * np.exp(ou_path(rng, n, 0.017, 0.995)),
        "SOX": 4200.0 * np.exp(1.5 * cycle_at(cycle, tl, days, 3.0) + 0.06 * yrs + ou_path(rng, n, 0.012, 0.98)),
        "DRAM_SPOT": 1.9 * np.exp(1.9 * cycle_at(cycle, tl, days, 2.5) + ou_path(rng, n, 0.008, 0.98)),
        "NAND_SPOT": 2.6 * np.exp(1.6 * cycle_at(cycle, tl, days, 2.0) + ou_path(rng, n, 0.008, 0.98)),
        "BDI": 1500.0 * np.exp(0.4 * cycle_at(cycle, tl, days, 1.0) + ou_path(rng, n, 0.025, 0.99)),
    }


def _month_end(months: np.ndarray) -> np.ndarray:
    return (months.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1


def _next_business_day(days: np.ndarray) -> np.ndarray:
    return np.busday_offset(days, 0, roll="forward")


def build_external(
    rng: np.random.Generator, tl: Timeline, cycle: np.ndarray, fx_days: np.ndarray, fx: dict[str, np.ndarray]
) -> dict[str, pl.DataFrame]:
    end = np.datetime64(tl.end, "D")
    months = month_starts(tl.ext_start, tl.end)
    bdays = business_days(tl.ext_start, tl.end)
    monthly = _monthly_values(rng, tl, cycle, months)
    daily = _daily_values(rng, tl, cycle, bdays)
    frames = []
    for provider, sid, name, unit, freq, lag, rev in SERIES:
        if freq == "D":
            obs, val = bdays, daily[sid]
            known = obs + lag
        else:
            obs, val = months, monthly[sid]
            known = _month_end(months) + lag
            if sid == "CAIXIN_PMI":
                known = _next_business_day(_month_end(months) + 1)
        if rev > 0:
            first = val * np.exp(rng.normal(0, rev, len(val)))
            revised = rng.random(len(val)) < 0.45
            frames.append((provider, sid, name, unit, freq, obs, first, known))
            frames.append((provider, sid, name, unit, freq, obs[revised], val[revised], known[revised] + 30))
        else:
            frames.append((provider, sid, name, unit, freq, obs, val, known))
    econ = pl.concat(
        [
            pl.DataFrame(
                {
                    "provider": provider, "series_id": sid, "name": name, "unit": unit, "frequency": freq,
                    "observation_date": to_iso(obs), "value": np.round(val, 4), "known_at": to_iso(known),
                    "_k": known,
                }
            )
            for provider, sid, name, unit, freq, obs, val, known in frames
        ]
    )
    econ = econ.filter(pl.col("_k") <= end).drop("_k").sort(["provider", "series_id", "observation_date", "known_at"])
    market = (
        econ.filter(pl.col("provider") == "market")
        .select("series_id", "observation_date", "value", "known_at")
        .with_columns(source=pl.lit("synthetic"))
    )
    pick = np.searchsorted(fx_days, bdays)
    rates = pl.concat(
        [pl.DataFrame({"rate_date": to_iso(bdays), "currency": cur, "krw_per_unit": np.round(v[pick], 4)})
         for cur, v in fx.items()]
    ).sort(["rate_date", "currency"])
    copper = pl.DataFrame({"month": months, "copper": monthly["PCOPPUSDM"]})
    return {
        "economic_indicator": econ, "market_prices": market, "exchange_rate": rates,
        "trade_statistics": _trade(rng, tl, cycle, months), "_copper": copper,
    }


def _trade(rng, tl, cycle, months: np.ndarray) -> pl.DataFrame:
    mid = months + 14
    yrs = years_since(mid, tl.ext_start)
    known = _month_end(months) + 15
    rows = []
    for hs, flow, base, beta, lead in [
        ("8542", "export", 9.6e9, 1.3, 1.5), ("8542", "import", 4.4e9, 0.8, 1.0),
        ("8541", "export", 0.65e9, 0.6, 1.0), ("8541", "import", 0.9e9, 0.4, 0.5),
    ]:
        val = base * np.exp(beta * cycle_at(cycle, tl, mid, lead) + 0.05 * yrs + rng.normal(0, 0.035, len(months)))
        rows.append(pl.DataFrame({"period_month": to_iso(months), "hs_code": hs, "flow": flow,
                                  "value_usd": np.round(val, 0), "known_at": to_iso(known), "_k": known}))
    out = pl.concat(rows)
    return out.filter(pl.col("_k") <= np.datetime64(tl.end, "D")).drop("_k").sort(["period_month", "hs_code", "flow"])

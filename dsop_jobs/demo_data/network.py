"""Demo supply-network inputs (``<out>/network/``): European cities, candidate sites, SKUs, daily demand.

Sized by ``NETWORK_SIZES``; ``network`` is the issue's scale (40 demand cities, 30 candidate cities,
3 modes, 20 SKUs, two years daily). Demand is intermittent per city and SKU with a weekly and a yearly
rhythm; plant capacity is set so the five best plants need some overtime. Deterministic per seed.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from dsop_assets.network.contract import NETWORK_CONTRACTS

NETWORK_SIZES = {
    "network": dict(cities=40, candidate_cities=30, plant_cities=12, skus=20, days=728),
    "small": dict(cities=8, candidate_cities=6, plant_cities=3, skus=3, days=59),
    "tiny": dict(cities=5, candidate_cities=4, plant_cities=2, skus=2, days=20),
}

# (city, country, latitude, longitude): seven countries so trucks, ships, air and borders all matter.
CITIES = [
    ("Berlin", "DEU", 52.52, 13.40), ("Hamburg", "DEU", 53.55, 9.99), ("Munich", "DEU", 48.14, 11.58),
    ("Cologne", "DEU", 50.94, 6.96), ("Frankfurt", "DEU", 50.11, 8.68), ("Stuttgart", "DEU", 48.78, 9.18),
    ("Leipzig", "DEU", 51.34, 12.37), ("Hanover", "DEU", 52.37, 9.73),
    ("Paris", "FRA", 48.86, 2.35), ("Lyon", "FRA", 45.76, 4.84), ("Marseille", "FRA", 43.30, 5.37),
    ("Lille", "FRA", 50.63, 3.06), ("Strasbourg", "FRA", 48.57, 7.75), ("Bordeaux", "FRA", 44.84, -0.58),
    ("Toulouse", "FRA", 43.60, 1.44),
    ("Milan", "ITA", 45.46, 9.19), ("Turin", "ITA", 45.07, 7.69), ("Bologna", "ITA", 44.49, 11.34),
    ("Rome", "ITA", 41.90, 12.50), ("Naples", "ITA", 40.85, 14.27), ("Verona", "ITA", 45.44, 10.99),
    ("Madrid", "ESP", 40.42, -3.70), ("Barcelona", "ESP", 41.39, 2.17), ("Valencia", "ESP", 39.47, -0.38),
    ("Seville", "ESP", 37.39, -5.98), ("Zaragoza", "ESP", 41.65, -0.89), ("Bilbao", "ESP", 43.26, -2.93),
    ("Warsaw", "POL", 52.23, 21.01), ("Krakow", "POL", 50.06, 19.94), ("Wroclaw", "POL", 51.11, 17.04),
    ("Poznan", "POL", 52.41, 16.93), ("Gdansk", "POL", 54.35, 18.65),
    ("Amsterdam", "NLD", 52.37, 4.90), ("Rotterdam", "NLD", 51.92, 4.48), ("Utrecht", "NLD", 52.09, 5.12),
    ("Eindhoven", "NLD", 51.44, 5.47),
    ("Prague", "CZE", 50.08, 14.44), ("Brno", "CZE", 49.20, 16.61), ("Ostrava", "CZE", 49.82, 18.26),
    ("Plzen", "CZE", 49.74, 13.37),
]
MODES = pl.DataFrame({
    "mode": ["truck", "ship", "air"],
    "cost_per_container_km": [1.6, 0.55, 9.0],
    "co2_kg_per_container_km": [0.9, 0.3, 7.5],
    "speed_km_per_day": [700.0, 400.0, 6000.0],
    "handling_days": [1, 3, 1],
})


def _iso(days: np.ndarray) -> list[str]:
    return [str(d) for d in days.astype("datetime64[D]")]


def network_frames(rng: np.random.Generator, start: date, size: str = "network") -> dict[str, pl.DataFrame]:
    cfg = NETWORK_SIZES[size]
    n_days = cfg["days"]
    pick = np.sort(rng.choice(len(CITIES), cfg["cities"], replace=False)) if cfg["cities"] < len(CITIES) else np.arange(len(CITIES))
    chosen = [CITIES[i] for i in pick]
    city_ids = [f"C{i + 1:02d}" for i in range(len(chosen))]
    city = pl.DataFrame({
        "city_id": city_ids, "city_name": [c[0] for c in chosen], "country": [c[1] for c in chosen],
        "latitude": [c[2] for c in chosen], "longitude": [c[3] for c in chosen],
    })
    candidates = np.sort(rng.choice(len(chosen), cfg["candidate_cities"], replace=False))
    plant_cities = np.sort(rng.choice(candidates, cfg["plant_cities"], replace=False))
    # A few cities get two candidates of the same type, so "one per city" is a real choice.
    second_wh = rng.choice(candidates, max(1, len(candidates) // 10), replace=False)
    # Build costs scale with the horizon and network size so a small instance still builds.
    scale = cfg["days"] / 728 * cfg["cities"] / 40
    rows = []
    for i in list(candidates) + list(second_wh):
        rows.append(dict(city=i, site_type="warehouse", build_cost_usd=round(float(rng.uniform(2e5, 9e5)) * scale, -2),
                         holding_cost_per_unit_day=round(float(rng.uniform(0.002, 0.01)), 4)))
    for i in list(plant_cities) + [plant_cities[0]]:
        workers = int(rng.integers(28, 46))
        rows.append(dict(city=i, site_type="plant", build_cost_usd=round(float(rng.uniform(3e6, 8e6)) * scale, -3),
                         workers=workers, regular_hours_per_week=float(workers * 40),
                         overtime_hours_per_week=float(workers * 12),
                         regular_cost_per_hour=round(float(rng.uniform(22, 48)), 2)))
    site = pl.DataFrame(rows).with_columns(
        pl.col("city").map_elements(lambda i: city_ids[i], return_dtype=pl.Utf8).alias("city_id"),
        (pl.col("regular_cost_per_hour") * 1.5).round(2).alias("overtime_cost_per_hour"),
    ).with_row_index("n").with_columns(
        pl.format("{}{}", pl.when(pl.col("site_type") == "plant").then(pl.lit("P")).otherwise(pl.lit("W")),
                  (pl.col("n") + 1).cast(pl.Utf8).str.zfill(2)).alias("site_id"))
    n_sku = cfg["skus"]
    sku = pl.DataFrame({
        "sku_id": [f"S{i + 1:02d}" for i in range(n_sku)],
        "sku_name": [f"Product {i + 1}" for i in range(n_sku)],
        "life_days": rng.choice([5, 8, 10, 14, 21, 30, 60, 120, 365], n_sku).astype(np.int64),
        "labour_hours_per_unit": np.round(rng.uniform(0.015, 0.05, n_sku), 4),
        "carbon_factor_prod": np.round(rng.uniform(0.3, 3.0, n_sku), 3),
        "holding_cost_per_unit_day": np.round(rng.uniform(0.01, 0.05, n_sku), 4),
        "shortage_penalty_usd": np.round(rng.uniform(40, 90, n_sku), 2),
    })
    days = np.datetime64(start, "D") + np.arange(n_days)
    weekday = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    season = 1 + 0.15 * np.sin(2 * np.pi * np.arange(n_days) / 365.25)
    week_shape = np.array([1.15, 1.1, 1.05, 1.05, 1.1, 0.45, 0.1])[weekday]
    active = rng.random((len(chosen), n_sku)) < 0.55
    mean = np.exp(rng.normal(np.log(70), 0.6, (len(chosen), n_sku))) * active
    order_day = rng.random((len(chosen), n_sku, n_days)) < 0.7
    qty = rng.poisson(mean[:, :, None] * (season * week_shape)[None, None, :] / 0.7) * order_day
    c_idx, s_idx, d_idx = np.nonzero(qty)
    demand = pl.DataFrame({
        "demand_date": np.array(_iso(days))[d_idx], "city_id": np.array(city_ids)[c_idx],
        "sku_id": sku["sku_id"].to_numpy()[s_idx], "qty": qty[c_idx, s_idx, d_idx].astype(np.float64),
    })
    bad = rng.random((len(chosen), n_days)) < 0.035
    w_c, w_d = np.nonzero(bad)
    weather = pl.DataFrame({"weather_date": np.array(_iso(days))[w_d], "city_id": np.array(city_ids)[w_c], "condition": "bad"})
    breaks = []
    for site_id in site.filter(pl.col("site_type") == "plant")["site_id"]:
        for first in np.sort(rng.choice(n_days, max(1, n_days // 120), replace=False)):
            last = min(n_days - 1, int(first) + int(rng.integers(0, 3)))
            breaks.append((site_id, str(days[first]), str(days[last])))
    breakdown = pl.DataFrame(breaks, schema=["site_id", "start_date", "end_date"], orient="row").unique(["site_id", "start_date"])
    return {
        "network_city": city, "network_site": site, "network_sku": sku, "network_demand": demand,
        "network_mode": MODES, "network_weather": weather, "network_breakdown": breakdown,
    }


def write_network(out_dir: Path, rng: np.random.Generator, start: date, size: str = "network") -> dict[str, int]:
    """Writes ``<out_dir>/network/<table>.csv``; returns file -> data rows (manifest entries)."""
    folder = Path(out_dir) / "network"
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, frame in network_frames(rng, start, size).items():
        cols = NETWORK_CONTRACTS[name].column_names
        frame = frame.select([pl.col(c) if c in frame.columns else pl.lit(None).alias(c) for c in cols])
        frame = frame.sort(list(NETWORK_CONTRACTS[name].key))
        frame.write_csv(folder / f"{name}.csv")
        files[f"network/{name}.csv"] = frame.height
    return files


def network_start(end: date, days: int) -> date:
    """First day of a ``days``-long horizon ending on ``end`` (a Sunday), so it starts on a Monday."""
    return end - timedelta(days=days - 1)

"""Validated inputs → the frames the models use: lanes with distance, modes, transit days and costs,
daily cost multipliers (weather, oil), production days per plant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from dsop_assets.network.config import NetworkConfig
from dsop_assets.network.inputs import NetworkInputs

ROAD_FACTOR = 1.2  # road and sea routes are longer than the great circle


@dataclass
class NetworkData:
    cities: pl.DataFrame
    sites: pl.DataFrame
    skus: pl.DataFrame
    demand: pl.DataFrame  # day, city_id, sku_id, qty
    modes: pl.DataFrame
    bad_weather: pl.DataFrame  # day, city_id
    down: pl.DataFrame  # day, site_id (plant produces nothing)
    oil: pl.DataFrame  # week_start, oil_multiplier (weeks without a rise are absent)
    start: date
    end: date  # inclusive
    config: NetworkConfig

    def chunks(self, first: date | None = None, last: date | None = None) -> list[tuple[date, date]]:
        """Calendar months cut to the horizon: chunks of at most 31 days, one per monthly partition."""
        out, day = [], max(first or self.start, self.start)
        stop = min(last or self.end, self.end)
        while day <= stop:
            nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            out.append((day, min(nxt - timedelta(days=1), stop)))
            day = nxt
        return out


def oil_multipliers(wti: pl.DataFrame, config: NetworkConfig) -> pl.DataFrame:
    """Weeks whose transport costs double: WTI's weekly mean rose >= 5 % in the week before.

    ``wti`` has observation_date and value (one vintage per day: the latest known).
    """
    if wti.height == 0:
        return pl.DataFrame(schema={"week_start": pl.Date, "oil_multiplier": pl.Float64})
    weekly = (wti.with_columns(pl.col("observation_date").cast(pl.Date).dt.truncate("1w").alias("week_start"))
              .group_by("week_start").agg(pl.col("value").mean().alias("wti")).sort("week_start")
              .upsample("week_start", every="1w").with_columns(pl.col("wti").forward_fill()))
    rise = weekly.with_columns((pl.col("wti") / pl.col("wti").shift(1) - 1).alias("rise"))
    return (rise.filter(pl.col("rise") >= config.oil_rise_threshold)
            .select((pl.col("week_start") + pl.duration(days=7)).alias("week_start"), pl.lit(config.oil_multiplier).alias("oil_multiplier")))


def prepare(inputs: NetworkInputs, wti: pl.DataFrame, config: NetworkConfig | None = None) -> NetworkData:
    config = config or NetworkConfig()
    demand = inputs["network_demand"].rename({"demand_date": "day"}).filter(pl.col("qty") > 0)
    start, end = demand["day"].min(), demand["day"].max()
    down = inputs["network_breakdown"].select(
        "site_id", pl.date_ranges("start_date", "end_date").alias("day")).explode("day")
    weather = inputs["network_weather"].filter(pl.col("condition") == "bad").select(pl.col("weather_date").alias("day"), "city_id")
    return NetworkData(inputs["network_city"], inputs["network_site"], inputs["network_sku"], demand, inputs["network_mode"],
                       weather, down.unique(), oil_multipliers(wti, config), start, end, config)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def lanes(nd: NetworkData, src: pl.DataFrame, dst: pl.DataFrame) -> pl.DataFrame:
    """Every (src, dst, mode) allowed by the country rule: truck within a country, ship or air between.

    ``src``/``dst`` have ``id`` and ``city_id``. Columns: src, dst, src_city, dst_city, mode, km,
    transit_days, cost_per_container (distance part), border_usd, co2_kg_per_container.
    """
    geo = nd.cities.select("city_id", "country", "latitude", "longitude")
    a = src.select(pl.col("id").alias("src"), pl.col("city_id").alias("src_city")).join(
        geo.rename({c: f"s_{c}" for c in ("country", "latitude", "longitude")}), left_on="src_city", right_on="city_id")
    b = dst.select(pl.col("id").alias("dst"), pl.col("city_id").alias("dst_city")).join(
        geo.rename({c: f"d_{c}" for c in ("country", "latitude", "longitude")}), left_on="dst_city", right_on="city_id")
    pairs = a.join(b, how="cross")
    km = ROAD_FACTOR * haversine_km(pairs["s_latitude"].to_numpy(), pairs["s_longitude"].to_numpy(),
                                    pairs["d_latitude"].to_numpy(), pairs["d_longitude"].to_numpy())
    exempt = {frozenset(p) for p in nd.config.border_exempt}
    domestic = pl.col("s_country") == pl.col("d_country")
    pairs = pairs.with_columns(pl.Series("km", km)).with_columns(
        pl.when(domestic).then(pl.lit(["truck"])).otherwise(pl.lit(["ship", "air"])).alias("mode"),
        pl.when(domestic | pl.struct("s_country", "d_country").map_elements(
            lambda r: frozenset((r["s_country"], r["d_country"])) in exempt, return_dtype=pl.Boolean))
        .then(0.0).otherwise(nd.config.border_cost_usd).alias("border_usd"),
    ).explode("mode").join(nd.modes, on="mode")
    return pairs.select(
        "src", "dst", "src_city", "dst_city", "mode", "km",
        (pl.col("handling_days") + (pl.col("km") / pl.col("speed_km_per_day")).ceil()).cast(pl.Int64).alias("transit_days"),
        (pl.col("km") * pl.col("cost_per_container_km")).alias("cost_per_container"),
        "border_usd",
        (pl.col("km") * pl.col("co2_kg_per_container_km")).alias("co2_kg_per_container"),
    )


def day_multipliers(nd: NetworkData, days: pl.DataFrame) -> pl.DataFrame:
    """(day, city_id) -> transport cost multiplier for departures: bad weather x3, oil week x2."""
    cities = nd.cities.select("city_id")
    grid = days.select("day").join(cities, how="cross").with_columns(pl.col("day").dt.truncate("1w").alias("week_start"))
    return grid.join(nd.bad_weather.with_columns(pl.lit(nd.config.bad_weather_multiplier).alias("wm")), on=["day", "city_id"], how="left") \
        .join(nd.oil, on="week_start", how="left").select(
            "day", "city_id", (pl.col("wm").fill_null(1.0) * pl.col("oil_multiplier").fill_null(1.0)).alias("multiplier"))

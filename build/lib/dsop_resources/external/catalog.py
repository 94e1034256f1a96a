"""What we load: every series with its name, unit, frequency and publication lag.

``publication_lag_days`` counts days after the END of the observed period until the value is public.
It dates a value only when the source itself does not say when it was published (EIA, ECOS, customs,
analyst rows without ``known_at``); FRED/ALFRED gives real vintage dates. Lags are deliberately on the
late side: dating a value too late only loses a little freshness, dating it too early leaks the future
into backtests.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class SeriesSpec:
    provider: str
    series_id: str
    name: str
    unit: str
    frequency: str  # D | W | M
    publication_lag_days: int
    item_code: str = ""  # ECOS item code inside the statistic table


SERIES: tuple[SeriesSpec, ...] = (
    SeriesSpec("fred", "FEDFUNDS", "US effective federal funds rate", "percent", "M", 2),
    SeriesSpec("fred", "INDPRO", "US industrial production index", "index 2017=100", "M", 20),
    SeriesSpec("fred", "CPIAUCSL", "US CPI, all urban consumers", "index 1982-84=100", "M", 15),
    SeriesSpec("fred", "PPIACO", "US PPI, all commodities", "index 1982=100", "M", 15),
    SeriesSpec("fred", "PCOPPUSDM", "Global copper price", "USD per metric ton", "M", 15),
    SeriesSpec("eia", "RWTC", "WTI crude oil spot price, Cushing", "USD per barrel", "D", 7),
    SeriesSpec("ecos", "722Y001", "Bank of Korea base rate", "percent", "M", 1, "0101000"),
    SeriesSpec("ecos", "901Y009", "Korea CPI", "index 2020=100", "M", 3, "0"),
    SeriesSpec("ecos", "404Y014", "Korea PPI", "index 2020=100", "M", 21, "*AA"),
    SeriesSpec("ecos", "901Y033", "Korea industrial production index", "index 2020=100", "M", 31, "A00"),
    SeriesSpec("market", "SOX", "Philadelphia semiconductor index", "index", "D", 1),
    SeriesSpec("market", "DRAM_SPOT", "DRAM spot price (DDR4 8Gb)", "USD", "D", 1),
    SeriesSpec("market", "NAND_SPOT", "NAND spot price (TLC 256Gb)", "USD", "D", 1),
    SeriesSpec("market", "WAFER_ASP", "Silicon wafer average selling price", "USD per wafer", "M", 30),
    SeriesSpec("market", "BDI", "Baltic Dry Index", "index", "D", 1),
    SeriesSpec("market", "CAIXIN_PMI", "Caixin China manufacturing PMI", "index", "M", 3),
)

PROVIDERS = ("fred", "eia", "ecos", "market")

# ECOS 731Y001 (daily won rates): item code and how many units one quote is for.
FX_ITEMS: dict[str, tuple[str, int]] = {
    "USD": ("0000001", 1),
    "JPY": ("0000002", 100),
    "EUR": ("0000003", 1),
    "CNY": ("0000053", 1),
}
FX_STAT_CODE = "731Y001"

HS_CODES = ("8541", "8542")
TRADE_FLOWS = ("export", "import")
# Customs publishes a month's final figures mid next month (preliminary ones earlier, then revised).
TRADE_PUBLICATION_LAG_DAYS = 15


def series_for(provider: str) -> list[SeriesSpec]:
    return [s for s in SERIES if s.provider == provider]


def spec(provider: str, series_id: str) -> SeriesSpec | None:
    return next((s for s in SERIES if s.provider == provider and s.series_id == series_id), None)


def catalog_frame() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "provider": s.provider,
                "series_id": s.series_id,
                "name": s.name,
                "unit": s.unit,
                "frequency": s.frequency,
                "publication_lag_days": s.publication_lag_days,
            }
            for s in SERIES
        ]
    )


# Shapes every client returns, so assets can concatenate them without surprises.
INDICATOR_FETCH_SCHEMA = {
    "provider": pl.String,
    "source": pl.String,
    "series_id": pl.String,
    "name": pl.String,
    "unit": pl.String,
    "frequency": pl.String,
    "observation_date": pl.Date,
    "value": pl.Float64,
    "known_at": pl.Date,  # null when the source does not say; the asset dates it by publication lag
}
FX_FETCH_SCHEMA = {
    "rate_date": pl.Date,
    "currency": pl.String,
    "krw_per_unit": pl.Float64,
    "source": pl.String,
    "provider": pl.String,
    "known_at": pl.Date,
}
TRADE_FETCH_SCHEMA = {
    "period_month": pl.Date,
    "hs_code": pl.String,
    "flow": pl.String,
    "value_usd": pl.Float64,
    "source": pl.String,
    "known_at": pl.Date,
}


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Exactly these columns in this order and type; missing ones become null."""
    if frame.is_empty() and not frame.columns:
        return pl.DataFrame(schema=schema)
    return frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()]
    )


def indicator_rows(
    provider: str, source: str, series_id: str, observations: pl.DataFrame
) -> pl.DataFrame:
    """``observations`` (observation_date, value[, known_at]) labelled with the catalogue's metadata."""
    meta = spec(provider, series_id)
    return conform(
        observations.with_columns(
            provider=pl.lit(provider),
            source=pl.lit(source),
            series_id=pl.lit(series_id),
            name=pl.lit(meta.name if meta else series_id),
            unit=pl.lit(meta.unit if meta else ""),
            frequency=pl.lit(meta.frequency if meta else "D"),
            value=pl.col("value").cast(pl.Float64),
        ).filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan()),
        INDICATOR_FETCH_SCHEMA,
    )

"""The one interface every external source implements, and the offline (synthetic) fallback.

A source with a key calls its API; without one it serves what the demo generator wrote to
``<DSOP_EXTERNAL_DIR>`` and labels every row ``source='synthetic'``. The choice is per source and is
reported by ``mode()``, so the asset metadata always says which providers are real.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from pathlib import Path
from typing import ClassVar, Sequence

import dagster as dg
import polars as pl
from pydantic import Field

from dsop_resources.external.catalog import (
    FX_FETCH_SCHEMA,
    INDICATOR_FETCH_SCHEMA,
    TRADE_FETCH_SCHEMA,
    conform,
)
from dsop_resources.external.http import ExternalSourceError, RetryPolicy, SourceNotConfigured
from dsop_resources.settings import external_csv_dir


class ExternalSource(dg.ConfigurableResource, ABC):
    """``fetch(series, since)``: observations of ``series`` from ``since`` on (None = all history).

    For indicator sources the frame has ``INDICATOR_FETCH_SCHEMA``; for FRED ``since`` is also the
    vintage (realtime) start, so revisions published since then come back as new vintages.
    """

    provider: ClassVar[str]

    api_key: str | None = Field(
        default=None, description="API key (through dg.EnvVar); empty means serve the synthetic CSVs."
    )
    external_dir: str | None = Field(
        default=None, description="Folder of the synthetic/analyst CSVs; default DSOP_EXTERNAL_DIR."
    )

    def mode(self) -> str:
        return "api" if self.api_key else "synthetic"

    def csv_dir(self) -> Path:
        return Path(self.external_dir) if self.external_dir else external_csv_dir()

    def fetch(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        if self.mode() == "synthetic":
            return read_synthetic_indicators(self.csv_dir(), self.provider, series, since)
        return self.fetch_api(series, since)

    @abstractmethod
    def fetch_api(self, series: Sequence[str], since: date | None) -> pl.DataFrame: ...


class HttpSource(ExternalSource, ABC):
    """Connection settings shared by the sources we call with ``requests``."""

    base_url: str = Field(description="API root; tests point it at a local server.")
    timeout_seconds: float = 30.0
    max_retries: int = Field(default=4, description="Retries on 429/5xx/connection errors.")
    backoff_base_seconds: float = Field(default=1.0, description="First backoff; doubles per retry.")
    backoff_max_seconds: float = 60.0
    page_size: int = Field(default=1000, description="Rows per page on paginated APIs.")

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            self.timeout_seconds, self.max_retries, self.backoff_base_seconds, self.backoff_max_seconds
        )

    def root(self) -> str:
        return self.base_url.rstrip("/")


def _read_csv(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not path.exists():
        raise SourceNotConfigured(
            f"no API key is set and the synthetic file {path} does not exist; set the key or run the "
            "demo data generator"
        )
    raw = pl.read_csv(path, infer_schema=False)
    missing = [c for c in schema if c not in raw.columns and c not in ("source", "provider", "known_at")]
    if missing:
        raise ExternalSourceError(f"{path.name} lacks columns {missing}")
    return raw.with_columns(
        [
            pl.col(c).str.strip_chars().str.to_date("%Y-%m-%d", strict=True)
            if t == pl.Date
            else pl.col(c).cast(t)
            for c, t in schema.items()
            if c in raw.columns and c != "source"
        ]
    )


def read_synthetic_indicators(
    folder: Path, provider: str, series: Sequence[str], since: date | None
) -> pl.DataFrame:
    frame = _read_csv(folder / "economic_indicator.csv", INDICATOR_FETCH_SCHEMA)
    frame = frame.filter(pl.col("provider") == provider)
    if series:
        frame = frame.filter(pl.col("series_id").is_in(list(series)))
    if since:
        frame = frame.filter(pl.col("observation_date") >= since)
    return conform(frame.with_columns(source=pl.lit("synthetic")), INDICATOR_FETCH_SCHEMA)


def read_synthetic_fx(folder: Path, currencies: Sequence[str], since: date | None) -> pl.DataFrame:
    frame = _read_csv(folder / "exchange_rate.csv", FX_FETCH_SCHEMA)
    frame = frame.filter(pl.col("currency").is_in(list(currencies)))
    if since:
        frame = frame.filter(pl.col("rate_date") >= since)
    if "known_at" not in frame.columns:
        frame = frame.with_columns(known_at=pl.col("rate_date"))
    return conform(
        frame.with_columns(source=pl.lit("synthetic"), provider=pl.lit("ecos")), FX_FETCH_SCHEMA
    )


def read_synthetic_trade(folder: Path, hs_codes: Sequence[str], since: date | None) -> pl.DataFrame:
    frame = _read_csv(folder / "trade_statistics.csv", TRADE_FETCH_SCHEMA)
    frame = frame.filter(pl.col("hs_code").is_in(list(hs_codes)))
    if since:
        frame = frame.filter(pl.col("period_month") >= since)
    return conform(frame.with_columns(source=pl.lit("synthetic")), TRADE_FETCH_SCHEMA)

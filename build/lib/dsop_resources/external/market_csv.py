"""Analyst-maintained ``market_prices.csv``: market series with no free API (SOX, DRAM/NAND spot, ...).

Columns ``series_id,observation_date,value[,known_at][,source]``. Validated like ERP exports: a bad
row is rejected with file, line and reason and the valid rows still load. Without ``known_at`` a row
is dated by the series' publication lag (catalogue), and ``source`` defaults to ``analyst_csv``.
Without the file, the synthetic ``economic_indicator.csv`` rows of provider ``market`` are served.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar, Sequence

import polars as pl
from pydantic import Field

from dsop_resources.external.base import ExternalSource, read_synthetic_indicators
from dsop_resources.external.catalog import INDICATOR_FETCH_SCHEMA, conform, series_for, spec
from dsop_resources.external.http import ExternalSourceError

MARKET_FILE = "market_prices.csv"
REQUIRED = ("series_id", "observation_date", "value")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")


@dataclass
class MarketLoad:
    frame: pl.DataFrame
    rejected: list[dict[str, object]] = field(default_factory=list)


class AnalystCsvSource(ExternalSource):
    """Market series from ``<DSOP_EXTERNAL_DIR>/market_prices.csv`` (no key; the file is the switch)."""

    provider: ClassVar[str] = "market"
    file_name: str = Field(default=MARKET_FILE, description="Analyst CSV inside the external folder.")

    def path(self) -> Path:
        return self.csv_dir() / self.file_name

    def mode(self) -> str:
        return "analyst_csv" if self.path().exists() else "synthetic"

    def fetch(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        return self.load(series, since).frame

    def load(self, series: Sequence[str], since: date | None) -> MarketLoad:
        if self.mode() == "synthetic":
            return MarketLoad(read_synthetic_indicators(self.csv_dir(), "market", series, since))
        result = parse_market_prices(self.path())
        frame = result.frame
        if series:
            frame = frame.filter(pl.col("series_id").is_in(list(series)))
        if since:
            frame = frame.filter(pl.col("observation_date") >= since)
        return MarketLoad(frame, result.rejected)

    def fetch_api(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        return self.fetch(series, since)


def parse_market_prices(path: Path) -> MarketLoad:
    """Every valid row as ``INDICATOR_FETCH_SCHEMA``; every invalid one as {file, line, reason}."""
    text = _decode(path.read_bytes())
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ExternalSourceError(
            f"{path.name}: missing required column(s) {missing}; header is {header}"
        )
    known_series = {s.series_id for s in series_for("market")}
    rows, rejected, seen = [], [], set()
    for line, raw in enumerate(reader, start=2):
        record = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        if not any(record.values()):
            continue
        try:
            row = _validate(record, known_series)
        except ValueError as reason:
            rejected.append({"file": path.name, "line": line, "reason": str(reason)})
            continue
        key = (row["series_id"], row["observation_date"], row["known_at"])
        if key in seen:
            rejected.append({"file": path.name, "line": line, "reason": "duplicate of an earlier row"})
            continue
        seen.add(key)
        rows.append(row)
    frame = pl.DataFrame(
        rows,
        schema={
            "series_id": pl.String,
            "observation_date": pl.Date,
            "value": pl.Float64,
            "known_at": pl.Date,
            "source": pl.String,
        },
        orient="row",
    )
    catalog = pl.DataFrame(
        [
            {"series_id": s.series_id, "name": s.name, "unit": s.unit, "frequency": s.frequency}
            for s in series_for("market")
        ]
    )
    frame = frame.join(catalog, on="series_id", how="left").with_columns(provider=pl.lit("market"))
    return MarketLoad(conform(frame, INDICATOR_FETCH_SCHEMA), rejected)


def _validate(record: dict[str, str], known_series: set[str]) -> dict[str, object]:
    series_id = record.get("series_id", "")
    if series_id not in known_series:
        raise ValueError(f"unknown series_id {series_id!r}; expected one of {sorted(known_series)}")
    observed = _date(record.get("observation_date", ""), "observation_date")
    if spec("market", series_id).frequency == "M":
        observed = observed.replace(day=1)
    value_text = record.get("value", "").replace(",", "")
    if not value_text:
        raise ValueError("value is empty")
    try:
        value = float(value_text)
    except ValueError:
        raise ValueError(f"value {record['value']!r} is not a number") from None
    if value != value:
        raise ValueError("value is NaN")
    known_at = _date(record["known_at"], "known_at") if record.get("known_at") else None
    if known_at is not None and known_at < observed:
        raise ValueError(f"known_at {known_at} is before observation_date {observed}")
    return {
        "series_id": series_id,
        "observation_date": observed,
        "value": value,
        "known_at": known_at,
        "source": record.get("source") or "analyst_csv",
    }


def _date(text: str, column: str) -> date:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{column} {text!r} is not a date (YYYY-MM-DD)")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp949")

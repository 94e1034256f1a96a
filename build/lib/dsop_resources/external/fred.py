"""FRED/ALFRED through ``fredapi``, keeping every vintage: ``realtime_start`` becomes ``known_at``.

fredapi builds the URLs and parses the XML; its transport (bare ``urlopen``, no retries, the key in
error text) is swapped for the shared helper by overriding its private fetch method.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from typing import ClassVar, Sequence

import polars as pl
from pydantic import Field

from dsop_resources.external import http
from dsop_resources.external.base import HttpSource
from dsop_resources.external.catalog import INDICATOR_FETCH_SCHEMA, conform, indicator_rows

FRED_ROOT = "https://api.stlouisfed.org/fred"


def _fred_client(api_key: str, root_url: str, fetch_xml):
    # Imported here: fredapi loads pandas (~1 s), which only a FRED fetch needs.
    from fredapi import Fred

    class _Fred(Fred):
        def __init__(self):
            super().__init__(api_key=api_key, api_key_file=None)
            self.root_url = root_url

        def _Fred__fetch_data(self, url):  # noqa: N802 - overrides fredapi's name-mangled private method
            return fetch_xml(url)

    return _Fred()


class FredSource(HttpSource):
    """FRED series as all ALFRED vintages since ``since`` (key: ``FRED_API_KEY``)."""

    provider: ClassVar[str] = "fred"
    base_url: str = Field(default=FRED_ROOT, description="FRED API root (fredapi's root_url).")

    def fetch_api(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        client = _fred_client(self.api_key or "", self.root(), self._fetch_xml)
        frames = []
        for series_id in series:
            realtime_start = since.isoformat() if since else None
            releases = client.get_series_all_releases(series_id, realtime_start=realtime_start)
            frames.append(indicator_rows("fred", "api", series_id, _to_polars(releases)))
        return pl.concat(frames) if frames else conform(pl.DataFrame(), INDICATOR_FETCH_SCHEMA)

    def _fetch_xml(self, url: str) -> ET.Element:
        secrets = (self.api_key,)
        try:
            response = http.get(
                url,
                source="FRED",
                params={"api_key": self.api_key},
                policy=self.policy(),
                secrets=secrets,
            )
        except http.HttpStatusError as error:
            message = _error_message(error.body)
            # FRED answers a bad key with 400 rather than 401/403.
            if "api_key" in message:
                raise http.AuthenticationError(f"FRED rejected the key: {message}") from None
            raise http.ExternalSourceError(f"FRED: HTTP {error.status}: {message}") from None
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as error:
            raise http.MalformedResponseError(f"FRED: response is not valid XML ({error})") from None
        if root.tag != "observations":
            raise http.ResponseShapeError(
                f"FRED: expected <observations>, got <{root.tag}>; the API format may have changed"
            )
        for child in root:
            if (
                child.get("date") is None
                or child.get("value") is None
                or child.get("realtime_start") is None
            ):
                raise http.ResponseShapeError("FRED: an observation lacks date/value/realtime_start")
        return root


def _error_message(body: str) -> str:
    try:
        return ET.fromstring(body).get("message") or body
    except ET.ParseError:
        return body


def _to_polars(releases) -> pl.DataFrame:
    """fredapi's pandas frame (date, realtime_start, value; '.' already NaN) to a Polars frame."""
    if releases is None or len(releases) == 0 or "date" not in releases.columns:
        return pl.DataFrame(
            schema={"observation_date": pl.Date, "known_at": pl.Date, "value": pl.Float64}
        )
    import pandas as pd  # a fredapi frame is here, so pandas is already loaded

    return pl.DataFrame(
        {
            "observation_date": [d.date() for d in releases["date"]],
            "known_at": [d.date() for d in releases["realtime_start"]],
            # fredapi turns "." into NaN, which pandas' transpose may turn into NaT: both are missing.
            "value": [None if pd.isna(v) else float(v) for v in releases["value"]],
        },
        schema={"observation_date": pl.Date, "known_at": pl.Date, "value": pl.Float64},
    )

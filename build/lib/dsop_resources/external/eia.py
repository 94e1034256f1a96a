"""EIA API v2: WTI spot (``petroleum/pri/spt/data``, facet ``series=RWTC``), paged by offset/length.

EIA keeps no vintages, so rows come back with ``known_at`` null and the asset dates them.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, ClassVar, Sequence

import polars as pl
from pydantic import Field

from dsop_resources.external import http
from dsop_resources.external.base import HttpSource
from dsop_resources.external.catalog import INDICATOR_FETCH_SCHEMA, conform, indicator_rows

EIA_ROOT = "https://api.eia.gov/v2"
_ROUTE = "petroleum/pri/spt/data/"


class EiaSource(HttpSource):
    """EIA v2 spot prices (key: ``EIA_API_KEY``)."""

    provider: ClassVar[str] = "eia"
    base_url: str = Field(default=EIA_ROOT, description="EIA API v2 root.")
    page_size: int = Field(default=5000, description="EIA returns at most 5000 rows per page.")

    def fetch_api(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        frames = [self._fetch_one(s, since) for s in series]
        return pl.concat(frames) if frames else conform(pl.DataFrame(), INDICATOR_FETCH_SCHEMA)

    def _fetch_one(self, series_id: str, since: date | None) -> pl.DataFrame:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            params: dict[str, Any] = {
                "api_key": self.api_key,
                "frequency": "daily",
                "data[0]": "value",
                "facets[series][]": series_id,
                "sort[0][column]": "period",
                "sort[0][direction]": "asc",
                "offset": offset,
                "length": self.page_size,
            }
            if since:
                params["start"] = since.isoformat()
            page = self._get(params)
            data = http.require(page, ("response", "data"), source="EIA")
            total = int(http.require(page, ("response", "total"), source="EIA"))
            for row in data:
                if "period" not in row or "value" not in row:
                    raise http.ResponseShapeError("EIA: a data row lacks 'period' or 'value'")
                rows.append({"observation_date": row["period"], "value": row["value"]})
            offset += len(data)
            if not data or offset >= total:
                break
        observations = pl.DataFrame(
            rows, schema={"observation_date": pl.String, "value": pl.String}, orient="row"
        ).with_columns(
            pl.col("observation_date").str.to_date("%Y-%m-%d"),
            pl.col("value").cast(pl.Float64, strict=False),
        )
        return indicator_rows("eia", "api", series_id, observations)

    def _get(self, params: dict[str, Any]) -> dict[str, Any]:
        secrets = (self.api_key,)
        try:
            response = http.get(
                f"{self.root()}/{_ROUTE}",
                source="EIA",
                params=params,
                policy=self.policy(),
                secrets=secrets,
            )
        except http.HttpStatusError as error:
            raise _envelope_error(error.body, secrets) or error from None
        body = http.parse_json(response, source="EIA", secrets=secrets)
        if isinstance(body, dict) and "error" in body:
            raise _envelope_error(response.text, secrets) or http.ExternalSourceError(
                "EIA: error envelope"
            )
        return body


def _envelope_error(text: str, secrets) -> http.ExternalSourceError | None:
    """EIA (and api.data.gov in front of it) answer errors as ``{"error": ...}``."""
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return None
    if error is None:
        return None
    code = error.get("code", "") if isinstance(error, dict) else ""
    message = http.redact(
        str(error.get("message", error) if isinstance(error, dict) else error), secrets
    )
    if "API_KEY" in str(code).upper() or "api_key" in message.lower():
        return http.AuthenticationError(f"EIA rejected the key: {message}")
    return http.ExternalSourceError(f"EIA: {message}")

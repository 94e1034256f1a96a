"""Bank of Korea ECOS Open API ``StatisticSearch``: monthly indicators and daily won exchange rates.

URL shape: ``{base}/StatisticSearch/{key}/json/kr/{first_row}/{last_row}/{stat}/{cycle}/{from}/{to}/{item}``.
The key sits in the URL path, so errors are redacted. Errors come as ``{"RESULT": {"CODE", "MESSAGE"}}``
(``INFO-100`` = bad key, ``INFO-200`` = no data). ECOS keeps no vintages: ``known_at`` is left null
for indicators and set to the rate date for exchange rates (published the same morning).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Sequence

import polars as pl
from pydantic import Field

from dsop_resources.external import http
from dsop_resources.external.base import HttpSource, read_synthetic_fx
from dsop_resources.external.catalog import (
    FX_FETCH_SCHEMA,
    FX_ITEMS,
    FX_STAT_CODE,
    INDICATOR_FETCH_SCHEMA,
    conform,
    indicator_rows,
    spec,
)

ECOS_ROOT = "https://ecos.bok.or.kr/api"
_AUTH_CODES = {"INFO-100"}
_NO_DATA = "INFO-200"


class EcosSource(HttpSource):
    """ECOS statistics (key: ``ECOS_API_KEY``); ``item_codes`` overrides the catalogue's items."""

    provider: ClassVar[str] = "ecos"
    base_url: str = Field(default=ECOS_ROOT, description="ECOS Open API root.")
    item_codes: dict[str, str] = Field(
        default_factory=dict, description="stat code -> item code, to override the catalogue."
    )

    def fetch_api(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        frames = []
        for stat_code in series:
            meta = spec("ecos", stat_code)
            item = self.item_codes.get(stat_code) or (meta.item_code if meta else "")
            cycle = meta.frequency if meta else "M"
            rows = self.statistic_search(stat_code, cycle, item, since or date(2000, 1, 1), date.today())
            observations = pl.DataFrame(
                {
                    "observation_date": [_period(r["TIME"], cycle) for r in rows],
                    "value": [_number(r["DATA_VALUE"]) for r in rows],
                },
                schema={"observation_date": pl.Date, "value": pl.Float64},
            )
            frames.append(indicator_rows("ecos", "api", stat_code, observations))
        return pl.concat(frames) if frames else conform(pl.DataFrame(), INDICATOR_FETCH_SCHEMA)

    def fetch_exchange_rates(self, currencies: Sequence[str], since: date | None) -> pl.DataFrame:
        """KRW per ONE unit of each currency by day (weekdays only: filling is the asset's job)."""
        if self.mode() == "synthetic":
            return read_synthetic_fx(self.csv_dir(), currencies, since)
        frames = []
        for currency in currencies:
            item, per_units = FX_ITEMS[currency]
            rows = self.statistic_search(
                FX_STAT_CODE, "D", item, since or date(2000, 1, 1), date.today()
            )
            rate_dates = [_period(r["TIME"], "D") for r in rows]
            frames.append(
                pl.DataFrame(
                    {
                        "rate_date": rate_dates,
                        "currency": currency,
                        "krw_per_unit": [_number(r["DATA_VALUE"]) for r in rows],
                        "source": "api",
                        "provider": "ecos",
                        "known_at": rate_dates,
                    },
                    schema=FX_FETCH_SCHEMA,
                ).with_columns(pl.col("krw_per_unit") / per_units)
            )
        frame = pl.concat(frames) if frames else pl.DataFrame(schema=FX_FETCH_SCHEMA)
        return conform(frame.filter(pl.col("krw_per_unit").is_not_null()), FX_FETCH_SCHEMA)

    def statistic_search(
        self, stat_code: str, cycle: str, item: str, start: date, end: date
    ) -> list[dict[str, Any]]:
        """Every row of one statistic/item between two dates, page by page."""
        fmt = "%Y%m%d" if cycle == "D" else "%Y%m"
        rows: list[dict[str, Any]] = []
        first = 1
        while True:
            last = first + self.page_size - 1
            url = (
                f"{self.root()}/StatisticSearch/{self.api_key}/json/kr/{first}/{last}/{stat_code}/"
                f"{cycle}/{start.strftime(fmt)}/{end.strftime(fmt)}/{item}"
            )
            body = self._get(url)
            if body is None:
                break
            page = http.require(body, ("StatisticSearch", "row"), source="ECOS")
            total = int(http.require(body, ("StatisticSearch", "list_total_count"), source="ECOS"))
            for row in page:
                if "TIME" not in row or "DATA_VALUE" not in row:
                    raise http.ResponseShapeError("ECOS: a row lacks 'TIME' or 'DATA_VALUE'")
            rows.extend(page)
            first = last + 1
            if not page or len(rows) >= total:
                break
        return rows

    def _get(self, url: str) -> dict[str, Any] | None:
        secrets = (self.api_key,)
        response = http.get(url, source="ECOS", policy=self.policy(), secrets=secrets)
        body = http.parse_json(response, source="ECOS", secrets=secrets)
        if not isinstance(body, dict):
            raise http.ResponseShapeError("ECOS: expected a JSON object")
        result = body.get("RESULT") or (body.get("StatisticSearch") or {}).get("RESULT")
        if result and "row" not in body.get("StatisticSearch", {}):
            code = str(result.get("CODE", ""))
            message = http.redact(str(result.get("MESSAGE", "")), secrets)
            if code == _NO_DATA:
                return None
            if code in _AUTH_CODES:
                raise http.AuthenticationError(f"ECOS rejected the key ({code}: {message})")
            raise http.ExternalSourceError(f"ECOS error {code}: {message}")
        return body


def _period(text: str, cycle: str) -> date:
    text = str(text)
    if cycle == "D":
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    if cycle == "M":
        return date(int(text[:4]), int(text[4:6]), 1)
    raise ValueError(f"unsupported ECOS cycle {cycle!r}")


def _number(text: Any) -> float | None:
    try:
        return float(str(text).replace(",", ""))
    except (TypeError, ValueError):
        return None

"""Korea Customs Service trade statistics by HS code, from the public data portal (data.go.kr).

Endpoint modelled: ``{base}/nitemtrade/getNitemtradeList?serviceKey&strtYymm&endYymm&hsSgn`` (관세청
품목별 국가별 수출입실적). It answers XML (JSON also accepted): ``response/header/resultCode`` ``00`` =
normal; items carry ``year`` ("2024.01"; total rows say "총계"), ``hsCd``, ``expDlr`` and ``impDlr``
(USD). Rows come per 10-digit code and partner country, so they are summed per month. A request may
span at most 12 months. Portal-level errors come as ``OpenAPI_ServiceResponse/cmmMsgHeader``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date
from typing import Any, ClassVar, Sequence

import polars as pl
from pydantic import Field

from dsop_resources.external import http
from dsop_resources.external.base import HttpSource, read_synthetic_trade
from dsop_resources.external.catalog import TRADE_FETCH_SCHEMA, conform

CUSTOMS_ROOT = "https://apis.data.go.kr/1220000"
_AUTH_MESSAGES = ("SERVICE_KEY", "NOT_REGISTERED", "UNAUTHORIZED", "DEADLINE_HAS_EXPIRED")


class CustomsSource(HttpSource):
    """Monthly exports/imports per HS code in USD (key: ``CUSTOMS_API_KEY``, the portal's decoded key)."""

    provider: ClassVar[str] = "customs"
    base_url: str = Field(default=CUSTOMS_ROOT, description="data.go.kr customs API root.")

    def fetch(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        """``series`` are HS codes; the frame has ``TRADE_FETCH_SCHEMA`` (known_at null from the API)."""
        if self.mode() == "synthetic":
            return read_synthetic_trade(self.csv_dir(), series, since)
        return self.fetch_api(series, since)

    def fetch_api(self, series: Sequence[str], since: date | None) -> pl.DataFrame:
        start = (since or date(2015, 1, 1)).replace(day=1)
        today = date.today()
        totals: dict[tuple[date, str, str], float] = defaultdict(float)
        for hs_code in series:
            for first, last in _year_windows(start, today):
                for item in self._items(hs_code, first, last):
                    month = _month(item.get("year"))
                    if month is None or item.get("hsCd", "").strip() in ("", "-"):
                        continue  # total rows repeat the sum of the detail rows
                    if not first <= month <= last:
                        continue  # never count a month twice if the portal ignores the window
                    totals[(month, hs_code, "export")] += _usd(item.get("expDlr"))
                    totals[(month, hs_code, "import")] += _usd(item.get("impDlr"))
        frame = pl.DataFrame(
            [
                {
                    "period_month": m,
                    "hs_code": h,
                    "flow": f,
                    "value_usd": v,
                    "source": "api",
                    "known_at": None,
                }
                for (m, h, f), v in sorted(totals.items())
            ],
            schema=TRADE_FETCH_SCHEMA,
            orient="row",
        )
        return conform(frame, TRADE_FETCH_SCHEMA)

    def _items(self, hs_code: str, first: date, last: date) -> list[dict[str, str]]:
        secrets = (self.api_key,)
        params = {
            "serviceKey": self.api_key,
            "strtYymm": first.strftime("%Y%m"),
            "endYymm": last.strftime("%Y%m"),
            "hsSgn": hs_code,
        }
        url = f"{self.root()}/nitemtrade/getNitemtradeList"
        response = http.get(url, source="customs", params=params, policy=self.policy(), secrets=secrets)
        text = response.text.lstrip()
        if text.startswith("{"):
            return _items_from_json(
                http.parse_json(response, source="customs", secrets=secrets), secrets
            )
        return _items_from_xml(text, secrets)


def _items_from_xml(text: str, secrets) -> list[dict[str, str]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise http.MalformedResponseError(
            f"customs: response is neither JSON nor valid XML ({error})"
        ) from None
    if root.tag == "OpenAPI_ServiceResponse":
        header = {child.tag: (child.text or "") for child in root.iter()}
        _raise_portal_error(header.get("returnAuthMsg", ""), header.get("returnReasonCode", ""), secrets)
    code = root.findtext("header/resultCode")
    if code is None or root.find("body") is None:
        raise http.ResponseShapeError("customs: response lacks header/resultCode or body")
    _check_result(code, root.findtext("header/resultMsg") or "", secrets)
    return [
        {child.tag: (child.text or "") for child in item} for item in root.iterfind("body/items/item")
    ]


def _items_from_json(body: Any, secrets) -> list[dict[str, str]]:
    if isinstance(body, dict) and "OpenAPI_ServiceResponse" in body:
        header = body["OpenAPI_ServiceResponse"].get("cmmMsgHeader", {})
        _raise_portal_error(header.get("returnAuthMsg", ""), header.get("returnReasonCode", ""), secrets)
    code = http.require(body, ("response", "header", "resultCode"), source="customs")
    _check_result(str(code), str(body["response"]["header"].get("resultMsg", "")), secrets)
    items = http.require(body, ("response", "body"), source="customs").get("items") or {}
    item = items.get("item", []) if isinstance(items, dict) else []
    rows = item if isinstance(item, list) else [item]
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


def _raise_portal_error(auth_message: str, reason: str, secrets) -> None:
    message = http.redact(f"{auth_message} (reason code {reason})", secrets)
    if any(word in auth_message.upper() for word in _AUTH_MESSAGES):
        raise http.AuthenticationError(f"customs: the data portal rejected the key: {message}")
    raise http.ExternalSourceError(f"customs: data portal error {message}")


def _check_result(code: str, message: str, secrets) -> None:
    if code.strip() in ("00", "0", "000"):
        return
    if code.strip() in ("30", "31", "32") or "KEY" in message.upper():
        raise http.AuthenticationError(
            f"customs rejected the key ({code}: {http.redact(message, secrets)})"
        )
    raise http.ExternalSourceError(f"customs error {code}: {http.redact(message, secrets)}")


def _year_windows(start: date, end: date) -> list[tuple[date, date]]:
    windows = []
    current = start
    while current <= end:
        last = date(current.year + (current.month + 10) // 12, (current.month + 10) % 12 + 1, 1)
        last = min(last, end.replace(day=1))
        windows.append((current, last))
        current = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return windows


def _month(text: str | None) -> date | None:
    try:
        year, month = str(text).strip().split(".")[:2]
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        return None


def _usd(text: str | None) -> float:
    try:
        return float(str(text).replace(",", "")) if text not in (None, "") else 0.0
    except ValueError:
        return 0.0

"""External indicators: FX rates, macro/market indicators and customs trade statistics.

Assets: ``exchange_rate``, ``economic_indicator``, ``trade_statistics`` (group ``external``).
Point-in-time readers for feature stores: ``indicators_as_of``, ``growth_as_of``, ``krw_rate_as_of``.
"""

from __future__ import annotations

from dsop_assets.external.assets import (
    ExternalRefreshConfig,
    economic_indicator,
    exchange_rate,
    external_assets,
    trade_statistics,
)
from dsop_assets.external.point_in_time import growth_as_of, indicators_as_of, krw_rate_as_of

__all__ = [
    "ExternalRefreshConfig",
    "economic_indicator",
    "exchange_rate",
    "external_assets",
    "growth_as_of",
    "indicators_as_of",
    "krw_rate_as_of",
    "trade_statistics",
]

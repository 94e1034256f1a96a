"""Clients of external indicator sources, each a ``dg.ConfigurableResource`` with ``fetch(series, since)``.

Without its key a source serves the synthetic CSVs in ``DSOP_EXTERNAL_DIR`` (labelled ``synthetic``).
"""

from __future__ import annotations

import os

import dagster as dg

from dsop_resources.external.base import ExternalSource, HttpSource
from dsop_resources.external.customs import CustomsSource
from dsop_resources.external.ecos import EcosSource
from dsop_resources.external.eia import EiaSource
from dsop_resources.external.fred import FredSource
from dsop_resources.external.http import (
    AuthenticationError,
    ExternalSourceError,
    MalformedResponseError,
    ResponseShapeError,
    RetriesExhaustedError,
    SourceNotConfigured,
)
from dsop_resources.external.market_csv import AnalystCsvSource

KEY_VARIABLES = {
    "fred": "FRED_API_KEY",
    "eia": "EIA_API_KEY",
    "ecos": "ECOS_API_KEY",
    "customs": "CUSTOMS_API_KEY",
}


def _key(variable: str) -> dg.EnvVar | None:
    # An unset dg.EnvVar fails the run at launch; an unset key must mean "offline", not "broken".
    return dg.EnvVar(variable) if os.getenv(variable) else None


def external_resources(external_dir: str | None = None) -> dict[str, ExternalSource]:
    """Resource entries for the Definitions: keys resolved through dg.EnvVar only when they are set.

    ``external_dir`` overrides DSOP_EXTERNAL_DIR (the analyst CSVs and the demo's synthetic series).
    """
    return {
        "fred": FredSource(api_key=_key(KEY_VARIABLES["fred"]), external_dir=external_dir),
        "eia": EiaSource(api_key=_key(KEY_VARIABLES["eia"]), external_dir=external_dir),
        "ecos": EcosSource(api_key=_key(KEY_VARIABLES["ecos"]), external_dir=external_dir),
        "customs": CustomsSource(api_key=_key(KEY_VARIABLES["customs"]), external_dir=external_dir),
        "market_csv": AnalystCsvSource(external_dir=external_dir),
    }


__all__ = [
    "AnalystCsvSource",
    "AuthenticationError",
    "CustomsSource",
    "EcosSource",
    "EiaSource",
    "ExternalSource",
    "ExternalSourceError",
    "SourceNotConfigured",
    "FredSource",
    "HttpSource",
    "KEY_VARIABLES",
    "MalformedResponseError",
    "ResponseShapeError",
    "RetriesExhaustedError",
    "external_resources",
]

"""The one config style of the plan, purchase and risk settings: a Dagster ``Config`` (pydantic).

A ``dg.Config`` is what the launchpad shows and edits, and it is a frozen pydantic model, so the
domain functions take it as a plain value object: ``plan_production(..., PlanConfig(horizon_weeks=8))``
needs no Dagster context. Unknown keys raise (``extra="forbid"``) so a typo cannot silently leave a
default in force; each class checks its own rules in a ``model_validator``.
"""

from __future__ import annotations

from typing import Any, Self

import dagster as dg
from pydantic import ConfigDict


class DsopConfig(dg.Config):
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def from_dict(cls, overrides: dict[str, Any] | None = None) -> Self:
        """Defaults with ``overrides`` applied and validated (a ValueError names any bad key or value)."""
        return cls(**dict(overrides or {}))

    def overrides(self) -> dict[str, Any]:
        """The fields that differ from the class defaults (to merge a run's config over a file's)."""
        default = type(self)()
        return {k: v for k, v in self.model_dump().items() if getattr(default, k) != v}

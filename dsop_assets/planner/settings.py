"""Where the planner's files live (documented in docs/planner.md; no secrets here)."""

from __future__ import annotations

import os
from pathlib import Path

from dsop_assets.planner.texts import LANGUAGES


def report_dir() -> Path:
    return Path(os.getenv("DSOP_REPORT_DIR", "data/reports")) / "weekly"


def action_drop_dir() -> Path:
    """Planners drop ``action_status*.csv`` here; the action_status sensor loads new or changed files."""
    return Path(os.getenv("DSOP_ACTION_DROP_DIR", "data/planner_inbox"))


def report_languages(value: str | None = None) -> tuple[str, ...]:
    text = value if value is not None else os.getenv("DSOP_REPORT_LANGUAGES", "ko,en")
    chosen = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in chosen if x not in LANGUAGES]
    if unknown or not chosen:
        raise ValueError(f"report languages must be a comma-separated subset of {','.join(LANGUAGES)}, not {text!r}")
    return chosen

"""Tiny demo data sets, generated once per session (a few seconds each)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dsop_jobs.demo_data.generator import generate

END = date(2026, 11, 22)


def make(root: Path, **kw) -> tuple[Path, dict]:
    out = root / "data"
    return out, generate(out, scale="tiny", seed=7, end_date=END, **kw)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    return make(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_bad(tmp_path_factory) -> tuple[Path, dict]:
    return make(tmp_path_factory.mktemp("tiny_bad"), inject_errors=True)

"""A private copy of the shared tiny pipeline's warehouse (the planner assets write to it)."""

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from dsop_resources import DuckDBWarehouse

WEEK = date(2025, 6, 23)  # the tiny pipeline's last decision week
PREVIOUS = date(2025, 6, 16)


@pytest.fixture
def planner_warehouse(tiny_pipeline, tmp_path: Path) -> DuckDBWarehouse:
    copy = tmp_path / "planner.duckdb"
    shutil.copyfile(tiny_pipeline.warehouse.path, copy)
    return DuckDBWarehouse(path=str(copy))


@pytest.fixture
def planner_env(monkeypatch, tmp_path: Path) -> Path:
    """Report and drop folders inside the test's own directory."""
    monkeypatch.setenv("DSOP_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("DSOP_ACTION_DROP_DIR", str(tmp_path / "inbox"))
    (tmp_path / "inbox").mkdir()
    return tmp_path


def materialize(assets, warehouse, instance, partition_key=None, **resources) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, partition_key=partition_key, instance=instance,
                          resources={"warehouse": warehouse, **resources})

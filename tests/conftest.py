import os
from pathlib import Path

import pytest

# Every test gets an isolated instance; nothing may touch the user's DAGSTER_HOME or warehouse.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from dsop_resources import DuckDBWarehouse  # noqa: E402


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))


@pytest.fixture(scope="session")
def instance():
    """One ephemeral Dagster instance for the session: creating one costs ~0.6 s of migrations."""
    import dagster as dg

    with dg.DagsterInstance.ephemeral() as shared:
        yield shared


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory, instance):
    from tests.pipeline_fixture import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny_pipeline"), instance)

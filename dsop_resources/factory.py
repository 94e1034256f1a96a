"""Resources per deployment, chosen at load time by ``DSOP_WAREHOUSE`` (duckdb default, postgres)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from dsop_resources import settings
from dsop_resources.duckdb_warehouse import DuckDBWarehouse
from dsop_resources.erp_files import ErpExportFolder
from dsop_resources.external import external_resources


def warehouse_resource() -> dg.ConfigurableResource:
    if settings.warehouse_kind() == "postgres":
        from dsop_resources.postgres_warehouse import PostgresWarehouse

        # The URL can hold a password: resolved at launch, hidden in the UI and metadata.
        return PostgresWarehouse(url=dg.EnvVar("DSOP_POSTGRES_URL"), schema=os.getenv("DSOP_POSTGRES_SCHEMA", "dsop"))
    return DuckDBWarehouse(path=settings.duckdb_path(), publish_path=settings.duckdb_read_path(),
                           memory_limit=settings.duckdb_memory_limit())


def core_resources(erp_dir: str | None = None, warehouse: dg.ConfigurableResource | None = None) -> dict[str, object]:
    """All resources; tests pass their own ERP folder (its external/ holds the indicator files)."""
    external_dir = str(Path(erp_dir) / "external") if erp_dir else None
    return {
        "warehouse": warehouse or warehouse_resource(),
        "erp": ErpExportFolder(erp_dir=erp_dir or str(settings.erp_dir()), column_mapping=os.getenv("DSOP_COLUMN_MAPPING")),
        **external_resources(external_dir),
    }

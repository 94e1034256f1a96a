"""Resources per deployment, chosen at load time by ``DSOP_WAREHOUSE`` (duckdb default, postgres)."""

from __future__ import annotations

import os

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
    return DuckDBWarehouse(path=settings.duckdb_path(), publish_path=settings.duckdb_read_path())


def core_resources() -> dict[str, object]:
    return {
        "warehouse": warehouse_resource(),
        "erp": ErpExportFolder(erp_dir=str(settings.erp_dir()), column_mapping=os.getenv("DSOP_COLUMN_MAPPING")),
        **external_resources(),
    }

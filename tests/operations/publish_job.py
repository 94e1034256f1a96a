"""A reconstructable job for test_read_copy: two raw tables, run by the multiprocess executor.

Paths come from the environment so every step process (a fresh interpreter) builds the same job.
"""

from __future__ import annotations

import os

import dagster as dg

from dsop_assets.erp.assets import raw_assets
from dsop_resources import DuckDBWarehouse
from dsop_resources.erp_files import ErpExportFolder

TABLES = ("customer", "daily_order")


def warehouse() -> DuckDBWarehouse:
    return DuckDBWarehouse(path=os.environ["DSOP_TEST_DB"], publish_path=os.environ["DSOP_TEST_PUBLISHED"])


def publish_job() -> dg.JobDefinition:
    assets = [a for a in raw_assets if a.key.to_user_string() in TABLES]
    defs = dg.Definitions(
        assets=assets,
        jobs=[dg.define_asset_job("two_tables", selection=list(TABLES))],
        resources={"warehouse": warehouse(), "erp": ErpExportFolder(erp_dir=os.environ["DSOP_TEST_ERP"])},
    )
    return defs.resolve_job_def("two_tables")

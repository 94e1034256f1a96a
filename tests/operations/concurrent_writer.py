"""One writer process for test_concurrency: the raw masters and one week of orders in a single run.

``python -m tests.operations.concurrent_writer ERP_DIR DB PUBLISHED WEEK MARKER_DIR NAME [OTHER]``.
A last step, after every write, marks that this run holds the warehouse and keeps it: until the
OTHER writer has been inside its own run for a while (so it really waits for the lock), then a
moment more, so the test can read the published copy while this run is mid-flight.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dagster as dg

from dsop_assets.erp.assets import raw_assets
from dsop_assets.partitions import weekly_partitions
from dsop_resources import DuckDBWarehouse, Warehouse
from dsop_resources.erp_files import ErpExportFolder

HOLD_SECONDS = 3.0
OTHER_WAITING_SECONDS = 2.0

TABLES = ("product_master", "customer", "supplier", "production_line", "bom", "daily_order")


def _stamp(path: Path, **extra) -> None:
    path.write_text(json.dumps({"at": time.time(), **extra}))


def main(erp_dir: str, db: str, published: str, week: str, marker_dir: str, name: str, other: str = "") -> None:
    markers = Path(marker_dir)

    @dg.asset(deps=["daily_order"], partitions_def=weekly_partitions)
    def hold(warehouse: Warehouse) -> None:
        _stamp(markers / f"{name}.holding")
        if other:
            deadline = time.time() + 60
            while not (markers / f"{other}.started").exists() and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(OTHER_WAITING_SECONDS)
        time.sleep(HOLD_SECONDS)

    selected = [a for a in raw_assets if a.key.to_user_string() in TABLES]
    warehouse = DuckDBWarehouse(path=db, publish_path=published, lock_timeout_seconds=60)
    with dg.DagsterInstance.ephemeral() as instance:
        _stamp(markers / f"{name}.started")
        result = dg.materialize(
            [*selected, hold],
            partition_key=week,
            resources={"warehouse": warehouse, "erp": ErpExportFolder(erp_dir=erp_dir)},
            instance=instance,
        )
    _stamp(markers / f"{name}.done", success=result.success)


if __name__ == "__main__":
    main(*sys.argv[1:])

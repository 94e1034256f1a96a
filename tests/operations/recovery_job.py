"""A one-step job in the dsop_warehouse pool, for test_recovery; also its code location.

``python -m tests.operations.recovery_job`` executes one run in the instance at DAGSTER_HOME. With
DSOP_TEST_HOLD set, the step writes DSOP_TEST_MARKER once it holds the pool slot, then waits to be
killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import dagster as dg

from dsop_assets.erp.assets import WAREHOUSE_POOL


@dg.asset(pool=WAREHOUSE_POOL)
def pooled_write() -> None:
    if os.getenv("DSOP_TEST_HOLD"):
        Path(os.environ["DSOP_TEST_MARKER"]).write_text(str(os.getpid()))
        time.sleep(600)


recovery_job = dg.define_asset_job("recovery_job", selection=[pooled_write])
defs = dg.Definitions(assets=[pooled_write], jobs=[recovery_job])


def job() -> dg.JobDefinition:
    return defs.resolve_job_def("recovery_job")


if __name__ == "__main__":
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(dg.reconstructable(job), instance,
                                run_config={"execution": {"config": {"in_process": {}}}})
        print(result.run_id)
        sys.exit(0 if result.success else 1)

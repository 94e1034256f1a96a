"""The analysts' copy is published once per run, after its last write, even under the multiprocess
executor: a reader polling it during a run sees exactly two states, the old one and the new one."""

from __future__ import annotations

import threading
import time

import dagster as dg
import duckdb

from dsop_assets.erp.assets import raw_assets
from dsop_jobs.automation import read_copy_publisher
from dsop_resources.erp_files import ErpExportFolder
from tests.erp.small_export import GOOD_ORDERS, MASTER_COLUMNS, MASTERS, ORDER_COLUMNS, write_csv, write_small_export
from tests.operations.publish_job import publish_job, warehouse

WEEK = "2024-12-30"


def _state(path) -> tuple | None:
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            customers = con.execute("select count(*) from customer").fetchone()[0]
            orders = tuple(r[0] for r in con.execute("select order_id from daily_order order by 1").fetchall())
    except (duckdb.IOException, duckdb.CatalogException):
        return None
    return customers, orders


def test_a_multiprocess_run_publishes_one_whole_copy_at_its_end(tmp_path, monkeypatch):
    erp, published = write_small_export(tmp_path / "erp"), tmp_path / "published.duckdb"
    for name, value in (("DSOP_TEST_DB", tmp_path / "w.duckdb"), ("DSOP_TEST_PUBLISHED", published), ("DSOP_TEST_ERP", erp)):
        monkeypatch.setenv(name, str(value))
    resources = {"warehouse": warehouse(), "erp": ErpExportFolder(erp_dir=str(erp))}
    (tmp_path / "home").mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "home")) as instance:
        masters = [a for a in raw_assets if a.key.to_user_string() in (*MASTERS, "production_line")]
        orders = next(a for a in raw_assets if a.key.to_user_string() == "daily_order")
        dg.materialize(masters, resources=resources, instance=instance)
        dg.materialize([orders], resources=resources, instance=instance, partition_key=WEEK)  # in-process: publishes
        old = _state(published)
        assert old == (2, ("O1", "O2"))

        # The new export: a third customer and a new order from them, loaded by two step processes.
        write_csv(erp / "customer.csv", MASTER_COLUMNS["customer"], [*MASTERS["customer"], ["C3", "Three", "KR"]])
        write_csv(erp / "daily_order.csv", ORDER_COLUMNS,
                  [*GOOD_ORDERS, ["O10", "2025-01-03", "C3", "P1", "4", "150", "KRW", "2025-01-20"]])
        seen, stop = [], threading.Event()

        def poll():
            while not stop.is_set():
                state = _state(published)
                if not seen or seen[-1] != state:
                    seen.append(state)
                time.sleep(0.01)

        reader = threading.Thread(target=poll)
        reader.start()
        try:
            with dg.execute_job(
                dg.reconstructable(publish_job), instance,
                run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 1}}}},
                tags={"dagster/partition": WEEK},
            ) as result:
                assert result.success
                run = result.dagster_run
                success = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records[0]
            assert seen == [old], "the copy changed during the run"
            # What the daemon does when the run ends: evaluate the run-status sensor for it.
            with dg.build_run_status_sensor_context(
                sensor_name="read_copy_publisher", dagster_event=success.event_log_entry.dagster_event,
                dagster_instance=instance, dagster_run=run, resources={"warehouse": warehouse()},
            ) as context:
                assert read_copy_publisher(context) is None  # published, not skipped
            deadline = time.time() + 5
            while len(seen) < 2 and time.time() < deadline:
                time.sleep(0.02)
        finally:
            stop.set()
            reader.join()
    assert seen == [old, (3, ("O1", "O10", "O2"))]

"""A backfill of N partitions is one run that reads each export once and writes each table once."""

import dagster as dg

from dsop_assets.erp.assets import raw_assets
from dsop_jobs.definitions import defs
from dsop_jobs.jobs import EXECUTOR
from dsop_resources import DuckDBWarehouse
from dsop_resources.erp_files import ErpExportFolder
from tests.erp.small_export import write_small_export

PARSED: list[str] = []
WRITTEN: list[str] = []


class CountingExportFolder(ErpExportFolder):
    def parse(self, table, known, scope=None):
        PARSED.append(table.name)
        return super().parse(table, known, scope)


class CountingWarehouse(DuckDBWarehouse):
    def write(self, table, frame, window=None, keys=None):
        WRITTEN.append(table)
        return super().write(table, frame, window, keys)


def test_every_partitioned_asset_backfills_in_a_single_run():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        # A chain of chunks that reads its own previous partition (the network plan) must run one
        # partition after another: a backfill of it is ordered runs by design.
        chained = any(k in graph.get(k).parent_keys for k in node.assets_def.keys)
        if node.partitions_def is not None and node.is_executable and not chained:
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key.to_user_string()


def test_a_range_run_reads_the_export_once_and_writes_the_table_once(tmp_path, instance):
    folder = write_small_export(tmp_path / "erp")
    by_name = {a.key.to_user_string(): a for a in raw_assets}
    masters = [by_name[n] for n in ("product_master", "customer", "supplier", "production_line", "bom")]
    resources = {"warehouse": CountingWarehouse(path=str(tmp_path / "w.duckdb")),
                 "erp": CountingExportFolder(erp_dir=str(folder))}
    dg.materialize(masters, resources=resources, instance=instance)
    PARSED.clear(), WRITTEN.clear()
    weeks = ["2024-12-16", "2024-12-23", "2024-12-30", "2025-01-06"]
    job = dg.define_asset_job("orders", selection=["daily_order"], executor_def=EXECUTOR)
    result = dg.Definitions(assets=[by_name["daily_order"], *masters], jobs=[job], resources=resources) \
        .resolve_job_def("orders").execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[-1]})
    assert result.success
    assert PARSED == ["daily_order"]
    assert WRITTEN.count("daily_order") == 1
    materialised = sorted(m.partition for m in result.asset_materializations_for_node("daily_order"))
    assert materialised == weeks  # still one materialisation per week for the UI

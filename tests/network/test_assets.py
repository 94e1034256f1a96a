import dagster as dg
import polars as pl

from dsop_assets.network.assets import network_facility, network_kpi, network_plan, network_rejected_rows
from dsop_assets.network.checker import RULES
from dsop_resources import DuckDBWarehouse
from dsop_resources.erp_files import ErpExportFolder


def test_chunks_run_in_order_and_rerun_idempotently(tiny_dir, tmp_path, instance):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    resources = {"warehouse": warehouse, "erp": ErpExportFolder(erp_dir=str(tiny_dir))}
    masters = [network_facility, network_rejected_rows]
    assert dg.materialize(masters, resources=resources, instance=instance).success
    # February before January fails: its chunk needs January's closing state.
    feb = dg.materialize([network_plan], resources=resources, instance=instance, partition_key="2025-02-01", raise_on_error=False)
    assert not feb.success
    for month in ("2025-01-01", "2025-02-01", "2025-02-01"):  # the re-run must replace, not add
        assert dg.materialize([network_plan], resources=resources, instance=instance, partition_key=month).success
    counts = warehouse.query("select count(*) as n, count(distinct chunk_start) as chunks from network_chunk").row(0)
    assert counts == (2, 2)
    dup = warehouse.query("select count(*) as n from (select ship_date, src, dst, mode, sku_id from network_shipment "
                          "group by all having count(*) > 1)")["n"][0]
    assert dup == 0
    result = dg.materialize([network_kpi], resources=resources, instance=instance)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert set(checks) == set(RULES)
    failed = {name for name, ok in checks.items() if not ok}
    # The start-up week only, proven out of reach for any plan (see test_plan): a warning, not an error.
    assert failed <= {"weekly_fill_95_unreachable"}, failed
    kpi = dict(warehouse.query("select metric, value from network_kpi").iter_rows())
    assert kpi["total_cost_usd"] > 0 and 0.9 < kpi["fill_rate"] <= 1.0

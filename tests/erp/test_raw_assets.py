import os
from datetime import date

import dagster as dg
import polars as pl

from dsop_assets.erp.assets import QUARANTINE_TABLE, raw_assets
from dsop_resources.erp_files import ErpExportFolder
from tests.erp.small_export import BAD_ORDERS, GOOD_ORDERS, write_csv, write_small_export

ASSETS = {a.key.to_user_string(): a for a in raw_assets}
MASTERS = [ASSETS[n] for n in ("product_master", "customer", "supplier", "production_line", "bom")]
WEEK = "2024-12-30"  # ISO 2025-W01: spans the year end


def _load(folder, warehouse, instance, partition_key=WEEK, assets=None):
    resources = {"warehouse": warehouse, "erp": ErpExportFolder(erp_dir=str(folder))}
    dg.materialize(MASTERS, resources=resources, instance=instance)
    return dg.materialize(assets or [ASSETS["daily_order"]], partition_key=partition_key, resources=resources, instance=instance)


def _orders(warehouse):
    return warehouse.query("select * from daily_order order by order_id")


def test_partition_load_keeps_only_the_partition_rows_and_quarantines_bad_ones(tmp_path, warehouse, instance):
    folder = write_small_export(tmp_path / "erp", bad_rows=True)
    result = _load(folder, warehouse, instance)
    orders = _orders(warehouse)
    in_week = [r[0] for r in GOOD_ORDERS if date(2024, 12, 30) <= date.fromisoformat(r[1]) < date(2025, 1, 6)]
    assert orders["order_id"].to_list() == sorted(in_week)
    rejected = warehouse.query(f"select * from {QUARANTINE_TABLE} where source_table = 'daily_order'")
    # All seven bad rows fall in this week or are undated, so this run reports every one.
    assert rejected.height == len(BAD_ORDERS)
    metadata = result.asset_materializations_for_node("daily_order")[0].metadata
    assert metadata["rejected_rows"].value == len(BAD_ORDERS)
    assert metadata["dagster/row_count"].value == len(in_week)


def test_loading_the_same_export_twice_gives_the_same_tables(tmp_path, warehouse, instance):
    folder = write_small_export(tmp_path / "erp", bad_rows=True)
    _load(folder, warehouse, instance)
    first_orders, first_rejected = _orders(warehouse), warehouse.read_table(QUARANTINE_TABLE).sort("line_number")
    _load(folder, warehouse, instance)
    assert _orders(warehouse).equals(first_orders)
    assert warehouse.read_table(QUARANTINE_TABLE).sort("line_number").equals(first_rejected)


def test_other_partitions_survive_a_reload(tmp_path, warehouse, instance):
    folder = write_small_export(tmp_path / "erp")
    _load(folder, warehouse, instance, partition_key="2024-12-23")
    _load(folder, warehouse, instance, partition_key=WEEK)
    _load(folder, warehouse, instance, partition_key="2025-01-06")
    assert _orders(warehouse)["order_id"].to_list() == ["O1", "O2", "O3", "O4"]


def test_corrected_re_export_replaces_what_it_covers(tmp_path, warehouse, instance):
    folder = write_small_export(tmp_path / "erp")
    _load(folder, warehouse, instance)
    inbox = folder / "inbox"
    inbox.mkdir()
    fix = inbox / "daily_order_2025W01.csv"
    write_csv(fix, ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price", "currency",
                    "requested_delivery_date"], [["O2", "2025-01-01", "C2", "P1", "50", "150", "KRW", "2025-01-15"]])
    os.utime(fix, (2_000_000_000, 2_000_000_000))
    _load(folder, warehouse, instance)
    orders = _orders(warehouse)
    assert orders.filter(pl.col("order_id") == "O2")["order_qty"].to_list() == [50.0]
    assert orders.height == 2


def test_a_range_run_loads_every_week_in_one_go(tmp_path, warehouse, instance):
    folder = write_small_export(tmp_path / "erp")
    resources = {"warehouse": warehouse, "erp": ErpExportFolder(erp_dir=str(folder))}
    dg.materialize(MASTERS, resources=resources, instance=instance)
    result = dg.materialize(
        [ASSETS["daily_order"]],
        resources=resources,
        instance=instance,
        tags={"dagster/asset_partition_range_start": "2024-12-23", "dagster/asset_partition_range_end": "2025-01-06"},
    )
    assert result.success
    assert _orders(warehouse)["order_id"].to_list() == ["O1", "O2", "O3", "O4"]


def test_an_unreadable_optional_table_fails_its_check_and_the_other_masters_still_load(tmp_path, warehouse, instance):
    folder = write_small_export(tmp_path / "erp")
    (folder / "production_line.csv").write_bytes(b"")
    resources = {"warehouse": warehouse, "erp": ErpExportFolder(erp_dir=str(folder))}
    result = dg.materialize(MASTERS, resources=resources, instance=instance, raise_on_error=False)
    assert result.success
    assert warehouse.row_count("product_master") == 3 and warehouse.row_count("bom") == 2
    failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert [c.asset_key.to_user_string() for c in failed] == ["production_line"]
    assert "production_line.csv" in failed[0].metadata["unreadable_file"].value


def test_an_unreadable_required_table_fails_with_the_file_name(tmp_path, warehouse, instance):
    folder = write_small_export(tmp_path / "erp")
    (folder / "customer.csv").write_bytes(b"")
    resources = {"warehouse": warehouse, "erp": ErpExportFolder(erp_dir=str(folder))}
    result = dg.materialize(MASTERS, resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "customer.csv" in str(failure.event_specific_data.error)
    assert warehouse.row_count("product_master") == 3  # the tables not needing it still load


def test_history_start_comes_from_the_environment(monkeypatch):
    import pytest

    from dsop_assets.partitions import history_start

    monkeypatch.setenv("DSOP_HISTORY_START", "2019-05-08")
    assert history_start() == date(2019, 5, 8)
    monkeypatch.setenv("DSOP_HISTORY_START", "May 2019")
    with pytest.raises(ValueError, match="DSOP_HISTORY_START"):
        history_start()

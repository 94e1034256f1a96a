"""A missing optional part is said once, with the way to get it, not silently left out."""

import polars as pl

from dsop_assets.forecast import evaluation


def test_peers_status_says_why_they_are_left_out(monkeypatch):
    monkeypatch.setenv("DSOP_FORECAST_PEERS", "0")
    assert evaluation.peers_status() == "turned off (DSOP_FORECAST_PEERS=0)"
    monkeypatch.delenv("DSOP_FORECAST_PEERS")
    monkeypatch.setattr(evaluation, "is_available", lambda: False)
    assert "pip install 'dsop[peers]'" in evaluation.peers_status()


def test_the_skip_is_logged_once_per_process(monkeypatch, warehouse, tmp_path):
    import dagster as dg

    from dsop_resources.erp_files import ErpExportFolder

    monkeypatch.setattr(evaluation, "is_available", lambda: False)
    monkeypatch.setattr(evaluation, "_SAID", set())
    warehouse.write("daily_order", pl.select(
        order_date=pl.date_range(pl.date(2023, 1, 2), pl.date(2024, 6, 30), "1d"), customer_id=pl.lit("C1"),
        product_id=pl.lit("P1"), order_qty=pl.lit(1.0)))
    assets = evaluation.evaluation_baseline_assets
    for key in ("2024-06-03", "2024-06-10"):
        result = dg.materialize([assets[0]], partition_key=key, resources={
            "warehouse": warehouse, "erp": ErpExportFolder(erp_dir=str(tmp_path))}, raise_on_error=True)
        meta = result.asset_materializations_for_node("forecast_baseline_weekly")[0].metadata
        assert "not installed" in meta["statsforecast_peers"].value
    assert evaluation._SAID == {evaluation.peers_status()}

"""The whole graph on tiny generated data through Dagster, and each SQL model against Polars."""
from datetime import date


import dagster as dg
import polars as pl
import pytest

from dsop_resources.erp.contract import ALL_TABLES


def test_every_stage_ran_and_is_recorded_in_the_instance(tiny_pipeline):
    instance, results = tiny_pipeline.instance, tiny_pipeline.results
    runs = {r.run_id: r for r in instance.get_runs()}
    assert all(stage.run_id in runs and runs[stage.run_id].is_success for stage in results)
    assert {s.job for s in results} >= {"erp_masters_job", "weekly_refresh_job", "monthly_refresh_job"}


def test_warehouse_holds_raw_tables_quarantine_and_summaries(tiny_pipeline):
    warehouse = tiny_pipeline.warehouse
    for table in [t.name for t in ALL_TABLES] + ["weekly_product_summary", "weekly_customer_summary",
                                                 "monthly_product_summary", "monthly_customer_summary",
                                                 "calendar_week", "exchange_rate", "economic_indicator"]:
        assert warehouse.row_count(table) > 0, table
    assert warehouse.table_exists("erp_rejected_rows")


def test_every_table_and_view_the_warehouse_holds_is_an_asset(tiny_pipeline):
    """What an analyst finds in the warehouse, the UI shows with its lineage: each table or view is an asset,
    or the table (``dsop/table``) or union view (``dsop/view``) an asset declares it writes its rows to."""
    graph = tiny_pipeline.defs.resolve_asset_graph()
    named = set()
    for key in graph.get_all_asset_keys():
        metadata = graph.get(key).metadata
        named |= {key.to_user_string(), *(str(metadata[m]) for m in ("dsop/table", "dsop/view") if m in metadata)}
    held = set(tiny_pipeline.warehouse.query(
        "select table_name from information_schema.tables where table_schema = 'main'")["table_name"])
    assert {"analytics_evaluation", "forecast_result", "demand_anomaly_evaluation"} <= held
    assert not held - named, f"tables no asset declares: {sorted(held - named)}"


def test_analytics_evaluation_view_unions_each_assets_evaluation(tiny_pipeline):
    warehouse = tiny_pipeline.warehouse
    by_asset = dict(warehouse.query("select asset, count(*) as n from analytics_evaluation group by asset").iter_rows())
    for asset in ("customer_segment", "customer_churn_risk", "product_recommendation", "demand_anomaly",
                  "inventory_policy_simulated"):
        own = warehouse.row_count(f"{asset}_evaluation")
        assert own > 0 and by_asset.get(asset) == own, asset


def test_raw_tables_hold_every_exported_row(tiny_pipeline):
    for table in ("daily_order", "daily_revenue", "purchase_order", "inventory", "product_master"):
        exported = pl.read_csv(tiny_pipeline.erp_dir / f"{table}.csv", infer_schema=False).height
        assert tiny_pipeline.warehouse.row_count(table) == exported, table


def _csv(pipeline, name, dates):
    frame = pl.read_csv(pipeline.erp_dir / name, infer_schema_length=0)
    return frame.with_columns([pl.col(c).str.to_date() for c in dates])


def _fx(pipeline) -> pl.DataFrame:
    rates = _csv(pipeline, "external/exchange_rate.csv", ["rate_date"]).with_columns(pl.col("krw_per_unit").cast(pl.Float64))
    return rates.sort("rate_date")


def _to_krw(frame: pl.DataFrame, fx: pl.DataFrame, day: str, amount: pl.Expr) -> pl.DataFrame:
    """Independent conversion: the latest published rate on or before the day (as-of join)."""
    joined = frame.sort(day).join_asof(fx, left_on=day, right_on="rate_date", by="currency", strategy="backward",
                                       check_sortedness=False)
    return joined.with_columns((amount * pl.when(pl.col("currency") == "KRW").then(1.0).otherwise(pl.col("krw_per_unit"))).alias("krw"))


def _in_history(frame: pl.DataFrame, column: str, first: date, last: date) -> pl.DataFrame:
    return frame.filter((pl.col(column) >= first) & (pl.col(column) <= last))


@pytest.fixture(scope="module")
def polars_orders(tiny_pipeline):
    orders = _csv(tiny_pipeline, "daily_order.csv", ["order_date"]).with_columns(
        pl.col("order_qty").cast(pl.Float64), pl.col("unit_price").cast(pl.Float64))
    return _to_krw(orders, _fx(tiny_pipeline), "order_date", pl.col("order_qty") * pl.col("unit_price"))


def test_weekly_product_summary_matches_polars(tiny_pipeline, polars_orders):
    expected = (
        polars_orders.group_by(pl.col("order_date").dt.truncate("1w").alias("week_start"), "product_id")
        .agg(pl.col("order_qty").sum(), pl.col("krw").sum().alias("order_amount_krw"), pl.len().alias("order_lines"))
        .sort("week_start", "product_id")
    )
    actual = tiny_pipeline.warehouse.query(
        "select week_start, product_id, order_qty, order_amount_krw, order_lines from weekly_product_summary "
        "where order_lines > 0 order by week_start, product_id")
    assert actual.height == expected.height
    assert actual["order_qty"].to_list() == pytest.approx(expected["order_qty"].to_list())
    assert actual["order_amount_krw"].to_list() == pytest.approx(expected["order_amount_krw"].to_list(), rel=1e-9)
    assert actual["order_lines"].cast(pl.Int64).to_list() == expected["order_lines"].cast(pl.Int64).to_list()


def test_weekly_customer_summary_matches_polars(tiny_pipeline, polars_orders):
    expected = (
        polars_orders.group_by(pl.col("order_date").dt.truncate("1w").alias("week_start"), "customer_id")
        .agg(pl.col("order_qty").sum(), pl.col("product_id").n_unique().alias("ordered_products"))
        .sort("week_start", "customer_id")
    )
    actual = tiny_pipeline.warehouse.query(
        "select week_start, customer_id, order_qty, ordered_products from weekly_customer_summary "
        "where order_lines > 0 order by week_start, customer_id")
    assert actual["order_qty"].to_list() == pytest.approx(expected["order_qty"].to_list())
    assert actual["ordered_products"].cast(pl.Int64).to_list() == expected["ordered_products"].cast(pl.Int64).to_list()


def test_monthly_product_summary_with_mom_change_matches_polars(tiny_pipeline, polars_orders):
    monthly = (
        polars_orders.group_by(pl.col("order_date").dt.truncate("1mo").alias("month_start"), "product_id")
        .agg(pl.col("order_qty").sum())
    )
    previous = monthly.with_columns(pl.col("month_start").dt.offset_by("1mo")).rename({"order_qty": "previous"})
    expected = monthly.join(previous, on=["month_start", "product_id"], how="left").with_columns(
        (pl.col("order_qty") - pl.col("previous").fill_null(0)).alias("change")
    ).sort("month_start", "product_id")
    actual = tiny_pipeline.warehouse.query(
        "select month_start, product_id, order_qty, order_qty_mom_change from monthly_product_summary "
        "where order_lines > 0 order by month_start, product_id")
    actual = actual.filter(pl.col("month_start") >= expected["month_start"].min())
    assert actual.height == expected.height
    assert actual["order_qty_mom_change"].to_list() == pytest.approx(expected["change"].to_list())


def test_monthly_customer_summary_shares_and_ranks_match_polars(tiny_pipeline, polars_orders):
    monthly = (
        polars_orders.group_by(pl.col("order_date").dt.truncate("1mo").alias("month_start"), "customer_id")
        .agg(pl.col("krw").sum())
        .with_columns((pl.col("krw") / pl.col("krw").sum().over("month_start")).alias("share"))
        .sort("month_start", "customer_id")
    )
    actual = tiny_pipeline.warehouse.query(
        "select month_start, customer_id, order_amount_share, order_amount_rank, is_top10 "
        "from monthly_customer_summary order by month_start, customer_id")
    joined = actual.join(monthly, on=["month_start", "customer_id"], how="inner")
    assert joined.height == monthly.height > 0  # customers with revenue but no orders add rows to the SQL side only
    assert joined["order_amount_share"].to_list() == pytest.approx(joined["share"].to_list())
    top = joined.filter(pl.col("order_amount_rank") == 1)
    best = joined.group_by("month_start").agg(pl.col("krw").max())
    assert top.join(best, on="month_start")["krw"].to_list() == pytest.approx(top.join(best, on="month_start")["krw_right"].to_list())
    assert joined.filter(pl.col("is_top10"))["order_amount_rank"].max() <= 10


def test_rerunning_a_week_changes_nothing(tiny_pipeline):
    import dagster as dg

    warehouse = tiny_pipeline.warehouse
    before = warehouse.query("select * from weekly_product_summary order by week_start, product_id")
    from dsop_jobs.pipeline import AGGREGATES

    job = tiny_pipeline.defs.resolve_job_def("weekly_refresh_job")
    graph = tiny_pipeline.defs.resolve_asset_graph()
    aggregates = [k for k in job.asset_layer.selected_asset_keys if graph.get(k).group_name in AGGREGATES]
    week = "2025-03-03"
    result = job.execute_in_process(partition_key=week, instance=tiny_pipeline.instance, asset_selection=aggregates)
    assert result.success
    after = warehouse.query("select * from weekly_product_summary order by week_start, product_id")
    assert after.equals(before)
    assert isinstance(result, dg.ExecuteInProcessResult)


def test_backtest_ran_through_dagster_with_ordered_bands_and_a_scorecard(tiny_pipeline):
    from tests.pipeline_fixture import BACKTEST_MONTHS, BACKTEST_WEEKS

    warehouse = tiny_pipeline.warehouse
    origins = dict(warehouse.query(
        "select cadence, count(distinct origin_date) as n from forecast_result group by cadence").rows())
    assert origins == {"weekly": BACKTEST_WEEKS, "monthly": BACKTEST_MONTHS}
    crossed = warehouse.query("select count(*) as n from forecast_result where p10 > p50 or p50 > p90 or p10 < 0")
    assert crossed["n"][0] == 0
    models = set(warehouse.query("select distinct model_id from forecast_accuracy")["model_id"])
    assert {"dsop_lgbm", "moving_average", "naive", "seasonal_naive", "croston_sba", "tsb", "oracle"} <= models
    event = tiny_pipeline.instance.get_latest_materialization_event(dg.AssetKey("forecast_accuracy"))
    targets = event.asset_materialization.metadata["targets"].value
    assert "weekly_h1_spl_ratio_to_ma" in targets and "monthly_h1_coverage_p10_p90" in targets

"""The analytics assets in the shared tiny pipeline, and a small beer game through Dagster."""

import dagster as dg
import polars as pl

from dsop_assets.anomaly import evaluate
from dsop_assets.simulation.beer_assets import beer_game_simulation, rho_partitions, tier_classifier
from dsop_resources import DuckDBWarehouse

TABLES = ["customer_segment", "customer_segment_profile", "customer_churn_risk", "customer_churn_backtest",
          "product_recommendation", "demand_anomaly", "inventory_policy_simulated", "analytics_evaluation"]


def test_analytics_tables_are_written(tiny_pipeline):
    warehouse = tiny_pipeline.warehouse
    for table in TABLES:
        assert warehouse.table_exists(table), table
    segments = warehouse.query("select * from customer_segment")
    assert segments["segment_name"].null_count() == 0 and segments.height > 0
    churn = warehouse.query("select * from customer_churn_risk")
    assert churn["risk_rank"].min() == 1
    policies = warehouse.query("select * from inventory_policy_simulated")
    assert policies.height > 0 and policies["sim_service"].is_between(0, 1).all()
    assert set(policies["preferred_policy"]) <= {"simulated", "analytic"}


def test_planted_anomalies_are_in_the_truth_and_alerts_have_messages(tiny_pipeline):
    truth = evaluate.read_planted(str(tiny_pipeline.erp_dir))
    assert set(truth["kind"]) == set(evaluate.KINDS)
    alerts = tiny_pipeline.warehouse.query("select * from demand_anomaly")
    assert alerts.height > 0 and alerts["message_ko"].null_count() == 0
    assert set(alerts["kind"]) <= set(evaluate.KINDS)
    # a level shift's alert has room to name the spike it reclassifies (the tiny demo may have none)
    assert {"reclassified_customer_id", "reclassified_week"} <= set(alerts.columns)
    evaluation = tiny_pipeline.warehouse.query("select metric from demand_anomaly_evaluation")
    assert "reclassified_spike" in set(evaluation["metric"])


def test_action_queue_ids_stay_unique(tiny_pipeline):
    actions = tiny_pipeline.warehouse.query("select action_id from action_queue")
    assert actions["action_id"].is_duplicated().sum() == 0


def test_small_beer_game_and_classifier(tmp_path, instance):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "beer.duckdb"))
    keys = rho_partitions.get_partition_keys()
    config = {"ops": {"beer_game_simulation": {"config": {"replications": 4, "weeks": 330}}}}
    for key in (keys[0], keys[-1]):
        result = dg.materialize([beer_game_simulation], partition_key=key, resources={"warehouse": warehouse},
                                run_config=config, instance=instance)
        assert result.success
    bull = warehouse.query("select * from beer_game_bullwhip where tier = 'factory'")
    assert bull.height == 2 and (bull["bullwhip"] > 1).all()
    # The bullwhip table is an asset of its own, with its row count and a check that passed.
    bullwhip = result.asset_materializations_for_node("beer_game_simulation")
    assert {m.asset_key.to_user_string() for m in bullwhip} == {"beer_game_simulation", "beer_game_bullwhip"}
    assert next(m for m in bullwhip if m.asset_key.path == ["beer_game_bullwhip"]).metadata["dagster/row_count"].value == 4
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
    # the classifier also reads demo order series; give it a few rows
    warehouse.write("daily_order", pl.DataFrame({
        "order_date": pl.date_range(pl.date(2024, 1, 1), pl.date(2026, 6, 1), "1w", eager=True)}).with_columns(
        pl.lit("C1").alias("customer_id"), (pl.int_range(pl.len()) % 7 + 1).cast(pl.Float64).alias("order_qty")))
    warehouse.write("purchase_order", pl.DataFrame(schema={"supplier_id": pl.String, "order_date": pl.Date,
                                                           "order_qty": pl.Float64}))
    result = dg.materialize([tier_classifier], resources={"warehouse": warehouse}, instance=instance,
                            selection=[tier_classifier])
    assert result.success
    accuracy = warehouse.query("select * from tier_classifier_accuracy where rho is null")
    assert set(accuracy["model"]) == {"mlp_raw_window", "lightgbm_window_features", "conv1d_random_kernels"}
    assert accuracy["accuracy"].max() > 0.4  # four tiers: chance is 0.25 (tiny data: the real figure is in the README)
    assert warehouse.query("select * from tier_classifier_accuracy where rho is not null").height == 6
    shapes = warehouse.query("select * from order_shape_classification")
    assert shapes["entity_id"].to_list() == ["C1"]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["shares_sum_to_one"] is True and set(checks) == {"shares_sum_to_one", "tier_accuracy_at_least_0_99"}


def test_shape_and_bullwhip_checks_find_broken_rows():
    from dsop_assets.simulation.beer_assets import bullwhip_problems, shape_problems

    tiers = ["retailer", "wholesaler", "distributor", "factory"]
    good = pl.DataFrame({"entity_type": ["customer"], "entity_id": ["C1"], "windows": [3], "resembles": ["retailer"],
                         "agreement": [0.5], "share_retailer": [0.5], "share_wholesaler": [0.25],
                         "share_distributor": [0.25], "share_factory": [0.0]})
    assert shape_problems(good) == []
    assert shape_problems(pl.concat([good, good])) == ["customer C1: twice"]
    assert shape_problems(good.with_columns(agreement=pl.lit(0.25))) == ["customer C1: shares or agreement off"]
    bull = pl.DataFrame({"rho": [0.0] * 4, "tier": tiers, "bullwhip": [1.0, 2.0, 3.0, 4.0]})
    assert bullwhip_problems(bull, [0.0]) == []
    assert bullwhip_problems(bull.head(3), [0.0]) == ["rho +0.0 factory: 0 rows"]
    assert bullwhip_problems(bull.with_columns(bullwhip=pl.lit(float("nan"))), [0.0])[0].endswith("bullwhip nan")


def test_customer_side_tables_are_assets_with_checks_that_catch_broken_rows(tiny_pipeline):
    from datetime import date

    from dsop_assets.customer.assets import backtest_problems, profile_problems

    # The side tables carry their own materialisation (row count) in the shared tiny run's instance.
    instance = tiny_pipeline.instance
    for key in ("customer_segment_profile", "customer_churn_backtest"):
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        assert event is not None, key
    m = date(2026, 1, 1)
    segmented = pl.DataFrame({"month_start": [m, m, m], "customer_id": ["A", "B", "C"]})
    good = pl.DataFrame({"month_start": [m, m], "customers": [2, 1], "revenue_share": [0.7, 0.3]})
    assert profile_problems(segmented, good) == []
    assert profile_problems(segmented, good.with_columns(pl.Series("customers", [2, 2])))  # C counted twice
    assert profile_problems(segmented, good.with_columns(pl.Series("revenue_share", [0.7, 0.2])))
    backtest = pl.DataFrame({"month_start": [m], "eval_month": [m], "customers": [10], "churned": [2],
                             "auc_model": [0.8], "auc_recency": [0.7], "precision_top10_model": [0.5]})
    assert backtest_problems(backtest) == []
    assert backtest_problems(backtest.with_columns(auc_model=pl.lit(1.2)))
    assert backtest_problems(backtest.with_columns(churned=pl.lit(11)))


def test_the_planted_check_does_not_judge_kinds_with_too_few_planted(tiny_pipeline):
    from dsop_assets.anomaly.assets import MIN_PLANTED, NOT_JUDGED, PLANTED_FOUND

    logs = [entry for r in tiny_pipeline.results for entry in tiny_pipeline.instance.all_logs(
        r.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    evaluations = [e for e in (entry.dagster_event.asset_check_evaluation_data for entry in logs)
                   if e.check_name == PLANTED_FOUND]
    assert evaluations and all(e.passed for e in evaluations)
    judged_on = [e for e in evaluations if e.metadata["verdicts"].value]  # runs whose weeks hold planted ones
    assert judged_on, [e.metadata for e in evaluations]
    for e in judged_on:
        # the tiny demo plants 2-4 of each kind: none is judged, so none can fail the check
        assert set(e.metadata["verdicts"].value.values()) == {NOT_JUDGED}
        assert NOT_JUDGED in e.description and str(MIN_PLANTED) in e.description

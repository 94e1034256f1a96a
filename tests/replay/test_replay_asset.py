"""decision_replay as a Dagster asset on the shared tiny pipeline's warehouse (a private copy)."""

import shutil

import dagster as dg
import polars as pl

from dsop_assets.planner.sources import dsop_policy, read_optional
from dsop_assets.replay.assets import CHECK, decision_replay
from dsop_assets.replay.policies import POLICIES
from dsop_resources import DuckDBWarehouse


def test_replay_asset_writes_every_policy_and_the_planner_reads_dsop(tiny_pipeline, tmp_path, instance):
    copy = tmp_path / "replay.duckdb"
    shutil.copyfile(tiny_pipeline.warehouse.path, copy)
    warehouse = DuckDBWarehouse(path=str(copy))
    # The tiny pipeline estimated stock for its last two decision weeks: one week can be replayed.
    result = dg.materialize([decision_replay], instance=instance, resources={"warehouse": warehouse},
                            run_config={"ops": {"decision_replay": {"config": {"weeks": 1}}}})
    assert result.success
    table = warehouse.read_table("decision_replay")
    assert sorted(table["policy"].to_list()) == sorted(POLICIES) and table["week_start"].n_unique() == 1
    assert (table["total_cost_krw"] - table["holding_cost_krw"] - table["setup_cost_krw"] - table["backlog_cost_krw"]
            - table["overtime_cost_krw"]).abs().max() < 1e-6 * max(table["total_cost_krw"].max(), 1.0)
    metadata = result.asset_materializations_for_node("decision_replay")[0].metadata
    assert "](data:image/png;base64," in metadata["chart"].value and "| dsop |" in metadata["summary"].value
    checks = result.get_asset_check_evaluations()
    assert [c.check_name for c in checks] == [CHECK]
    # The planner's KPI trend reads dsop's own rows by the canonical columns.
    mine = dsop_policy(read_optional(warehouse, "decision_replay").frame)
    assert mine.height == 1 and mine["fill_rate"][0] == table.filter(pl.col("policy") == "dsop")["fill_rate"][0]

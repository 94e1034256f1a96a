"""The tiny end-to-end pipeline, built once per test session and shared read-only."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from dsop_resources import DuckDBWarehouse

TINY_END = date(2025, 6, 29)  # a Sunday; ~1.5 years of history, crossing the 2024/25 year end
BACKTEST_WEEKS, BACKTEST_MONTHS = 6, 3


@dataclass
class TinyPipeline:
    erp_dir: Path
    warehouse: DuckDBWarehouse
    instance: dg.DagsterInstance
    defs: dg.Definitions
    results: list
    manifest: dict


def build_tiny_pipeline(root: Path, instance: dg.DagsterInstance) -> TinyPipeline:
    from dsop_jobs.demo_data.generator import generate
    from dsop_jobs.definitions import build_definitions
    from dsop_jobs.pipeline import demo_stages, run_history
    from dsop_resources.factory import core_resources

    erp_dir = root / "erp"
    manifest = generate(erp_dir, scale="tiny", seed=11, end_date=TINY_END)
    warehouse = DuckDBWarehouse(path=str(root / "tiny.duckdb"))
    defs = build_definitions(core_resources(erp_dir=str(erp_dir), warehouse=warehouse))
    stages = demo_stages(backtest_weeks=BACKTEST_WEEKS, backtest_months=BACKTEST_MONTHS, decision_weeks=2, replay_weeks=2,
                         beer_game=False,  # tests/analytics runs a small beer game of its own
                         planner=False)  # tests/planner builds its report, statuses and alerts from a clean start
    results = run_history(defs, instance, date.fromisoformat(manifest["start_date"]), TINY_END, stages)
    return TinyPipeline(erp_dir, warehouse, instance, defs, results, manifest)

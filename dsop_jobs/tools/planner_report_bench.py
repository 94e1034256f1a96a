"""Time the weekly report for one week on an existing warehouse (a benchmark, not a test).

    python -m dsop_jobs.tools.planner_report_bench --duckdb data/dsop.duckdb [--week 2026-11-23] [--out DIR]

Runs the ``weekly_planning_report`` asset through Dagster (in process, ephemeral instance) on a
copy of the warehouse, so the original is untouched, then opens the result in headless Chromium
when one is installed. Prints wall times and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg

from dsop_assets.planner.assets import weekly_planning_report
from dsop_resources import DuckDBWarehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", required=True)
    parser.add_argument("--week", help="Monday of the ISO week; default: the latest week in action_queue")
    parser.add_argument("--out", help="report folder (default: a temporary one)")
    parser.add_argument("--languages", default="ko,en")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsop_report_bench_") as tmp:
        copy = Path(tmp) / "bench.duckdb"
        shutil.copyfile(args.duckdb, copy)
        warehouse = DuckDBWarehouse(path=str(copy))
        week = date.fromisoformat(args.week) if args.week else \
            warehouse.query("select max(week_start) as w from action_queue")["w"][0]
        out = args.out or str(Path(tmp) / "reports")
        began = time.perf_counter()
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                [weekly_planning_report], partition_key=week.isoformat(), instance=instance,
                resources={"warehouse": warehouse},
                run_config={"ops": {"weekly_planning_report": {"config": {"languages": args.languages,
                                                                           "output_dir": out}}}})
        run_seconds = time.perf_counter() - began
        step = next(e for e in result.all_events if e.event_type_value == "STEP_SUCCESS")
        files = sorted(Path(out).glob("*.html"))
        figures = {"week": str(week), "run_seconds": round(run_seconds, 1),
                   "step_seconds": round(step.event_specific_data.duration_ms / 1000, 1),
                   "files": {f.name: f.stat().st_size for f in files}, "load_average": os.getloadavg()}
        from dsop_jobs.tools.report_browser import find_chromium, inspect

        if find_chromium():
            figures["open_ms"] = {f.name: round(inspect(f).load_ms, 1) for f in files}
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

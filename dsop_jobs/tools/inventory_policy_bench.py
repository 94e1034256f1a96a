"""The simulated (s, Q) policy of one week on an existing warehouse, outside Dagster.

``python -m dsop_jobs.tools.inventory_policy_bench DUCKDB_FILE WEEK`` (e.g. ``data/dsop_read.duckdb
2026-11-16`` after ``dsop demo``): share of materials within 2 points of the service target, the analytic
policy's service on the same paths, stock carried, and the time it took.
"""

from __future__ import annotations

import sys
import time
from datetime import date

import polars as pl

from dsop_assets.planning.config import PurchaseConfig
from dsop_assets.simulation.inventory_assets import TOLERANCE, policies_for_week
from dsop_resources.duckdb_warehouse import DuckDBWarehouse


def main(path: str, week: str) -> None:
    config = PurchaseConfig()
    began, cpu = time.perf_counter(), time.process_time()
    table = policies_for_week(DuckDBWarehouse(path=path), date.fromisoformat(week), config)
    took = f"{time.perf_counter() - began:.1f} s ({time.process_time() - cpu:.1f} s CPU)"
    if table.is_empty():
        print(f"no policies for {week}: {took}")
        return
    target = config.service_level
    print(f"{table.height} materials, {took}")
    print(f"simulated: within {TOLERANCE:.0%} of {target}: {((table['sim_service'] - target).abs() <= TOLERANCE).mean():.4f}, "
          f"service median {table['sim_service'].median():.4f} range {table['sim_service'].min():.4f}-{table['sim_service'].max():.4f}")
    print(f"analytic: service median {table['analytic_service'].median():.4f}, below target "
          f"{(table['analytic_service'] < target).mean():.4f}; stock simulated / analytic "
          f"{table['sim_avg_stock'].sum() / table['analytic_avg_stock'].sum():.4f}; simulated preferred "
          f"{(pl.col('preferred_policy') == 'simulated').mean().alias('x').pipe(table.select).item():.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

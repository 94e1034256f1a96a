"""Seed-scale benchmark of the production MILP: ``python -m dsop_jobs.bench_plan``.

Builds a random instance shaped like the seed data (about 300 finished goods on 6 lines over 12
weeks, lumpy order-driven demand, most products in lots, lines loaded near their regular hours)
and prints build time, solve time and the MIP gap HiGHS reports. ``--from-generated DIR`` plans
the demo generator's seed data instead. ``load`` is p50 hours over regular hours for an always
active product; with a quarter of weeks orderless the lines run at about 57 % of regular +
overtime on the default instance.
"""

from __future__ import annotations

import argparse
import os
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.production_model import plan_production


def random_instance(
    n_products: int = 300, n_lines: int = 6, n_weeks: int = 12, load: float = 0.9, seed: int = 7
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """demand, products, lines, opening_stock; ``load`` = mean p50 hours / regular hours."""
    rng = np.random.default_rng(seed)
    pids = [f"FG{i:04d}" for i in range(n_products)]
    line_ids = [f"L{j}" for j in range(n_lines)]
    line_of = rng.integers(0, n_lines, n_products)
    cost = np.round(rng.lognormal(np.log(50_000), 0.8, n_products), -2)
    hours = np.round(rng.uniform(0.05, 0.5, n_products), 3)
    lot = rng.choice([np.nan, 10.0, 20.0, 50.0, 100.0], n_products, p=[0.3, 0.2, 0.2, 0.2, 0.1])
    mean = rng.lognormal(np.log(60), 0.9, n_products)
    weeks = [date(2025, 1, 6) + timedelta(weeks=k) for k in range(n_weeks)]
    # Order-driven: some weeks carry no order at all.
    active = rng.random((n_products, n_weeks)) < 0.75
    p50 = np.round(active * rng.gamma(4.0, mean[:, None] / 4.0, (n_products, n_weeks)))
    spread = rng.uniform(0.15, 0.6, n_products)[:, None] * (p50 + mean[:, None] * 0.3)
    demand = pl.DataFrame(
        {
            "product_id": np.repeat(pids, n_weeks).tolist(),
            "week_start": weeks * n_products,
            "p10": np.maximum(p50 - spread, 0).ravel(),
            "p50": p50.ravel(),
            "p90": (p50 + spread).ravel(),
            "firm_qty": np.floor(p50 * (np.arange(n_weeks) < 3) * 0.6).ravel(),
        }
    )
    products = pl.DataFrame(
        {
            "product_id": pids,
            "product_type": ["finished_good"] * n_products,
            "unit_cost": cost,
            "unit_price": np.round(cost * rng.uniform(1.4, 2.5, n_products), -2),
            "production_line": [line_ids[j] for j in line_of],
            "hours_per_unit": hours,
            "lot_size": lot,
            "holding_cost_rate": [0.25] * n_products,
            "ordering_cost": [None] * n_products,
            "setup_cost": np.round(rng.uniform(100_000, 300_000, n_products), -3),
        },
        schema_overrides={"ordering_cost": pl.Float64},
    ).with_columns(pl.col("lot_size").fill_nan(None))
    regular = np.array([(hours * mean)[line_of == j].sum() / load for j in range(n_lines)])
    lines = pl.DataFrame(
        {
            "line_id": line_ids,
            "regular_hours_per_week": np.round(regular, 1),
            "overtime_hours_per_week": np.round(regular * 0.2, 1),
            "overtime_cost_per_hour": [60_000.0] * n_lines,
        }
    )
    opening = pl.DataFrame({"product_id": pids, "on_hand_qty": np.round(mean * rng.uniform(0, 1.5, n_products))})
    return demand, products, lines, opening


def generated_instance(
    directory: Path, n_weeks: int = 12
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The same four frames from ``dsop_jobs.demo_data.generator`` output (ERP CSVs in ``directory``).

    p50 is each finished good's mean weekly order quantity over the last 13 weeks (weeks without
    orders count as zero), flat over the horizon, with p10/p90 at -/+30 %; opening stock is the
    latest inventory snapshot.
    """
    products = pl.read_csv(directory / "product_master.csv").filter(pl.col("product_type") == "finished_good")
    lines = pl.read_csv(directory / "production_line.csv")
    orders = pl.read_csv(directory / "daily_order.csv", try_parse_dates=True).with_columns(
        pl.col("order_date").dt.truncate("1w").alias("week_start")
    )
    last = orders["week_start"].max()
    recent = orders.filter(pl.col("week_start") > last - timedelta(weeks=13))
    mean = (
        recent.group_by("product_id").agg((pl.col("order_qty").sum() / 13.0).alias("p50"))
        .join(products.select("product_id"), on="product_id").filter(pl.col("p50") > 0)
    )
    weeks = pl.DataFrame({"week_start": [last + timedelta(weeks=k + 1) for k in range(n_weeks)]})
    demand = mean.join(weeks, how="cross").select(
        "product_id", "week_start", (pl.col("p50") * 0.7).alias("p10"), "p50", (pl.col("p50") * 1.3).alias("p90")
    )
    stock = pl.read_csv(directory / "inventory.csv", try_parse_dates=True)
    opening = stock.filter(pl.col("snapshot_date") == stock["snapshot_date"].max()).select("product_id", "on_hand_qty")
    return demand, products, lines, opening


def plan_weeks(warehouse: Path, weeks: list[date], config: PlanConfig) -> None:
    """One line per week: the plan ``production_plan`` would write, its gap, gate and a digest of
    the plan rows, so two runs (an idle machine, a busy one) can be compared at a glance."""
    import hashlib
    import time

    from dsop_assets.planning.assets import load_plan_inputs, solve_plan
    from dsop_resources.duckdb_warehouse import DuckDBWarehouse

    store = DuckDBWarehouse(path=str(warehouse))
    for week in weeks:
        try:
            inputs = load_plan_inputs(store, week, config)
        except Exception as exc:  # noqa: BLE001 - e.g. a week whose stock estimate was never materialised
            print(f"{week}: cannot plan ({exc})")
            continue
        began = time.perf_counter()
        outcome = solve_plan(inputs, config)
        seconds = time.perf_counter() - began
        res = outcome.result
        if res is None:
            print(f"{week}: no plan ({outcome.failure})")
            continue
        digest = hashlib.sha256(res.plan.sort("product_id", "week_start").write_csv().encode()).hexdigest()[:12]
        print(f"{week}: gap {res.mip_gap:.2%}  objective {res.objective:,.0f}  avoidable backlog "
              f"{res.avoidable_backlog_qty:,.1f}  backlog units {res.plan['shortage_qty'].sum():,.1f}  "
              f"gate {'passed' if not outcome.gate else '; '.join(outcome.gate)}  time_capped {res.time_capped}  "
              f"plan {digest}  {seconds:.1f} s  load average {os.getloadavg()[0]:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--lines", type=int, default=6)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--load", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=PlanConfig().time_limit_seconds,
                        help="safety net only: the plan stops on its work limits (PlanConfig)")
    parser.add_argument("--from-generated", type=Path, metavar="DIR",
                        help="plan the demo generator's output in DIR instead of a random instance")
    parser.add_argument("--monolithic", action="store_true", help="one model for all lines")
    parser.add_argument("--warehouse", type=Path, metavar="DUCKDB",
                        help="plan the weeks of --week from this warehouse, as production_plan does (read-only copy)")
    parser.add_argument("--week", action="append", default=[], help="plan week (ISO Monday), repeatable")
    args = parser.parse_args()
    if args.warehouse:
        plan_weeks(args.warehouse, [date.fromisoformat(w) for w in args.week],
                   PlanConfig(horizon_weeks=args.weeks, time_limit_seconds=args.time_limit))
        return
    if args.from_generated:
        inst = generated_instance(args.from_generated, args.weeks)
        args.products, args.lines = inst[0]["product_id"].n_unique(), inst[2].height
    else:
        inst = random_instance(args.products, args.lines, args.weeks, args.load, args.seed)
    cfg = PlanConfig(horizon_weeks=args.weeks, time_limit_seconds=args.time_limit,
                     decompose_by_line=not args.monolithic)
    res = plan_production(*inst, cfg)
    util = res.lines["utilisation"]
    source = args.from_generated or f"random seed {args.seed}"
    print(f"instance: {args.products} products, {args.lines} lines, {args.weeks} weeks, {source}")
    print(f"variables: {res.n_variables} ({res.n_integer} integer)")
    print(f"build: {res.build_seconds:.2f} s  solve: {res.solve_seconds:.2f} s  ({res.termination_condition})  "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"objective: {res.objective:,.0f}  gap: {res.mip_gap:.4%}")
    print(f"line utilisation: mean {util.mean():.1%}, max {util.max():.1%}; "
          f"backlog units: {res.plan['shortage_qty'].sum():,.0f}")


if __name__ == "__main__":
    main()

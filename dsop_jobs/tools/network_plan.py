"""``dsop network``: plan a demo network end to end outside Dagster and print the figures.

Reads ``<data>/network/`` (the contract) and WTI from ``<data>/external/economic_indicator.csv``,
chooses the facilities, solves the horizon in rolling chunks, checks every hard rule independently,
and prints cost by component, CO2, fill, timings (generation, backend build, solve), peak memory and
the load average, so a figure always comes with the machine state it was measured in.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import polars as pl

from dsop_assets.network.checker import WEEKLY_FILL, WEEKLY_FILL_UNREACHABLE, check_plan
from dsop_assets.network.config import NetworkConfig
from dsop_assets.network.design import design_network
from dsop_assets.network.inputs import read_network
from dsop_assets.network.kpi import network_kpis
from dsop_assets.network.prep import prepare
from dsop_assets.network.rolling import solve_monolithic, solve_rolling


def read_wti_csv(path: Path) -> pl.DataFrame:
    """Latest vintage of each WTI (EIA RWTC) day from the demo's external indicator file."""
    if not path.exists():
        return pl.DataFrame(schema={"observation_date": pl.Date, "value": pl.Float64})
    econ = pl.read_csv(path, infer_schema_length=0).filter(pl.col("series_id") == "RWTC")
    return econ.sort("known_at").group_by("observation_date").agg(pl.col("value").last()).select(
        pl.col("observation_date").str.to_date(), pl.col("value").cast(pl.Float64)).sort("observation_date")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(data: Path, backend: str, months: int | None, compare: bool, out: Path | None, config: NetworkConfig) -> dict:
    load_before = os.getloadavg()
    began = time.perf_counter()
    inputs = read_network(data / "network")
    nd = prepare(inputs, read_wti_csv(data / "external" / "economic_indicator.csv"), config)
    facilities, design = design_network(nd)
    last = nd.chunks()[months - 1][1] if months else None
    printer = lambda s: print(  # noqa: E731
        f"[network] {s['chunk_start'][0]} .. {s['chunk_end'][0]}: vars {s['n_vars'][0]:,} int {s['n_integer'][0]:,} "
        f"gen {s['generate_s'][0]:.1f}s build {s['backend_build_s'][0]:.1f}s solve {s['solve_s'][0]:.1f}s "
        f"gap {s['mip_gap'][0]:.3%} {s['status'][0]} cost {s['total_cost_usd'][0]:,.0f}", file=sys.stderr, flush=True)
    plan = solve_rolling(nd, facilities, backend, printer, last=last)
    solved = time.perf_counter()
    violations = check_plan(nd, facilities, plan)
    kpi = network_kpis(nd, facilities, plan)
    summary = plan["summary"]
    result = {
        "chunks": summary.height, "days": int((summary["chunk_end"].max() - summary["chunk_start"].min()).days + 1),
        "wall_s": round(solved - began, 1), "generate_s": round(float(summary["generate_s"].sum()), 1),
        "backend_build_s": round(float(summary["backend_build_s"].sum()), 1), "solve_s": round(float(summary["solve_s"].sum()), 1),
        "peak_mib": round(_peak_mib()), "cpu_s": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime, 1), "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()], "backend": backend,
        "max_vars": int(summary["n_vars"].max()), "max_integer": int(summary["n_integer"].max()),
        "hit_time_limit": bool(summary["hit_time_limit"].any()), "hit_work_limit": bool(summary["hit_work_limit"].any()), "worst_gap": float(summary["mip_gap"].max()),
        "facilities": facilities.group_by("site_type").len().to_dicts(), "design": design,
        "violations": violations.filter(pl.col("rule") != WEEKLY_FILL_UNREACHABLE).height,
        "violations_by_rule": dict(violations.group_by("rule").len().sort("rule").iter_rows()),
        # Weeks below 95 % that no plan could lift to 95 % (the proof: fill_bound's maximum in the detail).
        "unreachable_weeks": [f"{r['day']}: {r['detail']}" for r in violations.filter(pl.col("rule") == WEEKLY_FILL_UNREACHABLE).iter_rows(named=True)],
        "weeks_below_95_detail": [f"{r['day']}: {r['detail']}" for r in violations.filter(pl.col("rule") == WEEKLY_FILL).head(10).iter_rows(named=True)],
        "kpi": kpi["headline"],
    }
    if compare:
        mono = solve_monolithic(nd, facilities, backend)["summary"]
        rolling_cost = float(summary["total_cost_usd"].sum() + summary["fill_slack_penalty_usd"].sum())
        mono_cost = float(mono["total_cost_usd"].sum() + mono["fill_slack_penalty_usd"].sum())
        # The monolithic model's objective is this cost with CO2 per kg (< 200 USD apart), so its proven
        # bound caps how much the rolling plan can lose to the monolithic optimum, whatever either gap.
        mono_bound = float(mono["model_bound_usd"][0])
        result["monolithic"] = {"rolling_cost_usd": round(rolling_cost), "monolithic_cost_usd": round(mono_cost),
                                "rolling_over_monolithic": round(rolling_cost / mono_cost - 1, 4),
                                "monolithic_bound_usd": round(mono_bound), "rolling_over_monolithic_bound": round(rolling_cost / mono_bound - 1, 4),
                                "monolithic_solve_s": round(float(mono["solve_s"][0]), 1), "monolithic_gap": float(mono["mip_gap"][0])}
    if out:
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in plan.items():
            frame.write_parquet(out / f"network_{name}.parquet")
        violations.write_csv(out / "network_violations.csv")
    return result


def main(args) -> int:
    config = NetworkConfig(serve_from_nearest=args.nearest, source_from_nearest=args.sources, mip_rel_gap=args.gap, mip_max_nodes=args.nodes,
                           prune_arcs=not getattr(args, "no_prune", False), time_limit_s=getattr(args, "time_limit", NetworkConfig.time_limit_s))
    result = run(Path(args.data), args.backend, args.months, args.compare, Path(args.out) if args.out else None, config)
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["violations"] == 0 else 1

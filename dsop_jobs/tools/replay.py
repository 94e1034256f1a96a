"""``python -m dsop_jobs.tools.replay``: the decision replay on a warehouse, printed (nothing is written).

    DSOP_DUCKDB_PATH=data/dsop.duckdb python -m dsop_jobs.tools.replay --weeks 26

needs a warehouse where forecast_weekly ran for the replayed origins and daily_inventory_estimated
for the first of them (``dsop demo`` then ``dagster asset materialize --select
forecast_baseline_weekly,forecast_weekly,forecast_model_weekly,forecast_feature_importance_weekly,
daily_inventory_estimated,inventory_reconciliation --partition <first origin>``: the side tables are
written by the same steps, so Dagster wants them selected together).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date

import polars as pl

from dsop_assets.planning.config import PlanConfig
from dsop_assets.replay.assets import markdown
from dsop_assets.replay.data import load_replay_data, replay_origins
from dsop_assets.replay.policies import POLICIES
from dsop_assets.replay.run import run_replay, summarise, verdict


def _override(text: str) -> tuple[str, str]:
    """``FIELD=VALUE`` as given; PlanConfig's validation turns the text into the field's type
    ("0.02" -> float, "false" -> bool) and names an unknown field or a bad value."""
    key, sep, value = text.partition("=")
    if not sep:
        raise SystemExit(f"--plan wants FIELD=VALUE, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dsop_jobs.tools.replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("DSOP_DUCKDB_PATH", "data/dsop.duckdb"))
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--last-origin", help="ISO Monday of the last decision week (default: the latest usable)")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--plan", action="append", default=[], metavar="FIELD=VALUE", help="PlanConfig override")
    parser.add_argument("--csv", help="also write the per-week table here")
    parser.add_argument("--act-on-refused", action="store_true",
                        help="diagnosis: make dsop act on plans its gate refused (the product never does)")
    args = parser.parse_args(argv)

    from dsop_resources import DuckDBWarehouse

    warehouse = DuckDBWarehouse(path=args.db)
    config = PlanConfig.from_dict(dict(_override(o) for o in args.plan))
    origins = replay_origins(warehouse, args.weeks, date.fromisoformat(args.last_origin) if args.last_origin else None)
    began = time.perf_counter()
    data = load_replay_data(warehouse, origins, config)
    loaded = time.perf_counter() - began

    class Log:
        def info(self, msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

    run = run_replay(data, config, policies=tuple(args.policies.split(",")), log=Log(),
                     act_on_refused=args.act_on_refused)
    total = time.perf_counter() - began
    summary = summarise(run.table)
    pl.Config.set_tbl_rows(200)
    print(f"decision weeks {origins[0]} .. {origins[-1]} ({len(origins)}), executed weeks +7 days")
    print(markdown(summary))
    print()
    print(verdict(summary))
    for policy, secs in run.seconds.items():
        if secs:
            print(f"{policy}: decision seconds mean {sum(secs) / len(secs):.1f}, max {max(secs):.1f}")
    with open("/proc/loadavg") as f:
        print(f"data load {loaded:.1f}s, whole replay {total:.1f}s, load average {f.read().split()[:3]}")
    if args.csv:
        run.table.write_csv(args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``dsop``: the things that are not Dagster's job (generate demo data, run the demo, benchmark).

Materialising and backfilling stay with the Dagster CLI and UI, on the same definitions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path


ENV_FILE = ".env"
# What the UI and the Dagster CLI must share with `dsop demo` to show its runs and its partitions.
SHARED_SETTINGS = ("DAGSTER_HOME", "DSOP_ERP_DIR", "DSOP_DUCKDB_PATH", "DSOP_HISTORY_START", "DSOP_GO_LIVE",
                   "DSOP_NETWORK_START")
DEMO_NETWORK = "tiny"  # the supply-network inputs `dsop demo` writes beside the ERP export (20 days, 5 cities)


def load_env_file(folder: Path = Path(".")) -> None:
    """Settings from ``folder/.env`` for those the shell does not set (the shell wins here; Dagster's
    own CLI lets ``.env`` win, and reads the same file, so both agree unless the shell says otherwise)."""
    path = folder / ENV_FILE
    if path.is_file():
        from dotenv import dotenv_values

        for name, value in dotenv_values(path).items():
            if value is not None:
                os.environ.setdefault(name, value)


def write_env_file(values: dict[str, str], folder: Path = Path(".")) -> Path:
    """Set ``values`` in ``folder/.env``, keeping every other line of it.

    ``dagster dev``, ``dagster asset materialize`` and the code servers they start load ``.env`` from
    the folder they run in, so after ``dsop demo`` they use its instance and data, and partitions that
    start where its data starts (DSOP_HISTORY_START), without a prefix on each command."""
    path = folder / ENV_FILE
    lines = path.read_text().splitlines() if path.is_file() else []
    kept = [line for line in lines if line.split("=", 1)[0].strip().removeprefix("export ").strip() not in values]
    path.write_text("\n".join(kept + [f"{name}={_quoted(value)}" for name, value in values.items()]) + "\n")
    return path


def _quoted(value: str) -> str:
    """Double-quoted, so a path with spaces or a '#' reads back whole (dotenv unescapes backslash and quote)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def share_settings() -> Path:
    """The demo's settings, paths made absolute, into ``./.env`` for the UI and the Dagster CLI."""
    for name in ("DSOP_ERP_DIR", "DSOP_DUCKDB_PATH"):
        os.environ[name] = str(Path(os.environ[name]).resolve())
    return write_env_file({name: os.environ[name] for name in SHARED_SETTINGS if name in os.environ})


def _default_env() -> None:
    """Settings the demo needs, defaulting to folders under the current directory."""
    os.environ.setdefault("DSOP_ERP_DIR", "data/erp")
    os.environ.setdefault("DSOP_DUCKDB_PATH", "data/dsop.duckdb")
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    shipped = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
    existing = config.read_text() if config.exists() else None
    if existing is None:
        config.write_text(shipped.read_text() if shipped.exists() else "telemetry:\n  enabled: false\n")
    elif "run_monitoring" not in existing:
        print(f"[dsop] {config} predates run monitoring: a killed run would hold the warehouse pool for "
              f"ever. Merge the run_launcher and run_monitoring blocks of {shipped} into it.", file=sys.stderr)
    elif "WarmRunLauncher" not in existing and "LocalHealthCheckedRunLauncher" in existing:
        print(f"[dsop] {config} predates the warm run worker: each run the UI or a schedule launches re-imports "
              f"everything (~4 s). Set its run_launcher class to WarmRunLauncher, as in {shipped}.", file=sys.stderr)


def cmd_generate(args: argparse.Namespace) -> int:
    from dsop_jobs.demo_data.generator import generate

    manifest = generate(
        Path(args.out),
        scale=args.scale,
        seed=args.seed,
        end_date=date.fromisoformat(args.end_date) if args.end_date else None,
        language=args.language,
        encoding=args.encoding,
        inject_errors=args.inject_errors,
    )
    from dsop_jobs.bench import source_rows

    rows = source_rows(manifest)
    print(f"[dsop] wrote {args.out}: {manifest['start_date']} .. {manifest['end_date']}, {rows:,} rows")
    print(f"[dsop] partitions must start where this data starts: export DSOP_HISTORY_START={manifest['history_start']}")
    return 0


def _ensure_demo_data(erp_dir: Path, scale: str, seed: int, end_date: str | None) -> dict:
    from dsop_jobs.demo_data.generator import generate

    manifest_path = erp_dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        wanted_end = end_date or manifest["end_date"]
        if (manifest["scale"], manifest["seed"], manifest["end_date"]) == (scale, seed, wanted_end) \
                and "network_start" in manifest:
            print(f"[dsop] reusing demo data in {erp_dir} ({scale}, seed {seed})", file=sys.stderr)
            return manifest
    print(f"[dsop] generating {scale} demo data into {erp_dir} ...", file=sys.stderr, flush=True)
    began = time.perf_counter()
    manifest = generate(erp_dir, scale=scale, seed=seed, end_date=date.fromisoformat(end_date) if end_date else None,
                        network=DEMO_NETWORK)
    print(f"[dsop] generated in {time.perf_counter() - began:.1f}s", file=sys.stderr)
    return manifest


def _history_start(manifest: dict) -> str:
    """The data's first day as DSOP_HISTORY_START, unless the user set one (then rows before it are
    quarantined with that reason, and the loader warns with their count)."""
    first = manifest.get("history_start") or manifest["start_date"]
    given = os.environ.setdefault("DSOP_HISTORY_START", first)
    if given != first:
        print(f"[dsop] DSOP_HISTORY_START={given} is set; this data starts on {first}", file=sys.stderr)
    return given


def _go_live(manifest: dict) -> str:
    """The data's latest complete ISO week as DSOP_GO_LIVE, unless the user set one: the demo decides
    for that week, and keeps forecasts for the backtest origins before it."""
    last = date.fromisoformat(manifest["end_date"]) - timedelta(days=6)
    latest_complete_week = (last - timedelta(days=last.weekday())).isoformat()
    given = os.environ.setdefault("DSOP_GO_LIVE", latest_complete_week)
    if given != latest_complete_week:
        print(f"[dsop] DSOP_GO_LIVE={given} is set; this data's latest complete week is {latest_complete_week}",
              file=sys.stderr)
    return given


def cmd_demo(args: argparse.Namespace) -> int:
    _default_env()
    erp_dir = Path(os.environ["DSOP_ERP_DIR"])
    manifest = _ensure_demo_data(erp_dir, args.scale, args.seed, args.end_date)
    # Partitions start where the data starts, decisions at go-live (read when the definitions load, so
    # set them first).
    _history_start(manifest)
    _go_live(manifest)
    # The network plan's monthly partitions start with its inputs' first month.
    os.environ.setdefault("DSOP_NETWORK_START", manifest["network_start"][:8] + "01")
    env_file = share_settings()
    print(f"[dsop] wrote {', '.join(SHARED_SETTINGS)} to {env_file.resolve()}: `dagster dev` and the Dagster "
          "CLI run here read it", file=sys.stderr)
    from dsop_assets.gc_pause import imports_without_gc

    with imports_without_gc():  # imports and the instance's storage: see dsop_assets/gc_pause.py
        import dagster as dg

        from dsop_jobs.definitions import defs
        from dsop_jobs.pipeline import demo_stages, run_history
        from dsop_jobs.report import describe_warehouse

        instance = dg.DagsterInstance.get()
    began = time.perf_counter()
    run_history(defs, instance, date.fromisoformat(manifest["start_date"]), date.fromisoformat(manifest["end_date"]),
                demo_stages(network=True))
    print(f"[dsop] demo runs finished in {time.perf_counter() - began:.1f}s", file=sys.stderr)
    from dsop_assets.forecast.evaluation import peers_status

    if peers_status() != "included":
        print(f"[dsop] skipped: statsforecast peers in the forecast comparison: {peers_status()}", file=sys.stderr)
    print(file=sys.stderr)
    print(describe_warehouse(defs))
    from dsop_resources.settings import duckdb_read_path

    read_copy = duckdb_read_path() or os.environ["DSOP_DUCKDB_PATH"]
    print(
        "\nOpen the UI from this folder (the runs above are recorded there; .env holds the settings):\n"
        "  dagster dev -w workspace.yaml\n"
        "Query the published read-only copy (safe while a refresh runs):\n"
        f"  python -c \"import duckdb; print(duckdb.connect('{read_copy}', read_only=True)"
        ".sql('select * from risk_score order by total_score desc limit 10'))\""
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from dsop_jobs.bench import run_bench

    from dsop_jobs.bench import LARGE_STAGES, STAGES

    stages = tuple(args.stages.split(",")) if args.stages else (STAGES if args.scale != "large" else LARGE_STAGES)
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown bench stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")
    return run_bench(args.scale, args.seed, Path(args.workdir) if args.workdir else None, stages)


def cmd_serve(args: argparse.Namespace) -> int:
    from dsop_jobs.serve import serve

    os.environ.setdefault("DSOP_ERP_DIR", "data/erp")
    os.environ.setdefault("DSOP_DUCKDB_PATH", "data/dsop.duckdb")
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    return serve(home, Path(args.instance) if args.instance else None, args.host, args.port, args.grpc_port,
                 args.pg_schema)


def cmd_forecast_real(args: argparse.Namespace) -> int:
    from dsop_jobs.tools.forecast_real import main as forecast_real

    return forecast_real(args.args)


def cmd_network(args: argparse.Namespace) -> int:
    from dsop_jobs.tools.network_plan import main as network_main

    return network_main(args)


def main(argv: list[str] | None = None) -> int:
    from dsop_assets.network.config import NetworkConfig  # a tiny dataclass: the flags show its defaults

    parser = argparse.ArgumentParser(prog="dsop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a deterministic demo ERP export + external indicators")
    gen.add_argument("--scale", choices=["tiny", "seed", "large", "network"], default="seed")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--end-date", help="last day of history (YYYY-MM-DD); default: last Sunday")
    gen.add_argument("--out", required=True)
    gen.add_argument("--language", choices=["en", "ko"], default="en", help="file names and headers")
    gen.add_argument("--encoding", choices=["utf-8", "cp949"], default="utf-8")
    gen.add_argument("--inject-errors", action="store_true", help="add contract violations (for tests)")
    gen.set_defaults(func=cmd_generate)

    net = sub.add_parser("network", help="plan the supply network of a generated data set (issue #14) and print its KPIs")
    net.add_argument("--data", required=True, help="folder written by `dsop generate --scale network`")
    net.add_argument("--backend", choices=["pyomo", "highspy", "lp_fix"], default="lp_fix",
                     help="pyomo/highspy: the chunk MILP by branch and bound; lp_fix: relax, fix modes, then branch")
    net.add_argument("--months", type=int, help="plan only the first N chunks (default: the whole horizon)")
    net.add_argument("--compare", action="store_true", help="also solve the horizon as one model (small instances)")
    net.add_argument("--nearest", type=int, default=NetworkConfig.serve_from_nearest,
                     help="cities are served from their N cheapest-to-reach warehouses, their own counting as one (0: all)")
    net.add_argument("--sources", type=int, default=NetworkConfig.source_from_nearest,
                     help="warehouses are supplied by their N cheapest-to-reach plants (0: all)")
    net.add_argument("--gap", type=float, default=0.01, help="relative MIP gap at which a chunk stops")
    net.add_argument("--nodes", type=int, default=200, help="branch-and-bound node limit per chunk")
    net.add_argument("--time-limit", type=float, default=NetworkConfig.time_limit_s,
                     help="safety net in seconds per solve (a result that hits it says so); raise it when a run must "
                          "stop on its node and gap limits only, e.g. for --compare under load")
    net.add_argument("--no-prune", action="store_true", help="create every arc and fix the disallowed ones (for comparison)")
    net.add_argument("--out", help="write the plan tables as Parquet here")
    net.set_defaults(func=cmd_network)

    demo = sub.add_parser("demo", help="generate seed data and materialise every asset for the full history")
    demo.add_argument("--scale", choices=["tiny", "seed", "large"], default="seed")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--end-date", help="last day of history; default: last Sunday")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="time generation, raw load and full materialisation")
    bench.add_argument("--scale", choices=["tiny", "seed", "large"], default="seed")
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--workdir", help="keep the benchmark's files here (default: a temp folder)")
    bench.add_argument("--stages", help="comma-separated subset of generate,raw_load,aggregates,warm_aggregates,"
                       "weekly_refresh,warm_refresh,forecasts,decisions,evaluation (warm_*: launched into a warm run "
                       "worker, as the daemon launches runs; default: all; large: generate,raw_load,aggregates,warm_aggregates)")
    bench.set_defaults(func=cmd_bench)

    srv = sub.add_parser("serve", help="the Dagster deployment on one machine: gRPC code server, webserver and "
                         "daemon on one instance (default: deploy/dagster_postgres.yaml; see docs/deployment.md)")
    srv.add_argument("--instance", help="instance config to copy to $DAGSTER_HOME/dagster.yaml (default: keep the "
                     "one there, else deploy/dagster_postgres.yaml)")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=3000, help="webserver port")
    srv.add_argument("--grpc-port", type=int, help="code server port (default: a free one)")
    srv.add_argument("--pg-schema", help="keep Dagster's tables in this Postgres schema (search_path)")
    srv.set_defaults(func=cmd_serve)

    real = sub.add_parser("forecast-real", help="the monthly forecaster vs AutoETS/AutoTheta on real series "
                          "(CSV: series_id, split, t, value); options: dsop forecast-real PATH --help")
    real.add_argument("args", nargs=argparse.REMAINDER)
    real.set_defaults(func=cmd_forecast_real)

    from dsop_jobs.action_cli import add_parser as add_action_parser

    add_action_parser(sub)

    args = parser.parse_args(argv)
    if args.command in ("serve", "action"):
        # They work on what an earlier `dsop demo` here set up (its instance, warehouse, history start).
        # demo and generate decide those settings; bench and network use folders of their own.
        load_env_file()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""``dsop bench``: wall time and peak memory of generation, raw load and full materialisation.

Each stage runs in a child process so its peak RSS (``wait4`` rusage) is its own, not the sum of
what the stages before it left behind. Right after the raw load and the aggregates, the same data
work runs as a plain DuckDB script (``bench_yardstick``) on the same exports, and the table shows
dsop's time as a multiple of it: ratios hold on a busy machine where absolute seconds do not.
Each stage also reports its CPU seconds (user + system, all threads, from the same rusage): on a
machine shared with other work, wall time stretches with the load average, CPU time much less.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

# weekly_refresh: the steady state, one new week through raw -> marts -> feature stores on the
# history the aggregates stage built, timed from process start as the CLI runs it. warm_aggregates and
# warm_refresh: the same work launched through the instance's run launcher into a warm run worker that
# is already serving, as the UI (a backfill as one run per job), a schedule or a sensor launch it once
# the daemon runs (timed from the first run's creation to the last one's end; CPU and peak are the run
# processes' own; see bench_warm).
STAGES = ("generate", "raw_load", "aggregates", "warm_aggregates", "weekly_refresh", "warm_refresh", "forecasts",
          "decisions", "evaluation")
# Large scale by default: the history build from the CLI and through the warm worker (the UI's path).
LARGE_STAGES = ("generate", "raw_load", "aggregates", "warm_aggregates")
# dsop stage -> the yardstick's scope doing the same work
YARDSTICK = {"raw_load": "raw", "aggregates": "all", "warm_aggregates": "all"}
WARM = {"warm_aggregates": "aggregates", "warm_refresh": "weekly_refresh"}  # -> the CLI stage doing the same work


def _run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of one stage's process."""
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "dsop_jobs.bench", *args], env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench stage {args[0]} failed (exit {os.waitstatus_to_exitcode(status)})")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # KiB -> MiB on Linux


def step_seconds(dagster_home: Path, since: float) -> tuple[float, float]:
    """Seconds the runs created since ``since`` spent in quality-check steps (``*_quality``; the first
    check of a process also pays GX's import) and in the feature-store steps (which the plain script does
    not build), from their step start and end events."""
    import dagster as dg
    from dagster._core.storage.dagster_run import RunsFilter

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)  # the shipped instance config reads it
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            runs = instance.get_run_records(RunsFilter(created_after=datetime.fromtimestamp(since, timezone.utc)))
            steps = [s for r in runs for s in instance.get_run_step_stats(r.dagster_run.run_id)
                     if s.start_time and s.end_time]
            checks = sum(s.end_time - s.start_time for s in steps if s.step_key.endswith("_quality"))
            stores = sum(s.end_time - s.start_time for s in steps
                         if s.step_key.startswith("feature_store_") and not s.step_key.endswith("_quality"))
            return checks, stores
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous


def source_rows(manifest: dict) -> int:
    """ERP rows the generator wrote (external indicators and ground truth not counted)."""
    files = manifest.get("files", {})
    return sum(n for name, n in files.items() if "/" not in name)


def run_bench(scale: str, seed: int, workdir: Path | None, stages: tuple[str, ...] = STAGES) -> int:
    # Absolute: the stages run with DAGSTER_HOME under it, which Dagster refuses as a relative path.
    root = (workdir or Path(tempfile.mkdtemp(prefix="dsop-bench-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env |= {
        "DSOP_ERP_DIR": str(root / "erp"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "PYTHONWARNINGS": "ignore",
    }
    (root / "dagster_home").mkdir(exist_ok=True)
    # The shipped instance config, so the figures are those of a deployment (see deploy/).
    shipped = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
    (root / "dagster_home" / "dagster.yaml").write_text(shipped.read_text())
    print(f"[bench] scale={scale} seed={seed} workdir={root}", file=sys.stderr)
    results = []
    env["DSOP_DUCKDB_PATH"] = str(root / "bench.duckdb")
    loads = [os.getloadavg()[0]]
    if (root / "erp" / "manifest.json").exists():  # a reused workdir: its data's history start
        env["DSOP_HISTORY_START"] = json.loads((root / "erp" / "manifest.json").read_text())["history_start"]
    for stage in stages:
        if stage in ("aggregates", "warm_aggregates"):  # from an empty warehouse; later stages reuse it
            Path(env["DSOP_DUCKDB_PATH"]).unlink(missing_ok=True)
        began = time.time()
        seconds, peak_mib, cpu = _run_child([stage, scale, str(seed)], env)
        if stage in WARM:  # the runs' own figures, not the worker's start
            seconds, peak_mib, cpu = json.loads((root / f"{stage}.json").read_text())
        checks, stores = step_seconds(root / "dagster_home", began) if stage != "generate" else (0.0, 0.0)
        if stage == "generate":  # partitions start where the generated data starts
            env["DSOP_HISTORY_START"] = json.loads((root / "erp" / "manifest.json").read_text())["history_start"]
        plain = _run_child([f"yardstick_{YARDSTICK[stage]}", scale, str(seed)], env) if stage in YARDSTICK else None
        results.append((stage, seconds, peak_mib, cpu, plain, checks, stores))
        loads.append(os.getloadavg()[0])
        versus = (f"   plain DuckDB {plain[0]:6.1f} s ({plain[2]:.1f} s CPU)   ratio {seconds / plain[0]:5.1f}x"
                  f" ({cpu / plain[2]:.1f}x CPU)" if plain else "")
        if plain and stores:  # the same work as the plain script: the stage less its feature-store steps
            versus += f"   feature stores {stores:.1f} s, ratio without them {(seconds - stores) / plain[0]:.1f}x"
        print(f"[bench] {stage:<22} {seconds:8.1f} s ({cpu:.1f} s CPU)   peak {peak_mib:8.0f} MiB   "
              f"checks {checks:.1f} s ({checks / seconds:.0%}){versus}", file=sys.stderr, flush=True)
    manifest = json.loads((root / "erp" / "manifest.json").read_text())
    rows = source_rows(manifest)
    print("\n| stage | wall time (s) | CPU (s) | peak memory (MiB) | check steps (s, share of wall) | plain DuckDB (s) "
          "| plain CPU (s) | plain peak (MiB) | ratio | CPU ratio | feature-store steps (s) | ratio without them |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for stage, seconds, peak, cpu, plain, checks, stores in results:
        extra = (f"{plain[0]:.1f} | {plain[2]:.1f} | {plain[1]:.0f} | {seconds / plain[0]:.1f}x | {cpu / plain[2]:.1f}x"
                 f" | {stores:.1f} | {(seconds - stores) / plain[0]:.1f}x" if plain else " | | | | | | ")
        print(f"| {stage} | {seconds:.1f} | {cpu:.1f} | {peak:.0f} | {checks:.1f} ({checks / seconds:.0%}) | {extra} |")
    print(f"\n{scale} scale, seed {seed}: {rows:,} source rows, history {manifest['start_date']} .. {manifest['end_date']}; "
          f"load average {min(loads):.1f}..{max(loads):.1f} during the run ({os.cpu_count()} cores)")
    if {"aggregates", "warm_aggregates"} & set(stages):
        from dsop_jobs.bench_yardstick import compare_marts

        checks = compare_marts(root / "yardstick_all.duckdb", Path(env["DSOP_DUCKDB_PATH"]))
        same = all(ok for *_, ok in checks)
        print(f"marts of dsop and the plain script: {'identical row counts and sums' if same else 'DIFFER'} "
              f"({', '.join(f'{t} {n:,}' for t, n, _, _ in checks)})")
    if workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _stage(stage: str, scale: str, seed: int) -> None:
    if stage == "generate":
        from dsop_jobs.demo_data.generator import generate

        generate(Path(os.environ["DSOP_ERP_DIR"]), scale=scale, seed=seed)
        return
    if stage.startswith("yardstick_"):
        from dsop_jobs.bench_yardstick import run

        scope = stage.removeprefix("yardstick_")
        run(Path(os.environ["DSOP_ERP_DIR"]), Path(os.environ["DSOP_DUCKDB_PATH"]).with_name(f"{stage}.duckdb"), scope)
        return
    from dsop_assets.gc_pause import imports_without_gc

    # As the CLI does (dsop_jobs/cli.py): imports and the instance's storage without the collector.
    with imports_without_gc():
        import dagster as dg

        from dsop_jobs.definitions import defs
        from dsop_jobs.jobs import MASTER_JOB, MONTHLY_JOB, WEEKLY_JOB
        from dsop_jobs.pipeline import AGGREGATES, Stage, demo_stages, run_history

        instance = dg.DagsterInstance.get()
    manifest = json.loads((Path(os.environ["DSOP_ERP_DIR"]) / "manifest.json").read_text())
    start, end = date.fromisoformat(manifest["start_date"]), date.fromisoformat(manifest["end_date"])
    if stage == "raw_load":
        # Raw tables alone, into a scratch file: the load figure without the SQL layer.
        from dsop_resources import DuckDBWarehouse
        from dsop_resources.factory import core_resources
        from dsop_jobs.definitions import build_definitions

        scratch = str(Path(os.environ["DSOP_DUCKDB_PATH"]).with_name("raw_only.duckdb"))
        Path(scratch).unlink(missing_ok=True)
        raw_defs = build_definitions(core_resources(warehouse=DuckDBWarehouse(path=scratch)))
        raw = ("erp_raw",)
        run_history(raw_defs, instance, start, end, [Stage("raw masters", MASTER_JOB, raw),
                                                     Stage("raw weekly", WEEKLY_JOB, raw),
                                                     Stage("raw monthly", MONTHLY_JOB, raw)])
        return
    stages = demo_stages()
    # By stage name: the forecasts alone (the backtest figure), then what decides and what evaluates.
    first = {name: i for i, name in enumerate(s.name for s in stages)}
    forecasts, risk = first["weekly forecasts (backtest origins)"], first["risk grades for the forecast origins"]
    evaluation = first["forecast evaluation"]
    # aggregates: masters, weekly and monthly history (what the plain DuckDB script also builds); the stock
    # estimate over the history goes with the decisions that read it; evaluation scores the forecasts.
    chosen = {"aggregates": stages[:3], "weekly_refresh": [Stage("one new week", WEEKLY_JOB, AGGREGATES, 1, True)],
              "forecasts": stages[forecasts:risk],
              "decisions": stages[3:forecasts] + stages[risk:evaluation] + stages[evaluation + 1:],
              "evaluation": [stages[evaluation]]}
    if stage in WARM:  # the same runs, launched into the warm run worker
        from dsop_jobs.bench_warm import run_in_warm_worker

        figures = run_in_warm_worker(defs, instance, start, end, chosen[WARM[stage]])
        (Path(os.environ["DAGSTER_HOME"]).parent / f"{stage}.json").write_text(json.dumps(figures))
        return
    run_history(defs, instance, start, end, chosen[stage])


if __name__ == "__main__":
    _stage(sys.argv[1], sys.argv[2], int(sys.argv[3]))
